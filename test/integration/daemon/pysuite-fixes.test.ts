// What docker-py's own integration suite (tests/integration of docker-py
// 7.1.0, run by hand with scripts/pysuite.ts) found failing on berthd only,
// each case driven through the installed SDK as that suite drives it, on
// berthd on berth-engine in a network namespace of the test's
// (./netfixture.ts). Every case failed before its fix.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ENGINE_BIN, startEngine, type Engine } from '../engine/helpers.js';
import { NetFixture, netSkip } from './netfixture.js';

const skip = netSkip || (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false);
const fx = new NetFixture();
let engine: Engine | undefined;
const tag = `pysfx${process.pid}`;

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-pysfx-');
  await fx.start(engine.sock, `berthd-pysfx-${process.pid}`);
});

after(async () => {
  await fx.stop();
  await engine?.stop();
});

/** A docker-py script (the client is `c`, the APIClient `api`, the image `IMG`); its stdout lines as JSON. */
function py(body: string): unknown[] {
  const script = `
import docker, json, socket, struct, time
c = docker.DockerClient(base_url='unix://${fx.b.sock}', version='1.41')
api = c.api
IMG = '${fx.img}'
def out(x): print(json.dumps(x), flush=True)
${body}
`;
  const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `python exited ${r.status}: ${r.stderr}\n--- berthd:\n${fx.b.logTail(20)}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
}

test(
  'exec: the start body decides the framing (a tty exec started without Tty comes as stdout frames)',
  { skip },
  () => {
    const [frame, demuxed, raw] = py(`
ct = c.containers.run(IMG, 'cat', stdin_open=True, detach=True, name='${tag}-exec')
e = api.exec_create(ct.id, ['printf', 'yay'], tty=True)
s = api.exec_start(e['Id'], socket=True)
sock = s._sock
hdr = b''
while len(hdr) < 8:
    hdr += sock.recv(8 - len(hdr))
stream, size = struct.unpack('>BxxxL', hdr)
out([stream, size, sock.recv(size).decode()])
s.close()
e = api.exec_create(ct.id, ['sh', '-c', 'echo hello out; echo hello err >&2'], tty=True)
out([x.decode() if x else x for x in api.exec_start(e['Id'], demux=True)])
e = api.exec_create(ct.id, ['sh', '-c', 'echo plain'])
out(api.exec_start(e['Id'], tty=True).decode())
ct.remove(force=True)
`);
    // dockerd 20.10: one stdout frame of the tty's bytes; demux gives them as stdout; a plain exec
    // started with Tty comes unframed.
    assert.deepEqual(frame, [1, 3, 'yay']);
    assert.deepEqual(demuxed, ['hello out\r\nhello err\r\n', null]);
    assert.equal(raw, 'plain\n');
  },
);

test('kill (SIGKILL) answers once the container has exited: inspect right after shows 137', { skip }, () => {
  const [state, other] = py(`
ct = c.containers.run(IMG, 'sleep 300', detach=True, name='${tag}-kill')
ct.kill()
ct.reload()
out([ct.status, ct.attrs['State']['Running'], ct.attrs['State']['ExitCode']])
ct2 = c.containers.run(IMG, ['sh', '-c', 'trap "" USR1; sleep 300'], detach=True, name='${tag}-kill2')
ct2.kill('SIGUSR1')
ct2.reload()
out(ct2.status)
ct.remove(force=True); ct2.remove(force=True)
`);
  assert.deepEqual(state, ['exited', false, 137]);
  // Any other signal is sent and answered at once (dockerd waits only after SIGKILL).
  assert.equal(other, 'running');
});

test(
  'commit of a container whose process has just ended (pause finds no task); Parent names the base',
  { skip },
  () => {
    const ids = py(`
for i in range(4):
    ct = c.api.create_container(IMG, ['touch', '/made-%d' % i])
    c.api.start(ct['Id'])
    img = c.api.commit(ct['Id'])
    out([img['Id'], c.api.inspect_image(img['Id'])['Parent'], c.api.inspect_image(IMG)['Id']])
    c.api.remove_container(ct['Id'], force=True)
    c.api.remove_image(img['Id'])
`);
    assert.equal(ids.length, 4);
    for (const [id, parent, base] of ids as string[][]) {
      assert.match(String(id), /^sha256:[0-9a-f]{64}$/);
      // image inspect's Parent: the image the container was made from, as dockerd 20.10 shows it
      assert.equal(parent, base);
    }
  },
);

test('--group-add: the numbers given are supplementary groups of the process', { skip }, () => {
  const [groups] = py(`
out(c.containers.run(IMG, 'id -G', group_add=[1000, '1001'], remove=True).decode().split())
`);
  assert.ok(Array.isArray(groups));
  assert.ok(groups.includes('1000') && groups.includes('1001'), `groups: ${JSON.stringify(groups)}`);
});

test('list: a container shows the image as the create named it ("repo", not "repo:latest")', { skip }, () => {
  fx.b.ok(['tag', fx.img, `${tag}/bb`]);
  const [image] = py(`
ct = c.containers.run('${tag}/bb', 'sleep 30', detach=True, name='${tag}-list')
out(c.containers.list(sparse=True, filters={'name': '${tag}-list'})[0].attrs['Image'])
ct.remove(force=True)
`);
  assert.equal(image, `${tag}/bb`);
  fx.b.ok(['rmi', `${tag}/bb`]);
});

test('load: a body that is no archive is a 200 whose stream carries the error (ImageLoadError)', { skip }, () => {
  const [raised] = py(`
try:
    c.images.load(b'abc')
    out('no error')
except docker.errors.ImageLoadError as e:
    out('ImageLoadError: ' + str(e))
`);
  assert.match(String(raised), /^ImageLoadError: .*archive/);
});

test('stats: the networks of a container on the default bridge, counted in its namespace', { skip }, () => {
  const [nets] = py(`
ct = c.containers.run(IMG, 'sleep 30', detach=True, name='${tag}-stats')
ct.reload()
# Two pings to the bridge's address (berthd's namespace, made by the test): counted on eth0.
gw = ct.attrs['NetworkSettings']['Gateway']
ct.exec_run(['ping', '-c', '2', '-W', '1', gw])
out(ct.stats(stream=False).get('networks'))
ct.remove(force=True)
`);
  const eth0 = (nets as Record<string, Record<string, number>> | null)?.eth0;
  assert.ok(eth0, `networks: ${JSON.stringify(nets)}`);
  for (const k of ['rx_bytes', 'rx_packets', 'rx_errors', 'rx_dropped', 'tx_bytes', 'tx_packets'])
    assert.equal(typeof eth0[k], 'number', k);
  assert.ok(eth0.tx_packets! >= 2 && eth0.rx_packets! >= 2, JSON.stringify(eth0));
  assert.ok(eth0.tx_bytes! >= 2 * 84, JSON.stringify(eth0));
});
