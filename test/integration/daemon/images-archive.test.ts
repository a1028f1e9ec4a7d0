// docker save / docker load on berthd over a real containerd, with the real
// docker CLI 28: the tar's layout (OCI layout + manifest.json + repositories,
// several images and tags, shared layers once), a round trip through berthd
// itself, and through a real dockerd both ways (berthd's tar loaded and run
// by dockerd; dockerd 20.10's classic tar loaded and run by berthd). Hostile
// archives are refused with the entry named and nothing left in containerd.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startDockerd, type Dockerd } from '../../helpers/daemons.js';
import {
  buildImage,
  oneFileTar,
  hostArch,
  buildIndex,
  skopeo,
  sha256,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { rawRequest, DOCKER_20, type Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { lines, makeTar, readTar } from './images-helpers.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('containerd');

let s: BerthdStack | undefined;
let reg: RegistryInstance;
let b: Berthd;
let IMG = '';
let IMG2 = '';
const scratch = mkdtempSync('/tmp/berthd-images-');

before(async () => {
  if (skip) return;
  s = await startBerthdStack('containerd', {
    prefix: 'bimg-ctrd-',
    seed: (host) =>
      seedImage(host, 'berth/two:latest', buildImage({ extraLayers: [oneFileTar('two.txt', Buffer.from('two\n'))] })),
    pull: (host) => [`${host}/berth/busybox:latest`, `${host}/berth/two:latest`],
  });
  ({ b, reg, img: IMG } = s);
  IMG2 = `${reg.host}/berth/two:latest`;
});

after(async () => {
  await s?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const ctr = (args: string[]) => s!.ctr(args);
const contentList = () => lines(ctr(['content', 'ls', '-q']).stdout).sort();
const snapshotList = () => lines(ctr(['snapshots', 'ls']).stdout).sort();
const imageList = () => lines(ctr(['images', 'ls', '-q']).stdout).sort();

test(
  'docker save: OCI layout + manifest.json + repositories, several images and tags, shared layers once',
  { skip },
  async () => {
    b.ok(['tag', IMG, 'saved/one:a']);
    b.ok(['tag', IMG, 'saved/one:b']);
    const file = join(scratch, 'save.tar');
    b.ok(['save', '-o', file, 'saved/one', IMG2]);
    const t = await readTar(file);
    assert.deepEqual(JSON.parse(t.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(t.get('index.json')!.toString()) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const names = index.manifests.map((m) => m.annotations?.['io.containerd.image.name']).sort();
    assert.deepEqual(names, ['docker.io/saved/one:a', 'docker.io/saved/one:b', `${IMG2}`].sort());
    assert.ok(index.manifests.every((m) => m.annotations?.['org.opencontainers.image.ref.name']));
    const mj = JSON.parse(t.get('manifest.json')!.toString()) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.equal(mj.length, 2, 'one manifest.json entry per image id');
    const one = mj.find((e) => e.RepoTags.includes('saved/one:a'))!;
    assert.deepEqual(one.RepoTags.sort(), ['saved/one:a', 'saved/one:b']);
    const two = mj.find((e) => e.RepoTags.includes(IMG2.replace(/^/, '')))!;
    assert.equal(two.Layers.length, 2);
    // The busybox layer is in both images and in the tar once.
    assert.equal(two.Layers[0], one.Layers[0]);
    const blobNames = [...t.keys()].filter((n) => n.startsWith('blobs/sha256/') && n.length > 14);
    assert.equal(blobNames.length, new Set(blobNames).size);
    for (const n of blobNames)
      assert.equal(sha256(t.get(n)!), `sha256:${n.slice(13)}`, `${n} holds what its name says`);
    // Config and layers in manifest.json are paths of blobs in the tar; the image id is the config digest.
    const id = b.ok(['inspect', '-f', '{{.Id}}', 'saved/one:a']).trim();
    assert.equal(one.Config, `blobs/sha256/${id.slice(7)}`);
    for (const l of [...one.Layers, ...two.Layers]) assert.ok(t.has(l), l);
    const repos = JSON.parse(t.get('repositories')!.toString()) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(repos['saved/one']!).sort(), ['a', 'b']);

    // By id: the image goes without a name.
    const byId = join(scratch, 'byid.tar');
    b.ok(['save', '-o', byId, id.slice(7, 19)]);
    const t2 = await readTar(byId);
    assert.equal(JSON.parse(t2.get('manifest.json')!.toString())[0].RepoTags, null);

    const missing = b.docker(['save', '-o', join(scratch, 'x.tar'), 'no/such:image']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /No such image: no\/such:image/);
  },
);

test("docker load of berthd's own tar: names back, unpacked, runs; -q and progress", { skip }, async () => {
  const file = join(scratch, 'save.tar');
  const id = b.ok(['inspect', '-f', '{{.Id}}', 'saved/one:a']).trim();
  b.ok(['rmi', 'saved/one:a', 'saved/one:b']);
  assert.notEqual(b.docker(['inspect', 'saved/one:a']).status, 0);
  const out = b.ok(['load', '-i', file]);
  assert.match(out, /^Loaded image: saved\/one:a$/m);
  assert.match(out, /^Loaded image: saved\/one:b$/m);
  assert.match(out, new RegExp(`^Loaded image: ${IMG2.replace(/[.]/g, '\\.')}$`, 'm'));
  assert.equal(b.ok(['inspect', '-f', '{{.Id}}', 'saved/one:b']).trim(), id);
  assert.ok(imageList().includes('docker.io/saved/one:a'));
  assert.equal(b.ok(['run', '--rm', '--network', 'none', 'saved/one:a', 'echo', 'loaded']), 'loaded\n');
  assert.equal(b.ok(['run', '--rm', '--network', 'none', IMG2, 'cat', '/two.txt']), 'two\n');

  // Not quiet: dockerd's "Loading layer" progress lines, then the names.
  b.ok(['rmi', 'saved/one:b']);
  const r = await rawRequest(b.sock, 'POST', '/v1.47/images/load?quiet=0', readFileSync(file), {
    'Content-Type': 'application/x-tar',
  });
  assert.equal(r.status, 200, r.body);
  const msgs = lines(r.body).map((l) => JSON.parse(l) as { status?: string; stream?: string; id?: string });
  assert.ok(
    msgs.some((m) => m.status === 'Loading layer' && /^[a-f0-9]{12}$/.test(m.id ?? '')),
    r.body,
  );
  assert.ok(
    msgs.some((m) => m.stream === 'Loaded image: saved/one:b\n'),
    r.body,
  );
  // Loaded by id (no name): "Loaded image ID".
  b.ok(['rmi', '-f', 'saved/one:a', 'saved/one:b']);
  const out2 = b.ok(['load', '-q', '-i', join(scratch, 'byid.tar')]);
  assert.equal(out2.trim(), `Loaded image ID: ${id}`);
  // The same image is still named by its registry name: not dangling.
  assert.equal(b.ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']).trim(), '');
});

test(
  'round trip with a real dockerd: berthd save → dockerd load + run; dockerd 20.10 save → berthd load + run',
  { skip },
  async () => {
    let dk: Dockerd | undefined;
    try {
      dk = await startDockerd({ runtimes: {}, prefix: 'bimg-dkd-' });
      const file = join(scratch, 'for-dockerd.tar');
      b.ok(['tag', IMG2, 'rt/two:1']);
      b.ok(['save', '-o', file, 'rt/two:1']);
      const l = dk.docker(['load', '-i', file]);
      assert.equal(l.status, 0, l.stderr + dk.logTail());
      assert.match(l.stdout, /Loaded image: rt\/two:1/);
      const run = dk.docker(['run', '--rm', '--network', 'none', 'rt/two:1', 'cat', '/two.txt']);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'two\n');
      const idOnDockerd = dk.docker(['inspect', '-f', '{{.Id}}', 'rt/two:1']).stdout.trim();
      assert.equal(idOnDockerd, b.ok(['inspect', '-f', '{{.Id}}', 'rt/two:1']).trim(), 'same image id (config digest)');

      // Back: dockerd 20.10 writes the classic layout (<id>.json, <layer>/layer.tar, no index.json).
      dk.docker(['tag', 'rt/two:1', 'from/dockerd:x']);
      const back = join(scratch, 'from-dockerd.tar');
      const s = dk.docker(['save', '-o', back, 'from/dockerd:x']);
      assert.equal(s.status, 0, s.stderr);
      const t = await readTar(back);
      assert.ok(!t.has('index.json') && t.has('manifest.json'), 'a classic docker save archive');
      const out = b.ok(['load', '-i', back]);
      assert.match(out, /Loaded image: from\/dockerd:x/);
      assert.equal(b.ok(['run', '--rm', '--network', 'none', 'from/dockerd:x', 'cat', '/two.txt']), 'two\n');
      assert.equal(b.ok(['inspect', '-f', '{{.Id}}', 'from/dockerd:x']).trim(), idOnDockerd);
    } finally {
      await dk?.stop();
    }
  },
);

test('hostile archives: refused naming the entry, nothing left in containerd, berthd serving', { skip }, async () => {
  const img = buildImage({ extraLayers: [oneFileTar('evil.txt', Buffer.from('evil\n'))] });
  const layout = (
    extra: [string, Buffer | { linkname: string }][],
    opts: { config?: Buffer; lieSize?: boolean } = {},
  ) => {
    const cfg = opts.config ?? img.configBytes;
    const cfgDigest = sha256(cfg);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: cfg.length },
        layers: img.layers.map((l) => ({
          mediaType: l.mediaType,
          digest: l.digest,
          size: l.size + (opts.lieSize ? 7 : 0),
        })),
      }),
    );
    const index = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { 'io.containerd.image.name': 'docker.io/hostile/x:1' },
        },
      ],
    };
    return [
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      ...img.layers.map((l) => [`blobs/sha256/${l.digest.slice(7)}`, l.bytes] as [string, Buffer]),
      [`blobs/sha256/${cfgDigest.slice(7)}`, cfg],
      [`blobs/sha256/${sha256(manifest).slice(7)}`, manifest],
      ...extra,
      ['index.json', Buffer.from(JSON.stringify(index))],
    ] as [string, Buffer | { linkname: string }][];
  };
  const before = { content: contentList(), snaps: snapshotList(), images: imageList() };
  const cases: [string, Buffer, RegExp][] = [
    [
      'path escaping',
      await makeTar(layout([['../../etc/berth-evil', Buffer.from('x')]])),
      /archive entry "\.\.\/\.\.\/etc\/berth-evil": the path leads out of the archive/,
    ],
    [
      'symlink out',
      await makeTar(layout([['repositories', { linkname: '../../../etc/passwd' }]])),
      /archive entry "repositories": a link to "\.\.\/\.\.\/\.\.\/etc\/passwd", which is outside the archive/,
    ],
    [
      'digest that does not match',
      await makeTar([['blobs/sha256/' + 'ab'.repeat(32), Buffer.from('not what the name says')], ...layout([])]),
      /archive entry "blobs\/sha256\/abab[a-f0-9]*": its content is sha256:[a-f0-9]{64}, not sha256:abab/,
    ],
    [
      'config that is not JSON',
      await makeTar(layout([], { config: Buffer.from('{not json') })),
      /index\.json manifests\[0\].*config.*(JSON|json)/,
    ],
    [
      'descriptor size that lies',
      await makeTar(layout([], { lieSize: true })),
      /layer sha256:[a-f0-9]{64}: its descriptor says \d+ bytes, the blob has \d+/,
    ],
    [
      'truncated entry',
      // The layer's header announces its whole size; the archive ends 1000 bytes into it.
      (
        await makeTar([
          ['oci-layout', Buffer.from('{}')],
          ['blobs/sha256/' + img.layers[0]!.digest.slice(7), img.layers[0]!.bytes],
        ])
      ).subarray(0, 1024 + 512 + 1000),
      /archive entry "blobs\/sha256\/[a-f0-9]{64}"/,
    ],
  ];
  for (const [what, bytes, want] of cases) {
    const file = join(scratch, 'hostile.tar');
    writeFileSync(file, bytes);
    const r = b.docker(['load', '-q', '-i', file]);
    assert.notEqual(r.status, 0, `${what}: refused`);
    assert.match(r.stderr, want, `${what}: ${r.stderr}`);
    assert.deepEqual(contentList(), before.content, `${what}: no blob left behind`);
    assert.deepEqual(snapshotList(), before.snaps, `${what}: no snapshot left behind`);
    assert.deepEqual(imageList(), before.images, `${what}: no image record`);
  }
  assert.ok(!existsSync('/etc/berth-evil'));
  assert.equal((await rawRequest(b.sock, 'GET', '/_ping')).status, 200);
  // The same layout, honest, loads (so the refusals above are for the reasons named).
  const good = join(scratch, 'good.tar');
  writeFileSync(good, await makeTar(layout([])));
  assert.match(b.ok(['load', '-i', good]), /Loaded image: hostile\/x:1/);
  assert.equal(b.ok(['run', '--rm', '--network', 'none', 'hostile/x:1', 'cat', '/evil.txt']), 'evil\n');
});

