// The healthcheck flows of berthd (registered by ./lifecycle-flows.ts for
// each engine): flags and the image's HEALTHCHECK, states and events, the
// 5-entry log, probe timeouts that kill, the 4096-byte cut, stop and resume
// across a berthd kill -9, start period and start interval.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rawRequest, pastEvents } from '../../helpers/berthd.js';
import { sleep, waitUntil } from '../../helpers/wait.js';
import { health, pidOf, procsWith, type Fixture, type Register } from './lifecycle-common.js';

export function healthTests(t: Register, fx: () => Fixture, run: (args: string[]) => string): void {
  t('healthcheck from flags: starting → unhealthy → healthy, ps, filters, events, log of 5', async () => {
    const { b, img } = fx();
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = run([
      '--name',
      'hc-flags',
      '--health-cmd',
      'cat /tmp/ok',
      '--health-interval',
      '500ms',
      '--health-retries',
      '3',
      img,
      'sleep',
      '300',
    ]);
    assert.equal(health(b, id)?.Status, 'starting');
    assert.match(b.ok(['ps', '--filter', 'name=hc-flags', '--format', '{{.Status}}']), /^Up .*\(health: starting\)$/m);
    await waitUntil('unhealthy', () => health(b, id)?.Status === 'unhealthy', 15000, 100);
    const h = health(b, id)!;
    assert.ok(h.FailingStreak >= 3, JSON.stringify(h));
    assert.equal(h.Log.at(-1)!.ExitCode, 1);
    assert.match(h.Log.at(-1)!.Output, /can't open '\/tmp\/ok': No such file or directory\n$/);
    assert.ok(Date.parse(h.Log.at(-1)!.End) >= Date.parse(h.Log.at(-1)!.Start));
    assert.equal(b.ok(['ps', '-q', '--no-trunc', '--filter', 'health=unhealthy']).trim(), id);
    assert.match(b.ok(['ps', '--filter', 'name=hc-flags', '--format', '{{.Status}}']), /\(unhealthy\)$/m);
    b.ok(['exec', id, 'sh', '-c', 'echo fine > /tmp/ok']);
    await waitUntil('healthy', () => health(b, id)?.Status === 'healthy', 15000, 100);
    assert.equal(health(b, id)!.FailingStreak, 0);
    assert.equal(health(b, id)!.Log.at(-1)!.Output, 'fine\n');
    assert.equal(b.ok(['ps', '-q', '--no-trunc', '--filter', 'health=healthy']).trim(), id);
    assert.equal(b.ok(['ps', '-q', '--filter', 'health=unhealthy']).trim(), '');
    // Only the last 5 results are kept.
    await waitUntil('5 log entries', () => health(b, id)!.Log.length === 5, 15000, 100);
    await sleep(700);
    assert.equal(health(b, id)!.Log.length, 5);
    const ev = pastEvents(b, since, [`container=${id}`], '{{.Action}}');
    assert.match(ev, /health_status: unhealthy\n(.*\n)*health_status: healthy\n/);
    assert.match(ev, /exec_create: \/bin\/sh -c cat \/tmp\/ok\n/);
    assert.match(ev, /exec_die/);
    // A bad filter value is dockerd's 400.
    const bad = b.docker(['ps', '--filter', 'health=sickly']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /Unrecognised filter value for health: sickly/);
    b.ok(['rm', '-f', id]);
  });

  t("the image's HEALTHCHECK, overrides, --no-healthcheck, and create's checks", async () => {
    const { b, hcImg } = fx();
    const a = run(['-e', 'HC_MARK=from-env', hcImg, 'sleep', '300']);
    const cfg = JSON.parse(b.ok(['inspect', '-f', '{{json .Config.Healthcheck}}', a]));
    assert.deepEqual(cfg.Test, ['CMD-SHELL', 'echo img-probe $HC_MARK']);
    await waitUntil('healthy from the image', () => health(b, a)?.Status === 'healthy', 15000, 100);
    // The probe runs with the container's environment.
    assert.equal(health(b, a)!.Log[0]!.Output, 'img-probe from-env\n');
    // A flag replaces one field; the image's test stays.
    const o = run(['--health-interval', '2s', hcImg, 'sleep', '300']);
    const ocfg = JSON.parse(b.ok(['inspect', '-f', '{{json .Config.Healthcheck}}', o]));
    assert.deepEqual(ocfg.Test, ['CMD-SHELL', 'echo img-probe $HC_MARK']);
    assert.equal(ocfg.Interval, 2e9);
    const n = run(['--no-healthcheck', hcImg, 'sleep', '300']);
    assert.deepEqual(JSON.parse(b.ok(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', n])), ['NONE']);
    await sleep(800);
    assert.equal(health(b, n), null);
    assert.match(b.ok(['ps', '-q', '--no-trunc', '--filter', 'health=none']), new RegExp(n));
    assert.doesNotMatch(b.ok(['ps', '--filter', `id=${n}`, '--format', '{{.Status}}']), /health/);
    // dockerd's words for values the CLI lets through.
    for (const [hc, msg] of [
      [{ Test: ['CMD', 'true'], Interval: 500_000 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Timeout: 10 }, 'Timeout in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Retries: -1 }, 'Retries in Healthcheck cannot be negative'],
    ] as const) {
      const r = await rawRequest(
        b.sock,
        'POST',
        '/containers/create',
        JSON.stringify({ Image: hcImg, Healthcheck: hc }),
      );
      assert.equal(r.status, 400, r.body);
      assert.equal(JSON.parse(r.body).message, msg);
    }
    // A probe that cannot even start: exit -1, the runtime's words, and it counts as a failure.
    const made = await rawRequest(
      b.sock,
      'POST',
      '/containers/create',
      JSON.stringify({
        Image: hcImg,
        Cmd: ['sleep', '300'],
        HostConfig: { NetworkMode: 'none' },
        Healthcheck: { Test: ['CMD', '/no/such/probe'], Interval: 200e6, Retries: 1 },
      }),
    );
    assert.equal(made.status, 201, made.body);
    const x = JSON.parse(made.body).Id as string;
    b.ok(['start', x]);
    await waitUntil('unhealthy', () => health(b, x)?.Status === 'unhealthy', 15000, 100);
    const xl = health(b, x)!.Log[0]!;
    assert.equal(xl.ExitCode, -1);
    // The runtime's own words, as dockerd keeps them (runc's "OCI runtime exec failed: ..." on containerd).
    assert.match(xl.Output, /^(OCI runtime exec failed: |exec ).*\/no\/such\/probe/);
    b.ok(['rm', '-f', a, o, n, x]);
  });

  t('a probe past its timeout is killed; output is cut at 4096 bytes', async () => {
    const { b, img } = fx();
    const slow = run([
      '--health-cmd',
      'sleep 31',
      '--health-timeout',
      '300ms',
      '--health-interval',
      '200ms',
      img,
      'sleep',
      '300',
    ]);
    await waitUntil('3 timed-out probes', () => (health(b, slow)?.Log.length ?? 0) >= 3, 20000, 100);
    const h = health(b, slow)!;
    for (const e of h.Log) {
      assert.equal(e.ExitCode, -1);
      assert.equal(e.Output, 'Health check exceeded timeout (300ms)');
    }
    // Each probe's `sleep 31` was killed: at most the one in flight is alive.
    const inSlow = (p: number) => {
      try {
        return readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(slow);
      } catch {
        return false;
      }
    };
    const probes = procsWith(['sleep', '31']).filter(inSlow);
    assert.ok(probes.length <= 1, `probes left: ${probes.join(' ')}`);
    assert.equal(h.Status, 'unhealthy');
    const big = run([
      '--health-cmd',
      'head -c 5000 /dev/zero | tr "\\000" x',
      '--health-interval',
      '200ms',
      img,
      'sleep',
      '300',
    ]);
    await waitUntil('healthy', () => health(b, big)?.Status === 'healthy', 15000, 100);
    const out = health(b, big)!.Log[0]!.Output;
    assert.ok(out === 'x'.repeat(4096) + '...', `${out.length} bytes: ${out.slice(0, 20)}…${out.slice(-20)}`);
    b.ok(['rm', '-f', slow, big]);
  });

  t('health checks stop with the container, and resume after berthd is killed -9', async () => {
    const { b, img } = fx();
    const id = run(['--health-cmd', 'echo probe', '--health-interval', '200ms', img, 'sleep', '300']);
    await waitUntil('healthy', () => health(b, id)?.Status === 'healthy', 15000, 100);
    b.ok(['stop', '-t', '1', id]);
    const ends = health(b, id)!.Log.map((e) => e.End);
    await sleep(800);
    assert.deepEqual(
      health(b, id)!.Log.map((e) => e.End),
      ends,
      'no probe runs while the container is stopped',
    );
    b.ok(['start', id]);
    assert.equal(health(b, id)!.Status, 'starting');
    await waitUntil('healthy again', () => health(b, id)?.Status === 'healthy', 15000, 100);
    const pid = pidOf(b, id);
    await b.kill9();
    await b.start();
    assert.equal(pidOf(b, id), pid, 'the container outlived berthd');
    const last = health(b, id)!.Log.at(-1)!.End;
    await waitUntil('a probe after the restart', () => health(b, id)!.Log.at(-1)!.End > last, 15000, 100);
    assert.equal(health(b, id)!.Status, 'healthy');
    b.ok(['rm', '-f', id]);
  });

  t('start period and start interval: failures inside it do not count, probes come faster', async () => {
    const { b, img } = fx();
    const id = run([
      '--health-cmd',
      'cat /tmp/ok',
      '--health-interval',
      '10s',
      '--health-start-period',
      '60s',
      '--health-start-interval',
      '200ms',
      '--health-retries',
      '1',
      img,
      'sleep',
      '300',
    ]);
    // Every 200 ms while starting, none of the failures counted.
    await waitUntil('3 probes in the start period', () => (health(b, id)?.Log.length ?? 0) >= 3, 15000, 100);
    const h = health(b, id)!;
    assert.equal(h.Status, 'starting');
    assert.equal(h.FailingStreak, 0);
    assert.ok(h.Log.every((e) => e.ExitCode === 1));
    b.ok(['exec', id, 'touch', '/tmp/ok']);
    await waitUntil('healthy', () => health(b, id)?.Status === 'healthy', 15000, 100);
    // Healthy: the start interval no longer applies, the next probe is 10 s away.
    const n = health(b, id)!.Log.length;
    await sleep(1000);
    assert.equal(health(b, id)!.Log.length, n);
    b.ok(['rm', '-f', id]);
  });
}
