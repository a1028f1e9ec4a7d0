// docker-compose 1.29 (Debian's, on docker-py) driving berthd on
// berth-engine through a whole project's life: up -d (an addressed bridge
// network, a named volume, a bind, environment and env_file, depends_on a
// healthy service, a port on 127.0.0.1), ps, logs, exec, run --rm, top,
// pause/unpause, restart, stop/start, up --scale, config, a recreate on a
// changed config that keeps the volume, and down -v with nothing left in
// berthd's namespace. What the kernel shows is asserted: addresses, links,
// iptables rules, the port answering. ./compose-fixture.ts has the project.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { rawRequest } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { ComposeFixture, SUBNET, composeSkip } from './compose-fixture.js';

const skip = composeSkip;
const cf = new ComposeFixture();
let rulesBefore = '';
let linksBefore: string[] = [];

before(async () => {
  if (skip) return;
  await cf.start('berthd-compose-');
  rulesBefore = cf.fx.rules();
  linksBefore = cf.fx.links().sort();
});

after(async () => {
  await cf.stop();
});

const web = () => `${cf.project}_web_1`;
const worker = () => `${cf.project}_worker_1`;
const served = () => cf.fx.curl('http://127.0.0.1:18080/').stdout;

test(
  'up -d: network, volume, bind, env_file, depends_on a healthy service, a port on 127.0.0.1',
  { skip },
  async () => {
    const up = cf.compose(['up', '-d']);
    assert.equal(up.status, 0, up.stderr);
    // depends_on: service_healthy: compose created the worker only once web was healthy
    assert.match(up.stderr, new RegExp(`Creating network "${cf.project}_appnet" with driver "bridge"`));
    assert.deepEqual(cf.containers(), [web(), worker()]);
    const ps = cf.ok(['ps']);
    assert.match(ps, new RegExp(`${web()} .* Up \\(healthy\\) +127\\.0\\.0\\.1:18080->80/tcp`));
    assert.match(ps, new RegExp(`${worker()} .* Up `));

    // The network as the kernel shows it: the gateway on a bridge, web at its fixed address.
    const net = JSON.parse(cf.fx.b.ok(['network', 'inspect', `${cf.project}_appnet`]))[0];
    assert.deepEqual(net.IPAM.Config, [{ Subnet: `${SUBNET}.0/24`, Gateway: `${SUBNET}.1` }]);
    assert.equal(net.Labels['com.docker.compose.network'], 'appnet');
    assert.match(cf.fx.inNs('ip', ['-o', '-4', 'addr']).stdout, new RegExp(`inet ${SUBNET}\\.1/24`));
    assert.match(cf.fx.inCtr(web(), 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${SUBNET}\\.10/24`));
    const wip = cf.fx.b.ok([
      'inspect',
      '-f',
      `{{(index .NetworkSettings.Networks "${cf.project}_appnet").IPAddress}}`,
      worker(),
    ]);
    assert.match(wip.trim(), new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.\\d+$`));

    // The published port answers on 127.0.0.1 of berthd's namespace, and web answers the worker on the network.
    const webId = cf.fx.b.ok(['inspect', '-f', '{{.Config.Hostname}}', web()]).trim();
    assert.equal(served(), `web-${webId}\n`);
    assert.equal(cf.ok(['exec', '-T', 'worker', 'wget', '-q', '-O', '-', `http://${SUBNET}.10/`]), `web-${webId}\n`);

    // environment over env_file, both in the process's environment
    await waitUntil('the worker to log', () => /worker up/.test(cf.ok(['logs', '--no-color', 'worker'])), 10000, 100);
    assert.match(
      cf.ok(['logs', '--no-color', 'worker']),
      /worker_1 +\| worker up file-value from-environment explicit-value/,
    );
    assert.match(cf.ok(['logs', '--no-color', 'web']), /web_1 +\| web started/);

    // The named volume is shared, the bind is the host's directory, read-only.
    cf.ok(['exec', '-T', 'web', 'sh', '-c', 'echo shared-data > /data/x']);
    assert.equal(cf.ok(['exec', '-T', 'worker', 'cat', '/shared/x']), 'shared-data\n');
    assert.equal(cf.ok(['exec', '-T', 'web', 'cat', '/bind/file.txt']), 'from-the-host\n');
    const ro = cf.compose(['exec', '-T', 'web', 'sh', '-c', 'echo no > /bind/file.txt']);
    assert.equal(ro.status, 1);
    assert.match(ro.stderr, /Read-only file system/);
    const vol = JSON.parse(cf.fx.b.ok(['volume', 'inspect', `${cf.project}_vol1`]))[0];
    assert.equal(vol.Labels['com.docker.compose.volume'], 'vol1');
  },
);