test(
  'load streams: a 64 MiB layer passes without berthd holding it; a client hanging up mid-body leaves nothing',
  { skip },
  async () => {
    const payload = randomBytes(64 * 1024 * 1024);
    const layerTar = await makeTar([['big.bin', payload]]);
    const cfg = Buffer.from(
      JSON.stringify({
        architecture: hostArch(),
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layerTar), size: layerTar.length },
        ],
      }),
    );
    const index = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { 'io.containerd.image.name': 'docker.io/big/one:1' },
        },
      ],
    };
    const archive = await makeTar([
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      [`blobs/sha256/${sha256(layerTar).slice(7)}`, layerTar],
      [`blobs/sha256/${sha256(cfg).slice(7)}`, cfg],
      [`blobs/sha256/${sha256(manifest).slice(7)}`, manifest],
      ['index.json', Buffer.from(JSON.stringify(index))],
    ]);
    const file = join(scratch, 'big.tar');
    writeFileSync(file, archive);
    const pid = b.proc().pid!;
    const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // peak RSS starts again from the current RSS
    const base = hwm();
    assert.match(b.ok(['load', '-i', file], { timeout: 180000 }), /Loaded image: big\/one:1/);
    const grew = hwm() - base;
    assert.ok(grew < 40 * 1024 * 1024, `berthd's peak RSS grew by ${grew} bytes for a ${archive.length}-byte archive`);
    b.ok(['rmi', 'big/one:1']);

    // The same archive, cut off by the client half-way: the lease goes, and containerd's gc with it.
    // Another layer (fresh bytes, so its blob is a new ingest) in front of the rest.
    const other = await makeTar([['other.bin', randomBytes(48 * 1024 * 1024)]]);
    const cutArchive = await makeTar([
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      [`blobs/sha256/${sha256(other).slice(7)}`, other],
    ]);
    const before = contentList();
    const sock = connect(b.sock);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(
      `POST /v1.47/images/load?quiet=1 HTTP/1.1\r\nHost: berthd\r\nContent-Type: application/x-tar\r\nContent-Length: ${cutArchive.length}\r\n\r\n`,
    );
    sock.write(cutArchive.subarray(0, 40 * 1024 * 1024));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      lines(ctr(['content', 'active']).stdout).length > 1,
      'the blob is being written when the client hangs up',
    );
    sock.destroy();
    const clean = () =>
      lines(ctr(['content', 'active']).stdout).length <= 1 && contentList().every((d) => before.includes(d));
    await waitUntil('the cut load to be cleaned up', clean, 60000, 250).catch((e: unknown) => {
      const extra = contentList().filter((d) => !before.includes(d));
      throw new Error(
        `${(e as Error).message}: blobs left ${JSON.stringify(extra)}, active: ${ctr(['content', 'active']).stdout}\n${b.logTail(15)}`,
      );
    });
    assert.ok(!contentList().includes(sha256(other)), 'the cut blob is not in the store');
    assert.equal((await rawRequest(b.sock, 'GET', '/_ping')).status, 200);
  },
);

