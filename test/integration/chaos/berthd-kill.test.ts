// berthd (on berth-engine, in a network namespace of the test's with the
// default bridge) killed with SIGKILL in the middle of work driven by the
// real docker CLI, at several points of each operation, then started again
// on the same data root. After every restart `docker ps -a`, `network ls`,
// `volume ls`, berthd's files and the kernel agree: a veth, an IPAM lease
// and a DNAT rule exist exactly for running containers; a container record
// is whole or absent; no containerd container or task without its record.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, type Engine } from '../engine/helpers.js';
import { NetFixture, netSkip } from '../daemon/netfixture.js';
import { DOCKER_28 } from '../../helpers/berthd.js';
import { assertSqliteIntact, killDuring, logMark } from './invariants.js';
import { waitUntil } from '../../helpers/wait.js';

const skip =
  netSkip ||
  (process.getuid?.() === 0 && !existsSync(join(import.meta.dirname, '../../../bin/berth-engine'))
    ? 'bin/berth-engine is not built'
    : false);

interface NetDoc {
  networks: Record<string, { name: string; bridge: string; subnet: string; driver: string }>;
  endpoints: Record<string, { containerId: string; hostVeth: string; ip: string; networkId: string }>;
}

describe('berthd: kill -9 during work', { skip }, () => {
  let eng: Engine;
  const fx = new NetFixture();
  const data = () => join(fx.b.dir, 'data');
  const ok = (args: string[]) => fx.b.ok(args);
  const list = (args: string[]) => ok(args).split('\n').filter(Boolean);

  /** kill -9 `afterMs` into `docker args`; the files checked while berthd is down; berthd started again. */
  const killAt = async (args: string[], at: number | RegExp) => {
    const when = typeof at === 'number' ? at : logMark(fx.b.logFile, at);
    const r = await killDuring(DOCKER_28, args, when, () => fx.b.kill9(), fx.b.env);
    assertSqliteIntact(data());
    assertSqliteIntact(eng.root);
    await fx.b.start();
    return r;
  };

  /** containerd containers in berthd's namespace that `docker ps -a` does not show. */
  const orphans = (all = list(['ps', '-aq', '--no-trunc'])) =>
    eng
      .ctr(['containers', 'ls', '-q'], { ns: fx.b.namespace })
      .stdout.split('\n')
      .filter((c) => c && !all.includes(c));

  /** What berthd, its files, the engine and the kernel say agree, once the --rm removals' clean-ups have ended. */
  const agree = async (what: string) => {
    const removing = join(data(), 'removing');
    await waitUntil(`${what}: removals to end`, () => !existsSync(removing) || readdirSync(removing).length === 0);
    const all = list(['ps', '-aq', '--no-trunc']);
    const running = new Set(list(['ps', '-q', '--no-trunc']));
    // Records: one whole config.v2.json per container, none without a container.
    const dirs = existsSync(join(data(), 'containers')) ? readdirSync(join(data(), 'containers')) : [];
    assert.deepEqual([...dirs].sort(), [...all].sort(), `${what}: container directories vs docker ps -a`);
    for (const id of dirs) JSON.parse(readFileSync(join(data(), 'containers', id, 'config.v2.json'), 'utf8'));
    // The engine: no container or running task berthd does not know.
    for (const c of orphans(all)) assert.fail(`${what}: containerd container ${c} without a berthd record`);
    const tasks = eng.ctr(['task', 'ls'], { ns: fx.b.namespace }).stdout.split('\n').slice(1).filter(Boolean);
    for (const t of tasks) {
      const [id, , status] = t.trim().split(/\s+/);
      if (status === 'RUNNING') assert.ok(running.has(id!), `${what}: task ${id} runs, docker ps says not`);
    }
    // The network: endpoints (IPAM leases) only of running containers; one veth per endpoint; no other veth.
    const doc = JSON.parse(readFileSync(join(data(), 'network/networks.json'), 'utf8')) as NetDoc;
    const eps = Object.values(doc.endpoints);
    for (const e of eps)
      assert.ok(running.has(e.containerId), `${what}: endpoint ${e.ip} of ${e.containerId} not running`);
    assert.deepEqual(fx.veths().sort(), eps.map((e) => e.hostVeth).sort(), `${what}: veths vs endpoints`);
    const ips = new Set(eps.map((e) => e.ip));
    assert.equal(ips.size, eps.length, `${what}: an address leased twice`);
    // DNAT rules only towards a leased address.
    for (const m of fx.rules().matchAll(/--to-destination (\d+\.\d+\.\d+\.\d+)/g))
      assert.ok(ips.has(m[1]!), `${what}: DNAT rule to ${m[1]} that no endpoint holds`);
    // Networks: docker network ls = the document; every bridge network has its bridge, with its address.
    const nets = Object.values(doc.networks);
    assert.deepEqual(list(['network', 'ls', '--format', '{{.Name}}']).sort(), nets.map((n) => n.name).sort());
    const links = fx.links();
    for (const n of nets.filter((x) => x.driver === 'bridge')) {
      assert.ok(links.includes(n.bridge), `${what}: bridge ${n.bridge} of ${n.name} missing`);
      const addr = fx.inNs('ip', ['-o', '-4', 'addr', 'show', n.bridge]).stdout;
      assert.match(addr, /inet /, `${what}: bridge ${n.bridge} has no address`);
    }
    const bridges = new Set(nets.map((n) => n.bridge));
    for (const l of links.filter((x) => /^bth/.test(x) && !x.startsWith('bthv')))
      assert.ok(bridges.has(l), `${what}: bridge ${l} of no network`);
    // Volumes: docker volume ls = the directories.
    const vdir = join(data(), 'volumes');
    const vols = existsSync(vdir) ? readdirSync(vdir).filter((v) => existsSync(join(vdir, v, '_data'))) : [];
    assert.deepEqual(list(['volume', 'ls', '-q']).sort(), vols.sort(), `${what}: volume ls vs directories`);
  };

  before(async () => {
    if (skip) return;
    eng = await startEngine('berth-chaos-bd-');
    await fx.start(eng.sock, `chaos-bd-${process.pid}`);
  });
  after(async () => {
    if (skip) return;
    if (fx.b && fx.b.proc().exitCode !== null) await fx.b.start().catch(() => undefined);
    await fx.stop();
    await eng?.stop();
  });

  const web = (name: string, port: number) => [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    `127.0.0.1:${port}:80`,
    fx.img,
    'httpd',
    '-f',
    '-p',
    '80',
  ];

  it('run -d on the default bridge: no stray veth, rule, lease or half-made record', async (t) => {
    // Delays, and the lines berthd logs as the run goes: record made, started.
    const points: (number | RegExp)[] = [40, 60, 75, 90, 105, 200, /container created/, /container started/];
    for (const [i, ms] of points.entries()) {
      const name = `chaos-run-${i}`;
      const r = await killAt(web(name, 18100 + i), ms);
      await agree(`run killed at ${ms} ms`);
      const exists = list(['ps', '-a', '--format', '{{.Names}}']).includes(name);
      if (r.code === 0) assert.ok(exists, `docker run ${name} succeeded but the container is gone`);
      t.diagnostic(`kill at ${ms} ms: docker exited ${r.code}, container ${exists ? 'kept' : 'gone'}`);
      if (exists) ok(['rm', '-f', name]);
      await agree(`after rm -f ${name}`);
      // The name, port and address are free again.
      ok(web(name, 18100 + i));
      await agree(`after a new run of ${name}`);
      ok(['rm', '-f', name]);
    }
  });

  it('berth-engine killed under berthd during run -d: berthd carries on, nothing half-made', async (t) => {
    ok(web('chaos-keeper', 18300));
    const keeperPid = fx.pidOf('chaos-keeper');
    for (const [i, ms] of [40, 80, 120, 200].entries()) {
      const name = `chaos-eng-${i}`;
      // The engine comes back while the CLI still waits: berthd, still up, is to carry the run on or fail it cleanly.
      const r = await killDuring(
        DOCKER_28,
        web(name, 18310 + i),
        ms,
        async () => {
          await eng.kill9();
          assertSqliteIntact(eng.root);
          await eng.restart();
        },
        fx.b.env,
      );
      // berthd finds its engine again by itself; a container that ran keeps running.
      assert.equal(fx.pidOf('chaos-keeper'), keeperPid);
      assert.ok(list(['ps', '-q', '--no-trunc', '-f', 'name=chaos-keeper']).length === 1, 'the keeper runs');
      const exists = list(['ps', '-a', '--format', '{{.Names}}']).includes(name);
      t.diagnostic(`engine kill at ${ms} ms: docker exited ${r.code}, container ${exists ? 'kept' : 'gone'}`);
      if (r.code === 0) assert.ok(exists, `docker run ${name} succeeded but the container is gone`);
      // A create cut by the engine's death: berthd drops the containerd container it may have kept once the engine is back.
      await waitUntil('containerd containers without a record to go', () => orphans().length === 0, 15000);
      await agree(`engine killed at ${ms} ms into run`);
      if (exists) ok(['rm', '-f', name]);
      ok(web(name, 18310 + i));
      await agree(`after a new run of ${name}`);
      ok(['rm', '-f', name]);
    }
    ok(['rm', '-f', 'chaos-keeper']);
    await agree('after the keeper');
  });

  it('rm -f of a running container: kept and removable, or gone with its network', async () => {
    const points: (number | RegExp)[] = [0, 20, 60, 150, /container exited/];
    for (const [i, ms] of points.entries()) {
      const name = `chaos-rm-${i}`;
      ok(web(name, 18200 + i));
      await killAt(['rm', '-f', name], ms);
      await agree(`rm -f killed at ${ms} ms`);
      if (list(['ps', '-a', '--format', '{{.Names}}']).includes(name)) ok(['rm', '-f', name]);
      await agree(`after rm -f of ${name}`);
    }
  });

  it('run --rm: killed before or after its answer, the removal ends at the next start', async (t) => {
    // "remove steps": the record is moved aside, the engine's side of the removal under way
    const points: (number | RegExp)[] = [60, 120, /container exited/, /remove steps/];
    for (const [i, ms] of points.entries()) {
      const name = `chaos-rmrun-${i}`;
      const r = await killAt(['run', '--rm', '--name', name, fx.img, 'sh', '-c', 'sleep 0.2'], ms);
      t.diagnostic(`kill at ${ms} ms: docker exited ${r.code}`);
      await agree(`run --rm killed at ${ms} ms`);
      if (list(['ps', '-a', '--format', '{{.Names}}']).includes(name)) ok(['rm', '-f', name]);
      ok(['run', '--rm', '--name', name, fx.img, 'true']);
      await agree(`after a new run --rm of ${name}`);
    }
  });

  it('pull: the image is whole or absent, and a re-pull works', async () => {
    ok(['rmi', fx.img]);
    for (const ms of [30, 100, 250]) {
      const r = await killAt(['pull', '-q', fx.img], ms);
      const have = list(['images', '--format', '{{.Repository}}:{{.Tag}}']).includes(fx.img);
      if (r.code === 0) assert.ok(have, 'a pull docker reported done is kept');
      if (have) ok(['run', '--rm', fx.img, 'true']);
      ok(['pull', '-q', fx.img]);
      ok(['run', '--rm', fx.img, 'true']);
      await agree(`pull killed at ${ms} ms`);
      ok(['rmi', fx.img]);
    }
    ok(['pull', '-q', fx.img]);
  });

  it('volume rm: listed with its directory, or gone with it', async () => {
    for (const [i, ms] of [0, 10, 30].entries()) {
      const v = `chaos-vol-${i}`;
      ok(['volume', 'create', v]);
      await killAt(['volume', 'rm', v], ms);
      await agree(`volume rm killed at ${ms} ms`);
      if (list(['volume', 'ls', '-q']).includes(v)) ok(['volume', 'rm', v]);
      await agree(`after volume rm ${v}`);
    }
  });

  it('network create and rm: listed with an addressed bridge, or gone with it', async () => {
    const points: (number | RegExp)[] = [0, 20, 60, 150, /network (created|removed)/];
    for (const [i, ms] of points.entries()) {
      const n = `chaos-net-${i}`;
      await killAt(['network', 'create', '--subnet', `10.${210 + i}.0.0/24`, n], ms);
      await agree(`network create killed at ${ms} ms`);
      if (!list(['network', 'ls', '--format', '{{.Name}}']).includes(n))
        ok(['network', 'create', '--subnet', `10.${210 + i}.0.0/24`, n]);
      await killAt(['network', 'rm', n], ms);
      await agree(`network rm killed at ${ms} ms`);
      if (list(['network', 'ls', '--format', '{{.Name}}']).includes(n)) ok(['network', 'rm', n]);
      await agree(`after network rm ${n}`);
    }
  });
});