test('exec (exit codes), run --rm, top, pause/unpause, restart, stop/start', { skip }, async () => {
  const ex = cf.compose(['exec', '-T', 'worker', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.equal(ex.status, 7);
  assert.equal(ex.stdout, 'out\n');
  assert.match(ex.stderr, /err/);

  const run = cf.ok(['run', '--rm', '-T', 'worker', 'sh', '-c', 'echo ran $FROM_FILE $EXPLICIT']);
  assert.match(run, /ran file-value explicit-value/);
  assert.deepEqual(cf.containers(), [web(), worker()], 'run --rm left no container');

  const top = cf.ok(['top', 'web']);
  assert.match(top, /UID +PID +PPID/);
  assert.match(top, /httpd -f -p 80 -h \/www/);

  // pause freezes the processes: the port stops answering, then answers again.
  cf.ok(['pause']);
  assert.match(cf.ok(['ps']), new RegExp(`${web()} .* Paused`));
  assert.equal(cf.fx.b.ok(['inspect', '-f', '{{.State.Paused}}', worker()]).trim(), 'true');
  assert.notEqual(cf.fx.inNs('curl', ['-s', '--max-time', '1', 'http://127.0.0.1:18080/']).status, 0);
  cf.ok(['unpause']);
  assert.match(served(), /^web-/);

  const pid0 = cf.fx.pidOf(worker());
  cf.ok(['restart', '-t', '1', 'worker']);
  const pid1 = cf.fx.pidOf(worker());
  assert.notEqual(pid1, pid0);
  assert.equal(cf.fx.b.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', worker()]).trim(), '0 true');

  cf.ok(['stop', '-t', '1']);
  assert.deepEqual(cf.containers(false), []);
  assert.match(cf.ok(['ps']), new RegExp(`${web()} .* Exit `));
  assert.notEqual(cf.fx.inNs('curl', ['-s', '--max-time', '1', 'http://127.0.0.1:18080/']).status, 0);
  cf.ok(['start']);
  await waitUntil('web to be healthy again', () => /Up \(healthy\)/.test(cf.ok(['ps', 'web'])), 20000, 200);
  assert.match(served(), /^web-/);
  // the fixed address is web's again
  assert.match(cf.fx.inCtr(web(), 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${SUBNET}\\.10/24`));
});

test('up --scale worker=3: three workers, each its own address and veth; back to one', { skip }, async () => {
  const veths = cf.fx.veths().length;
  cf.ok(['up', '-d', '--scale', 'worker=3']);
  const names = cf.containers(false);
  assert.deepEqual(names, [web(), worker(), `${cf.project}_worker_2`, `${cf.project}_worker_3`]);
  const ips = names.map((n) =>
    cf.fx.b.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${cf.project}_appnet").IPAddress}}`, n]).trim(),
  );
  assert.equal(new Set(ips).size, 4, `distinct addresses: ${ips.join(' ')}`);
  assert.equal(cf.fx.veths().length, veths + 2);
  for (const n of names.slice(1))
    assert.match(cf.fx.inCtr(n, 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${SUBNET}\\.\\d+/24`));
  cf.ok(['up', '-d', '--scale', 'worker=1', '-t', '1']);
  assert.deepEqual(cf.containers(), [web(), worker()]);
  assert.equal(cf.fx.veths().length, veths);
});

test('config: the project as compose resolved it', { skip }, () => {
  assert.deepEqual(cf.ok(['config', '--services']).split('\n').filter(Boolean).sort(), ['web', 'worker']);
  assert.deepEqual(cf.ok(['config', '--volumes']).trim(), 'vol1');
  const cfg = cf.ok(['config']);
  assert.match(cfg, /FROM_FILE: file-value/);
  assert.match(cfg, /SHARED: from-environment/);
  assert.match(cfg, new RegExp(`subnet: ${SUBNET}\\.0/24`));
});

test(
  'image inspect: ContainerConfig below API 1.45 (compose recreates with it), none from 1.45 on',
  { skip },
  async () => {
    const at = async (v: string) =>
      JSON.parse((await rawRequest(cf.fx.b.sock, 'GET', `/v${v}/images/${cf.fx.img}/json`)).body) as Record<
        string,
        unknown
      >;
    const old = await at('1.41');
    assert.equal(old.Container, '');
    assert.equal((old.ContainerConfig as { Volumes: unknown }).Volumes, null);
    assert.equal(old.VirtualSize, old.Size);
    const v144 = await at('1.44');
    assert.ok('ContainerConfig' in v144 && !('VirtualSize' in v144));
    const now = await at('1.45');
    assert.ok(!('ContainerConfig' in now) && !('Container' in now));

    // A changed service is recreated: compose reads the image's ContainerConfig.Volumes for that,
    // and the named volume's data is still there.
    const old1 = cf.fx.b.ok(['inspect', '-f', '{{.Id}}', worker()]).trim();
    const env = { COMPOSE_API_VERSION: '1.41', EXTRA: 'x' };
    const file = `${cf.dir}/docker-compose.override.yml`;
    writeFileSync(file, 'version: "3.8"\nservices:\n  worker:\n    environment:\n      EXPLICIT: changed\n');
    try {
      const up = cf.compose(['up', '-d', '-t', '1'], env);
      assert.equal(up.status, 0, up.stderr);
      assert.match(up.stderr, new RegExp(`Recreating ${worker()}`));
    } finally {
      rmSync(file);
    }
    assert.notEqual(cf.fx.b.ok(['inspect', '-f', '{{.Id}}', worker()]).trim(), old1);
    assert.equal(
      cf.ok(['exec', '-T', 'worker', 'sh', '-c', 'echo $EXPLICIT; cat /shared/x']),
      'changed\nshared-data\n',
    );
    assert.deepEqual(cf.containers(), [web(), worker()]);
  },
);

test('down -v: containers, network, volume, rules, veths and the bridge gone', { skip }, async () => {
  const down = cf.compose(['down', '-v', '-t', '1']);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stderr, new RegExp(`Removing network ${cf.project}_appnet`));
  assert.match(down.stderr, new RegExp(`Removing volume ${cf.project}_vol1`));
  assert.deepEqual(cf.containers(), []);
  assert.equal(cf.fx.b.docker(['network', 'inspect', `${cf.project}_appnet`]).status, 1);
  assert.equal(cf.fx.b.docker(['volume', 'inspect', `${cf.project}_vol1`]).status, 1);
  assert.deepEqual(cf.fx.links().sort(), linksBefore);
  assert.deepEqual(cf.fx.veths(), []);
  assert.equal(cf.fx.rules(), rulesBefore);
  assert.doesNotMatch(cf.fx.inNs('ip', ['-o', '-4', 'addr']).stdout, new RegExp(`inet ${SUBNET}\\.`));
  assert.notEqual(cf.fx.inNs('curl', ['-s', '--max-time', '1', 'http://127.0.0.1:18080/']).status, 0);
});