test(
  'the docker 20.10 CLI saves and loads through berthd; --platform of another arch is refused, not ignored',
  { skip },
  () => {
    const file = join(scratch, 'cli20.tar');
    const s = b.docker(['save', '-o', file, IMG], { cli: DOCKER_20 });
    assert.equal(s.status, 0, s.stderr);
    b.ok(['tag', IMG, 'cli20/img:1']);
    b.ok(['rmi', IMG]);
    const l = b.docker(['load', '-i', file], { cli: DOCKER_20 });
    assert.equal(l.status, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`Loaded image: ${IMG.replace(/[.]/g, '\\.')}`));
    const other = hostArch() === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    const p = b.docker(['save', '--platform', other, '-o', join(scratch, 'p.tar'), IMG]);
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /host's platform only/);
  },
);

test(
  'a multi-platform image pulled for the host: save keeps the index and skips the platform never pulled; load and run',
  { skip },
  async () => {
    const host = buildImage({ extraLayers: [oneFileTar('host.txt', Buffer.from('host\n'))] });
    const other = buildImage({ arch: hostArch() === 'arm64' ? 'amd64' : 'arm64', label: 'other' });
    const idx = buildIndex([
      { image: host, os: 'linux', architecture: hostArch() },
      { image: other, os: 'linux', architecture: hostArch() === 'arm64' ? 'amd64' : 'arm64' },
    ]);
    const layout = mkdtempSync('/tmp/berthd-multi-');
    try {
      const put = (d: string, bytes: Buffer) => {
        mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
        writeFileSync(join(layout, 'blobs/sha256', d.slice(7)), bytes);
      };
      for (const img of [host, other]) {
        for (const l of img.layers) put(l.digest, l.bytes);
        put(img.config.digest, img.configBytes);
        put(img.manifest.digest, img.manifestBytes);
      }
      put(idx.desc.digest, idx.bytes);
      writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(
        join(layout, 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          manifests: [{ ...idx.desc, annotations: { 'org.opencontainers.image.ref.name': 'seed' } }],
        }),
      );
      skopeo([
        'copy',
        '--quiet',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:seed`,
        `docker://${reg.host}/berth/multi:latest`,
      ]);
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }
    const MULTI = `${reg.host}/berth/multi:latest`;
    b.ok(['pull', '-q', MULTI]);
    assert.ok(!contentList().includes(other.manifest.digest), 'the other platform was never pulled');
    const file = join(scratch, 'multi.tar');
    b.ok(['save', '-o', file, MULTI]);
    const t = await readTar(file);
    const index = JSON.parse(t.get('index.json')!.toString()) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, idx.desc.digest, 'the image index itself, so its digest survives');
    assert.ok(t.has(`blobs/sha256/${host.manifest.digest.slice(7)}`));
    assert.ok(!t.has(`blobs/sha256/${other.manifest.digest.slice(7)}`));
    b.ok(['rmi', MULTI]);
    assert.match(b.ok(['load', '-i', file]), new RegExp(`Loaded image: ${MULTI.replace(/[.]/g, '\\.')}`));
    assert.equal(b.ok(['run', '--rm', '--network', 'none', MULTI, 'cat', '/host.txt']), 'host\n');
    assert.ok(b.ok(['inspect', '-f', '{{json .RepoDigests}}', MULTI]).includes(idx.desc.digest));
  },
);

