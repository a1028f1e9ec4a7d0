// The flows testcontainers-style libraries run through docker-py and
// dockerode, on berthd on berth-engine: create with labels, an environment,
// an anonymous volume and a port on 127.0.0.1 picked by berthd; wait for a
// log line (logs follow); the port looked up through inspect and answering;
// exec with stdout and stderr apart (demux) and its exit code; a tar copied
// in (put_archive) and out (get_archive) with its owners and modes; list by
// label; remove with force and v, the anonymous volume gone with it. berthd
// runs in a network namespace of the test's (./netfixture.ts).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ENGINE_BIN, startEngine, type Engine } from '../engine/helpers.js';
import { waitUntil } from '../../helpers/wait.js';
import { rawRequest } from '../../helpers/berthd.js';
import { NetFixture, netSkip } from './netfixture.js';

const skip = netSkip || (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false);
const fx = new NetFixture();
let engine: Engine | undefined;
const tag = `sdk${process.pid}`;

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-sdk-');
  await fx.start(engine.sock, `berthd-sdk-${process.pid}`);
});

after(async () => {
  await fx.stop();
  await engine?.stop();
});

const volumeNames = () => fx.b.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).sort();

test(
  'docker-py: labels, wait for a log line, port from inspect, exec demux, put/get archive, rm force v',
  { skip },
  () => {
    const vols = volumeNames();
    const py = spawnSync(
      'python3',
      [
        '-c',
        `
import docker, io, tarfile, json
c = docker.DockerClient(base_url='unix://${fx.b.sock}')
ct = c.containers.create('${fx.img}', ['sh', '-c', 'echo booting; sleep 0.3; echo READY >&2; mkdir -p /www; echo served > /www/index.html; exec httpd -f -p 80 -h /www'],
    labels={'org.testcontainers': 'true', 'session': '${tag}'}, environment={'A': '1'}, volumes=['/anon'],
    ports={'80/tcp': ('127.0.0.1', None)}, name='${tag}-py')
ct.start()
for line in ct.logs(stream=True, follow=True):
    if b'READY' in line:
        break
ct.reload()
print(json.dumps({'port': ct.ports['80/tcp'], 'env': ct.attrs['Config']['Env'], 'labels': ct.labels,
    'anon': [m['Type'] + ' ' + m['Destination'] for m in ct.attrs['Mounts']],
    'hc': {k: ct.attrs['HostConfig'][k] for k in ['Memory', 'NanoCpus', 'CpuShares', 'PidsLimit', 'Privileged', 'ReadonlyRootfs',
        'CapAdd', 'IpcMode', 'ShmSize', 'Dns', 'ExtraHosts', 'Ulimits', 'ConsoleSize', 'OomKillDisable', 'MemorySwappiness']}}))
r = ct.exec_run(['sh', '-c', 'echo out; echo err >&2; exit 3'], demux=True)
print(r.exit_code, r.output)
print(ct.exec_run(['sh', '-c', 'echo only-err >&2'], demux=True).output)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    data = b'payload\\n'
    ti = tarfile.TarInfo('dir/in.txt'); ti.size = len(data); ti.mode = 0o640; ti.uid = 1000; ti.gid = 1001; ti.mtime = 1700000000
    t.addfile(ti, io.BytesIO(data))
print(ct.put_archive('/tmp', buf.getvalue()))
print(ct.exec_run(['stat', '-c', '%u %g %a %Y', '/tmp/dir/in.txt']).output)
bits, stat = ct.get_archive('/tmp/dir')
with tarfile.open(fileobj=io.BytesIO(b''.join(bits))) as t:
    print(stat['name'], [(m.name, oct(m.mode), m.uid, m.gid, m.mtime if m.isfile() else 0, m.size) for m in t.getmembers()])
try:
    ct.get_archive('/nonexistent')
except docker.errors.NotFound as e:
    print('404', e.explanation.startswith('Could not find the file /nonexistent in container'))
print([x.name for x in c.containers.list(filters={'label': 'session=${tag}'})])
`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(py.status, 0, py.stderr + fx.b.logTail());
    const lines = py.stdout.split('\n');
    const first = JSON.parse(lines[0]!) as {
      port: { HostIp: string; HostPort: string }[];
      env: string[];
      labels: Record<string, string>;
      anon: string[];
      hc: Record<string, unknown>;
    };
    assert.equal(first.port.length, 1);
    assert.equal(first.port[0]!.HostIp, '127.0.0.1');
    // dockerd's order: the user's variables, then the image's it did not set
    assert.deepEqual(first.env, ['A=1', 'PATH=/bin:/sbin:/usr/bin:/usr/sbin']);
    assert.deepEqual(first.labels, { 'org.testcontainers': 'true', session: tag });
    assert.deepEqual(first.anon, ['volume /anon']);
    // HostConfig has every field, as dockerd's (20.10's answers for the same create): scripts index it
    assert.deepEqual(first.hc, {
      Memory: 0,
      NanoCpus: 0,
      CpuShares: 0,
      PidsLimit: null,
      Privileged: false,
      ReadonlyRootfs: false,
      CapAdd: null,
      IpcMode: 'private',
      ShmSize: 67108864,
      Dns: null,
      ExtraHosts: null,
      Ulimits: null,
      ConsoleSize: [0, 0],
      OomKillDisable: false,
      MemorySwappiness: null,
    });
    assert.equal(fx.curl(`http://127.0.0.1:${first.port[0]!.HostPort}/`).stdout, 'served\n');
    assert.deepEqual(lines.slice(1), [
      "3 (b'out\\n', b'err\\n')",
      "(None, b'only-err\\n')",
      'True',
      "b'1000 1001 640 1700000000\\n'",
      "dir [('dir', '0o755', 0, 0, 0, 0), ('dir/in.txt', '0o640', 1000, 1001, 1700000000, 8)]",
      '404 True',
      `['${tag}-py']`,
      '',
    ]);
    const anonVol = volumeNames().filter((v) => !vols.includes(v));
    assert.equal(anonVol.length, 1, 'the anonymous volume of Binds ["/anon"]');

    const rm = spawnSync(
      'python3',
      [
        '-c',
        `import docker; docker.DockerClient(base_url='unix://${fx.b.sock}').containers.get('${tag}-py').remove(force=True, v=True)`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(fx.b.docker(['inspect', `${tag}-py`]).status, 1);
    assert.deepEqual(volumeNames(), vols, 'rm -v removed the anonymous volume');
    assert.deepEqual(fx.veths(), []);
  },
);

test(
  'dockerode: labels, logs follow, port from inspect, exec demux, putArchive/getArchive, remove force v',
  { skip },
  async () => {
    const vols = volumeNames();
    const Docker = (await import('dockerode')).default;
    const d = new Docker({ socketPath: fx.b.sock });
    const c = await d.createContainer({
      Image: fx.img,
      name: `${tag}-node`,
      Cmd: [
        'sh',
        '-c',
        'echo booting; sleep 0.3; echo READY; mkdir -p /www; echo node > /www/index.html; exec httpd -f -p 80 -h /www',
      ],
      Labels: { 'org.testcontainers': 'true', session: tag },
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/anon': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await c.start();
    // wait for a log line, as testcontainers' log wait strategy does: follow, demultiplex, stop reading
    const logs = (await c.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & {
      destroy(): void;
    };
    const out = new PassThrough();
    d.modem.demuxStream(logs, out, new PassThrough());
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY in ${JSON.stringify(seen)}`)), 15_000);
      out.on('data', (b: Buffer) => {
        seen += b.toString();
        if (seen.includes('READY\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    logs.destroy();
    assert.equal(seen.split('\n')[0], 'booting');

    const info = await c.inspect();
    const port = info.NetworkSettings.Ports['80/tcp']?.[0];
    assert.equal(port?.HostIp, '127.0.0.1');
    assert.match(port?.HostPort ?? '', /^\d+$/);
    await waitUntil('httpd', () => fx.curl(`http://127.0.0.1:${port.HostPort}/`).stdout === 'node\n', 10_000, 100);
    assert.deepEqual(info.Config.Labels, { 'org.testcontainers': 'true', session: tag });

    const exec = await c.exec({
      Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const eo = new PassThrough();
    const ee = new PassThrough();
    const so: Buffer[] = [];
    const se: Buffer[] = [];
    eo.on('data', (b: Buffer) => so.push(b));
    ee.on('data', (b: Buffer) => se.push(b));
    d.modem.demuxStream(stream, eo, ee);
    await new Promise((r) => stream.on('end', r));
    assert.equal(Buffer.concat(so).toString(), 'out\n');
    assert.equal(Buffer.concat(se).toString(), 'err\n');
    assert.equal((await exec.inspect()).ExitCode, 5);

    // a tar in, made by tar(1) with its owners and modes; and out again
    const dir = mkdtempSync('/tmp/berth-sdk-');
    try {
      mkdirSync(join(dir, 'src/d'), { recursive: true });
      writeFileSync(join(dir, 'src/d/f.txt'), 'node-payload\n', { mode: 0o600 });
      const tarIn = spawnSync('tar', ['-C', join(dir, 'src'), '--owner=1234', '--group=2345', '-cf', '-', 'd'], {
        maxBuffer: 1 << 20,
      });
      assert.equal(tarIn.status, 0);
      await c.putArchive(tarIn.stdout, { path: '/tmp' });
      const st = spawnSync('nsenter', ['-t', String(info.State.Pid), '-m', 'stat', '-c', '%u %g %a', '/tmp/d/f.txt'], {
        encoding: 'utf8',
      });
      assert.equal(st.stdout, '1234 2345 600\n', 'what the kernel shows in the container');
      const got = await c.getArchive({ path: '/tmp/d/f.txt' });
      const chunks: Buffer[] = [];
      for await (const ch of got as AsyncIterable<Buffer>) chunks.push(ch);
      writeFileSync(join(dir, 'out.tar'), Buffer.concat(chunks));
      const list = spawnSync('tar', ['--numeric-owner', '-tvf', join(dir, 'out.tar')], { encoding: 'utf8' });
      assert.match(list.stdout, /^-rw------- 1234\/2345 +13 .* f\.txt$/m);
      assert.equal(spawnSync('tar', ['-xOf', join(dir, 'out.tar')], { encoding: 'utf8' }).stdout, 'node-payload\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const listed = await d.listContainers({ filters: JSON.stringify({ label: [`session=${tag}`] }) });
    assert.deepEqual(
      listed.map((x) => x.Names[0]),
      [`/${tag}-node`],
    );
    assert.equal(volumeNames().length, vols.length + 1, 'the image-less VOLUME got an anonymous volume');
    await c.remove({ force: true, v: true });
    await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    assert.deepEqual(volumeNames(), vols);
    assert.deepEqual(fx.veths(), []);
  },
);

test(
  'Binds: a destination alone is an anonymous volume; a mode without a source and a relative one are refused in dockerd words',
  { skip },
  async () => {
    const vols = volumeNames();
    const create = (binds: string[]) =>
      fx.status('POST', '/containers/create', {
        Image: fx.img,
        Cmd: ['true'],
        HostConfig: { Binds: binds, NetworkMode: 'none' },
      });
    assert.deepEqual(await create(['/anon:rw']), { status: 400, message: "invalid volume specification: '/anon:rw'" });
    assert.deepEqual(await create(['anon']), {
      status: 400,
      message:
        "invalid volume specification: 'anon': invalid mount config for type \"volume\": invalid mount path: 'anon' mount path must be absolute",
    });
    assert.deepEqual(await create(['']), { status: 400, message: "invalid volume specification: ''" });
    assert.deepEqual(volumeNames(), vols, 'a refused create leaves no volume');
    const r = await rawRequest(
      fx.b.sock,
      'POST',
      '/containers/create',
      JSON.stringify({ Image: fx.img, Cmd: ['true'], HostConfig: { Binds: ['/anon/'], NetworkMode: 'none' } }),
    );
    assert.equal(r.status, 201, r.body);
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    const m = JSON.parse(fx.b.ok(['inspect', '-f', '{{json .Mounts}}', id])) as Record<string, unknown>[];
    assert.equal(m.length, 1);
    assert.deepEqual(
      { ...m[0], Name: '', Source: '' },
      {
        Type: 'volume',
        Name: '',
        Source: '',
        Destination: '/anon',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
    );
    fx.b.ok(['rm', '-v', id]);
    assert.deepEqual(volumeNames(), vols);
  },
);
