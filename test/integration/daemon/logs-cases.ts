// The logging cases of berthd, run by logs.test.ts (a real containerd) and
// logs-engine.test.ts (berth-engine) against a berthd of their own (logsOn): berth-logger
// writes the log while berthd is stopped (SIGTERM with live-restore, and
// kill -9), a container writing 10 MB meanwhile is not blocked, rotation
// makes dockerd's files and `docker logs` reads across them (json-file and
// local), `logs -f` survives rotations, the options of `docker logs`,
// attach after a restart, `--log-driver none` as dockerd answers it, and the
// logger's own footprint (one small C process per container, no Node.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DOCKER_28, rawRequest, type Berthd } from '../../helpers/berthd.js';
import { withBerthdStack, type Backend } from '../../helpers/berthd-stack.js';
import { sleep, waitUntil } from '../../helpers/wait.js';
import { readLog } from '../../../src/daemon/containers/logfile.js';

interface LogsFixture {
  b: Berthd;
  img: string;
}

/** berth-logger processes of namespace `ns` (by the CONTAINER_NAMESPACE its shim gave it), with their container ids. */
export function loggers(ns: string): { pid: number; id: string; rssKb: number }[] {
  const out: { pid: number; id: string; rssKb: number }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'berth-logger') continue;
      const env = readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      if (!env.includes(`CONTAINER_NAMESPACE=${ns}`)) continue;
      const id = env.find((e) => e.startsWith('CONTAINER_ID='))?.slice('CONTAINER_ID='.length) ?? '';
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'));
      out.push({ pid: Number(d), id, rssKb: Number(rss?.[1] ?? 0) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Numbered lines "<word> N" of a log, checked to be N0, N0+1, ... with nothing missing or repeated. */
/** `docker run -d --name NAME --network none [FLAGS] IMG sh -c SCRIPT`: the container's id. */
function runSh(b: Berthd, name: string, img: string, script: string, flags: string[] = []): string {
  return b.ok(['run', '-d', '--name', name, '--network', 'none', ...flags, img, 'sh', '-c', script]).trim();
}

function numbered(text: string, word: string): number[] {
  const ns = text
    .split('\n')
    .filter((l) => l.startsWith(`${word} `))
    .map((l) => Number(l.split(' ')[1]));
  ns.forEach((n, i) => assert.equal(n, ns[0]! + i, `line ${i} of ${word}: ${n} after ${ns[i - 1]}`));
  return ns;
}

async function sigterm(b: Berthd): Promise<void> {
  const c = b.proc();
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await gone;
}

/** The cases on `backend`, for the calling file: one registry, one backend and one berthd, stopped in after(). */
export function logsOn(backend: Backend): void {
  const tag = backend === 'engine' ? 'eng' : 'ctrd';
  withBerthdStack(
    backend,
    { prefix: `berthd-logs-${tag}-`, pull: (host) => [`${host}/berth/busybox:latest`] },
    (get, skip) => logCases(get, skip, tag),
  );
}

function logCases(get: () => LogsFixture, skip: string | false, tag: string): void {
  const name = (what: string) => `${what}-${tag}-${randomBytes(3).toString('hex')}`;

  test(
    'output written while berthd is down (SIGTERM, then kill -9) is in docker logs; attach works after',
    { skip },
    async () => {
      const { b, img } = get();
      const n = name('down');
      const id = runSh(b, n, img, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done');
      await waitUntil('some lines', () => b.ok(['logs', n]).includes('tick 3'));
      for (const stopBerthd of [sigterm, (x: Berthd) => x.kill9()]) {
        const before = numbered(b.ok(['logs', n]), 'tick').at(-1)!;
        await stopBerthd(b);
        const downAt = Date.now();
        await sleep(1500);
        const upAt = Date.now();
        await b.start();
        const text = b.ok(['logs', '-t', n]);
        const all = numbered(b.ok(['logs', n]), 'tick');
        assert.equal(all[0], 0);
        assert.ok(all.at(-1)! > before + 15, `lines were written while berthd was down (${before} -> ${all.at(-1)})`);
        const whileDown = text
          .split('\n')
          .filter(Boolean)
          .filter((l) => {
            const t = Date.parse(l.split(' ')[0]!);
            return t > downAt + 100 && t < upAt - 100;
          });
        assert.ok(whileDown.length > 10, `${whileDown.length} lines stamped while berthd was down`);
      }
      // attach again after the restarts: the live output, framed (no tty)
      const att = spawn(DOCKER_28, ['attach', '--no-stdin', n], { env: b.env });
      let got = '';
      att.stdout.on('data', (d: Buffer) => (got += d.toString()));
      await waitUntil('attach output', () => /tick \d+\ntick \d+\n/.test(got), 15000);
      att.kill('SIGKILL');
      b.ok(['rm', '-f', id]);
    },
  );

  test(
    '-i without a tty: the logger berthd starts outlives a berthd kill -9 and ends with its container',
    { skip },
    async () => {
      const { b, img } = get();
      const n = name('stdin');
      const id = runSh(b, n, img, 'i=0; while true; do echo "s $i"; i=$((i+1)); sleep 0.05; done', ['-i']);
      await waitUntil('its logger', () => loggers(b.namespace).some((l) => l.id === id));
      const logger = loggers(b.namespace).find((l) => l.id === id)!;
      await waitUntil('some lines', () => b.ok(['logs', n]).includes('s 3'));
      const before = numbered(b.ok(['logs', n]), 's').at(-1)!;
      await b.kill9();
      try {
        await sleep(1500);
        assert.ok(existsSync(`/proc/${logger.pid}`), 'the logger runs while berthd is down');
      } finally {
        await b.start();
      }
      const all = numbered(b.ok(['logs', n]), 's');
      assert.equal(all[0], 0);
      assert.ok(all.at(-1)! > before + 15, `lines were written while berthd was down (${before} -> ${all.at(-1)})`);
      b.ok(['rm', '-f', id]);
      await waitUntil(
        'the logger to end with its container',
        () => !existsSync(`/proc/${logger.pid}`) || readFileSync(`/proc/${logger.pid}/stat`, 'utf8').includes(') Z'),
      );
    },
  );

  test('-i: stdin through docker attach after a berthd kill -9', { skip }, async () => {
    const { b, img } = get();
    const n = name('stdin2');
    const id = runSh(b, n, img, 'while read l; do echo "got $l"; done', ['-i']);
    await b.kill9();
    await b.start();
    assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', n]).trim(), 'running', 'stdin did not end with berthd');
    const att = spawn(DOCKER_28, ['attach', n], { env: b.env });
    let got = '';
    att.stdout.on('data', (d: Buffer) => (got += d.toString()));
    await sleep(500);
    att.stdin.write('hello\n');
    try {
      await waitUntil('the answer through attach', () => got.includes('got hello'), 15000);
    } finally {
      att.kill('SIGKILL');
    }
    assert.match(b.ok(['logs', n]), /got hello/);
    b.ok(['rm', '-f', id]);
  });

  test('a container writing 10 MB while berthd is down is not blocked; all of it is logged', { skip }, async () => {
    const { b, img } = get();
    const n = name('big');
    const script =
      'while [ ! -e /tmp/go ]; do sleep 0.05; done; ' +
      'yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz01234567 | head -n 102400; ' +
      'echo finished > /tmp/done; sleep 1000';
    const id = runSh(b, n, img, script);
    const pid = Number(b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
    await b.kill9();
    try {
      // 102400 lines of 106 bytes + newline: 11 MB, 167 times a FIFO's 64 KiB
      writeFileSync(`/proc/${pid}/root/tmp/go`, '');
      await waitUntil(
        'the container to finish writing with berthd down',
        () => existsSync(`/proc/${pid}/root/tmp/done`),
        60000,
        100,
      );
    } finally {
      await b.start();
    }
    const logPath = b.ok(['inspect', '-f', '{{.LogPath}}', id]).trim();
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    assert.equal(lines.length, 102400);
    assert.equal(
      JSON.parse(lines[0]!).log,
      `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz01234567'}\n`,
    );
    const out = b.docker(['logs', '--tail', '2', n]).stdout;
    assert.equal(out.split('\n').length, 3);
    const size = spawnSync('sh', ['-c', `${DOCKER_28} logs ${n} | wc -c`], { env: b.env, encoding: 'utf8' });
    assert.equal(Number(size.stdout.trim()), 102400 * 107);
    b.ok(['rm', '-f', id]);
  });

  test(
    "rotation: dockerd's file names and count for json-file and local; docker logs reads across them",
    { skip },
    async () => {
      const { b, img } = get();
      const write = 'i=0; while [ $i -lt 6000 ]; do echo "line $i"; i=$((i+1)); done';
      const js = name('rotj');
      const jid = runSh(b, js, img, write, ['--log-opt', 'max-size=20k', '--log-opt', 'max-file=3']);
      const loc = name('rotl');
      const lid = runSh(b, loc, img, write, ['--log-driver', 'local', '--log-opt', 'max-size=10k']);
      for (const c of [js, loc]) assert.equal(b.ok(['wait', c]).trim(), '0');
      const jpath = b.ok(['inspect', '-f', '{{.LogPath}}', jid]).trim();
      assert.match(jpath, new RegExp(`/${jid}-json\\.log$`));
      assert.deepEqual(
        readdirSync(dirname(jpath))
          .filter((f) => f.includes('json.log'))
          .sort(),
        [`${jid}-json.log`, `${jid}-json.log.1`, `${jid}-json.log.2`],
      );
      const lpath = b.ok(['inspect', '-f', '{{.LogPath}}', lid]).trim();
      assert.match(lpath, /\/local-logs\/container\.log$/);
      // dockerd's local driver: 5 files, the rotated ones gzip'ed
      await waitUntil(
        'the compression of the last rotation',
        () =>
          readdirSync(dirname(lpath)).length === 5 &&
          !readdirSync(dirname(lpath)).some((f) => f.endsWith('.tmp') || /\.\d$/.test(f)),
      );
      assert.deepEqual(readdirSync(dirname(lpath)).sort(), [
        'container.log',
        'container.log.1.gz',
        'container.log.2.gz',
        'container.log.3.gz',
        'container.log.4.gz',
      ]);
      for (const [c, driver, path] of [
        [js, 'json-file', jpath],
        [loc, 'local', lpath],
      ] as const) {
        const ns = numbered(b.ok(['logs', c]), 'line');
        assert.equal(ns.at(-1), 5999, `${c}: the newest line is there`);
        assert.ok(ns[0]! > 0, `${c}: the oldest lines went with the oldest file`);
        let current = 0;
        for await (const e of readLog({ driver, maxSize: 0, maxFile: 1, compress: false }, path)) current += e ? 1 : 0;
        assert.ok(
          ns.length > current + 100,
          `${c}: the rotated files were read too (${ns.length} lines, ${current} in the current file)`,
        );
        // tail across files
        assert.equal(b.ok(['logs', '--tail', '3', c]), 'line 5997\nline 5998\nline 5999\n');
      }
      b.ok(['rm', jid, lid]);
    },
  );

  test('logs -f survives rotations and ends with the container', { skip }, async () => {
    const { b, img } = get();
    const n = name('follow');
    const id = runSh(
      b,
      n,
      img,
      'sleep 1; i=0; while [ $i -lt 3000 ]; do echo "f $i"; i=$((i+1)); [ $((i % 300)) = 0 ] && sleep 0.2; done',
      ['--log-opt', 'max-size=4k', '--log-opt', 'max-file=50'],
    );
    const f = spawn(DOCKER_28, ['logs', '-f', n], { env: b.env });
    let got = '';
    f.stdout.on('data', (d: Buffer) => (got += d.toString()));
    const code = await new Promise<number | null>((r) => f.once('exit', r));
    assert.equal(code, 0);
    const ns = numbered(got, 'f');
    assert.equal(ns.length, 3000, 'every line once, in order');
    const files = readdirSync(dirname(b.ok(['inspect', '-f', '{{.LogPath}}', id]).trim())).filter((x) =>
      x.includes('json.log'),
    );
    assert.ok(files.length > 10, `rotated ${files.length} times`);
    b.ok(['rm', id]);
  });

  test(
    'docker logs options: since, until, tail, timestamps, details, stream choice; attach logs replay',
    { skip },
    async () => {
      const { b, img } = get();
      const n = name('opts');
      const id = runSh(b, n, img, 'echo a1; echo e1 >&2; sleep 1.5; echo a2; echo e2 >&2');
      b.ok(['wait', n]);
      const all = b.docker(['logs', n]);
      assert.equal(all.stdout, 'a1\na2\n');
      assert.equal(all.stderr, 'e1\ne2\n');
      // tail counts the log's last lines, both streams together, as dockerd does
      const tail = b.docker(['logs', '--tail', '1', n]);
      assert.deepEqual([tail.stdout, tail.stderr], ['', 'e2\n']);
      const tail2 = b.docker(['logs', '--tail', '2', n]);
      assert.deepEqual([tail2.stdout, tail2.stderr], ['a2\n', 'e2\n']);
      const ts = b.ok(['logs', '-t', n]).trim().split('\n');
      assert.match(ts[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z a1$/);
      const t2 = Date.parse(ts[1]!.split(' ')[0]!);
      const mid = new Date(t2 - 500).toISOString();
      assert.equal(b.docker(['logs', '--since', mid, n]).stdout, 'a2\n');
      assert.equal(b.docker(['logs', '--until', mid, n]).stdout, 'a1\n');
      assert.equal(b.ok(['logs', '--details', n]), ' a1\n a2\n');
      // the API: stderr only, multiplexed frames
      const r = await rawRequest(b.sock, 'GET', `/containers/${id}/logs?stderr=1`);
      assert.equal(r.status, 200);
      const raw = Buffer.from(r.body, 'utf8');
      assert.equal(raw[0], 2);
      assert.equal(raw.subarray(8, 8 + raw.readUInt32BE(4)).toString(), 'e1\n');
      const none = await rawRequest(b.sock, 'GET', `/containers/${id}/logs`);
      assert.equal(none.status, 400);
      assert.match(none.body, /you must choose at least one stream/);
      // attach with logs=1&stream=0: the log replayed, then the end
      const att = await rawRequest(b.sock, 'POST', `/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`);
      assert.equal(att.status, 200);
      assert.match(att.body, /a1\n[\s\S]*e1\n[\s\S]*a2\n/);
      b.ok(['rm', id]);
    },
  );

  test('--log-driver none: no file, docker logs refused as dockerd does, attach still streams', { skip }, async () => {
    const { b, img } = get();
    const n = name('none');
    const run = b.docker([
      'run',
      '--name',
      n,
      '--log-driver',
      'none',
      '--network',
      'none',
      img,
      'sh',
      '-c',
      'echo visible',
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'visible\n');
    assert.equal(b.ok(['inspect', '-f', '{{.HostConfig.LogConfig.Type}}|{{.LogPath}}', n]).trim(), 'none|');
    const logs = b.docker(['logs', n]);
    assert.equal(logs.status, 1);
    assert.match(logs.stderr, /configured logging driver does not support reading/);
    const bad = b.docker(['run', '--rm', '--log-driver', 'syslogz', img, 'true']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no log driver named 'syslogz' is registered/);
    const opt = b.docker(['run', '--rm', '--log-opt', 'max-file=0', img, 'true']);
    assert.notEqual(opt.status, 0);
    assert.match(opt.stderr, /max-file cannot be less than 1/);
    b.ok(['rm', n]);
  });

  test('a tty container: docker logs and attach get the raw bytes', { skip }, async () => {
    const { b, img } = get();
    const n = name('tty');
    const id = runSh(b, n, img, 'printf "prompt> "; sleep 1; echo done; sleep 1000', ['-t']);
    const att = spawn(DOCKER_28, ['attach', '--no-stdin', n], { env: b.env });
    let got = '';
    att.stdout.on('data', (d: Buffer) => (got += d.toString()));
    await waitUntil('tty output through attach', () => got.includes('done'), 15000);
    att.kill('SIGKILL');
    assert.equal(b.ok(['logs', n]), 'prompt> done\r\n');
    b.ok(['rm', '-f', id]);
  });

  test('one berth-logger per running container, well under 1 MB RSS, gone with its container', { skip }, async () => {
    const { b, img } = get();
    const n = name('rss');
    const id = runSh(b, n, img, 'while true; do echo x; sleep 0.1; done');
    await waitUntil('its logger', () => loggers(b.namespace).some((l) => l.id === id));
    const mine = loggers(b.namespace).filter((l) => l.id === id);
    assert.equal(mine.length, 1);
    assert.ok(mine[0]!.rssKb > 0 && mine[0]!.rssKb < 1024, `berth-logger VmRSS ${mine[0]!.rssKb} kB`);
    process.stderr.write(`# berth-logger VmRSS (${tag}): ${mine[0]!.rssKb} kB\n`);
    b.ok(['rm', '-f', id]);
    await waitUntil('the logger to end with its container', () => !loggers(b.namespace).some((l) => l.id === id));
  });
}