test('docker-py and dockerode save and load; a gzip-compressed archive loads', { skip }, async () => {
  const py = spawnSync(
    'python3',
    [
      '-c',
      `
import docker
c = docker.DockerClient(base_url='unix://${b.sock}')
img = c.images.get('${IMG2}')
data = b''.join(img.save(named=True))
img.tag('py/saved', 'v1')
c.images.remove('py/saved:v1')
loaded = c.images.load(data)
print(len(loaded), '${IMG2}' in loaded[0].tags)
`,
    ],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(py.status, 0, py.stderr + b.logTail());
  assert.equal(py.stdout.trim(), '1 True');

  const Docker = (await import('dockerode')).default;
  const d = new Docker({ socketPath: b.sock });
  const chunks: Buffer[] = [];
  for await (const c of await d.getImage(IMG2).get()) chunks.push(c as Buffer);
  await d.getImage(IMG2).remove();
  assert.notEqual(b.docker(['inspect', IMG2]).status, 0);
  const gz = join(scratch, 'node.tar.gz');
  writeFileSync(gz, gzipSync(Buffer.concat(chunks)));
  const res = await d.loadImage(gz, { quiet: true });
  let body = '';
  for await (const c of res) body += (c as Buffer).toString();
  assert.match(body, new RegExp(`"stream":"Loaded image: ${IMG2.replace(/[.]/g, '\\.')}\\\\n"`));
  assert.equal(b.ok(['run', '--rm', '--network', 'none', IMG2, 'cat', '/two.txt']), 'two\n');
});
