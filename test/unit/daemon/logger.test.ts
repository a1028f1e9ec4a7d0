// berth-logger, the real binary, fed through its fds 3 and 4 as a shim
// feeds it, and read back with berthd's reader: json-file and local records,
// lines cut at 16 KiB, rotation with dockerd's file names (plain and
// gzip'ed), `logs -f` across rotations, the attach socket's frames, the end
// of output on SIGTERM; and the LogConfig options berthd accepts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { loggerBinary, logSettings, type LogSettings } from '../../../src/daemon/containers/logdriver.js';
import { readLog, type LogEntry } from '../../../src/daemon/containers/logfile.js';
import type { DaemonConfig } from '../../../src/daemon/config.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-logger-unit-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const skip = existsSync(loggerBinary()) ? false : 'native/build/berth-logger is not built';

interface Logger {
  child: ChildProcess;
  out: Writable;
  err: Writable;
  exited: Promise<number | null>;
}

/** Starts berth-logger and resolves once it is ready (its fd 5 closed). */
async function startLogger(args: Record<string, string>): Promise<Logger> {
  const child = spawn(loggerBinary(), Object.entries(args).flat(), {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe'],
    env: { CONTAINER_ID: 'unit', CONTAINER_NAMESPACE: 'test' },
  });
  const io = child.stdio as unknown as (Readable & Writable)[];
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  await new Promise<void>((res) => {
    io[5]!.once('close', () => res());
    io[5]!.resume();
  });
  return { child, out: io[3]!, err: io[4]!, exited };
}

async function write(w: Writable, data: string | Buffer): Promise<void> {
  await new Promise<void>((res, rej) => w.write(data, (e) => (e ? rej(e) : res())));
}

async function entries(s: LogSettings, path: string): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  for await (const e of readLog(s, path)) all.push(e);
  return all;
}

const settings = (driver: 'json-file' | 'local', o: Partial<LogSettings> = {}): LogSettings => ({
  driver,
  maxSize: 0,
  maxFile: 1,
  compress: false,
  ...o,
});

for (const driver of ['json-file', 'local'] as const) {
  test(`${driver}: lines per stream, 16 KiB cuts, the unfinished last line, bytes kept`, { skip }, async () => {
    const path = join(dir, `${driver}.log`);
    const l = await startLogger({ driver, path });
    await write(l.out, 'one\ntw');
    await write(l.err, 'err <&> "q"\n');
    await write(l.out, 'o\n' + 'x'.repeat(20000) + '\n');
    await write(l.out, Buffer.from([0xe2, 0x82, 0xac, 0x0a])); // € in UTF-8
    await write(l.out, 'tail');
    l.out.end();
    l.err.end();
    assert.equal(await l.exited, 0);
    const got = await entries(settings(driver), path);
    // the two streams are read as they come: their order is the order of each stream
    const ordered = [...got.filter((e) => e.stream === 'stderr'), ...got.filter((e) => e.stream === 'stdout')];
    assert.deepEqual(
      ordered.map((e) => [e.stream, e.log.length > 100 ? e.log.length : e.log.toString()]),
      [
        ['stderr', 'err <&> "q"\n'],
        ['stdout', 'one\n'],
        ['stdout', 'two\n'],
        ['stdout', 16384],
        ['stdout', 20001 - 16384],
        ['stdout', '€\n'],
        ['stdout', 'tail'],
      ],
    );
    for (const e of got) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.ok(Math.abs(got[0]!.ms - Date.now()) < 60_000);
    if (driver === 'json-file') {
      // dockerd's encoding: HTML characters escaped, one object per line
      const first = readFileSync(path, 'utf8')
        .split('\n')
        .find((l) => l.includes('stderr'))!;
      assert.match(first, /^\{"log":"err \\u003c\\u0026\\u003e \\"q\\"\\n","stream":"stderr","time":"[^"]+"\}$/);
    } else {
      // framed: u32 size, message, the same u32
      const b = readFileSync(path);
      const n = b.readUInt32BE(0);
      assert.equal(b.readUInt32BE(4 + n), n);
    }
  });
}

test('invalid UTF-8 becomes U+FFFD in json-file, as dockerd writes it; local keeps the bytes', { skip }, async () => {
  for (const driver of ['json-file', 'local'] as const) {
    const path = join(dir, `bad-${driver}.log`);
    const l = await startLogger({ driver, path });
    await write(l.out, Buffer.from([0x61, 0xff, 0x62, 0x0a]));
    l.out.end();
    l.err.end();
    await l.exited;
    const [e] = await entries(settings(driver), path);
    assert.deepEqual(
      [...e!.log],
      driver === 'json-file' ? [0x61, 0xef, 0xbf, 0xbd, 0x62, 0x0a] : [0x61, 0xff, 0x62, 0x0a],
    );
  }
});

for (const compress of [false, true]) {
  test(
    `rotation${compress ? ' with compression' : ''}: dockerd's names, max-file kept, read back in order`,
    { skip },
    async () => {
      const path = join(dir, `rot-${compress}`, 'c-json.log');
      rmSync(join(dir, `rot-${compress}`), { recursive: true, force: true });
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(dir, `rot-${compress}`));
      const s = settings('json-file', { maxSize: 1000, maxFile: 3, compress });
      const l = await startLogger({
        driver: 'json-file',
        path,
        'max-size': '1000',
        'max-file': '3',
        compress: String(compress),
      });
      for (let i = 0; i < 100; i++) await write(l.out, `line ${i}\n`);
      l.out.end();
      l.err.end();
      assert.equal(await l.exited, 0);
      const names = readdirSync(join(dir, `rot-${compress}`)).sort();
      assert.deepEqual(
        names,
        compress
          ? ['c-json.log', 'c-json.log.1.gz', 'c-json.log.2.gz']
          : ['c-json.log', 'c-json.log.1', 'c-json.log.2'],
      );
      for (const n of names) {
        const raw = readFileSync(join(dir, `rot-${compress}`, n));
        const text = n.endsWith('.gz') ? gunzipSync(raw) : raw;
        assert.ok(text.length <= 1000, `${n} within max-size (${text.length})`);
      }
      const seen = (await entries(s, path)).map((e) => e.log.toString().trim());
      assert.equal(seen.at(-1), 'line 99');
      assert.ok(seen.length > 20 && seen.length < 100, `${seen.length} lines kept`);
      assert.deepEqual(
        seen,
        seen.map((_, i) => `line ${100 - seen.length + i}`),
      );
    },
  );
}

test('follow: every line once, in order, through rotations while they happen', { skip }, async () => {
  const sub = join(dir, 'follow');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(sub);
  const path = join(sub, 'container.log');
  const s = settings('local', { maxSize: 4096, maxFile: 100 });
  const l = await startLogger({ driver: 'local', path, 'max-size': '4096', 'max-file': '100' });
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const seen: string[] = [];
  const reader = (async () => {
    for await (const e of readLog(s, path, { stop: stopped })) seen.push(e.log.toString().trim());
  })();
  for (let i = 0; i < 2000; i++) {
    await write(l.out, `n ${i}\n`);
    // bursts of several rotations between two looks of the reader (every 100 ms)
    if (i % 400 === 0) await new Promise((r) => setTimeout(r, 30));
  }
  l.out.end();
  l.err.end();
  await l.exited;
  stop();
  await reader;
  assert.ok(readdirSync(sub).length > 5, 'the log was rotated several times');
  assert.equal(seen.length, 2000);
  assert.deepEqual(
    seen,
    seen.map((_, i) => `n ${i}`),
  );
});

test('follow with max-file 1: the file truncated in place is read again from its start', { skip }, async () => {
  const path = join(dir, 'trunc-json.log');
  const s = settings('json-file', { maxSize: 600, maxFile: 1 });
  const l = await startLogger({ driver: 'json-file', path, 'max-size': '600', 'max-file': '1' });
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const seen: number[] = [];
  const reader = (async () => {
    for await (const e of readLog(s, path, { stop: stopped })) seen.push(Number(e.log.toString().split(' ')[1]));
  })();
  for (let i = 0; i < 60; i++) {
    await write(l.out, `t ${i}\n`);
    await new Promise((r) => setTimeout(r, 20)); // slower than the reader looks: each truncation is seen
  }
  l.out.end();
  l.err.end();
  await l.exited;
  stop();
  await reader;
  assert.ok(readFileSync(path).length <= 600);
  assert.equal(seen.at(-1), 59, 'the lines after the truncations were followed');
  assert.ok(
    seen.every((n, i) => i === 0 || n > seen[i - 1]!),
    `in order: ${seen.join(' ')}`,
  );
});

test(
  'attach socket: stdcopy frames of what the streams carry; SIGTERM ends it with the output drained',
  { skip },
  async () => {
    const sock = join(dir, 'att.sock');
    const path = join(dir, 'att-json.log');
    const l = await startLogger({ driver: 'json-file', path, attach: sock });
    const c = connect(sock);
    await new Promise<void>((r) => c.once('connect', () => r()));
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 50)); // the logger accepts before it reads more
    await write(l.out, 'hello');
    await write(l.err, 'oops\n');
    // SIGTERM as containerd's shim sends it after closing its ends: what was written is still logged.
    l.child.kill('SIGTERM');
    assert.equal(await l.exited, 0);
    await closed;
    const all = Buffer.concat(chunks);
    const frames: [number, string][] = [];
    for (let at = 0; at < all.length;) {
      const n = all.readUInt32BE(at + 4);
      frames.push([all[at]!, all.subarray(at + 8, at + 8 + n).toString()]);
      at += 8 + n;
    }
    assert.deepEqual(frames, [
      [1, 'hello'],
      [2, 'oops\n'],
    ]);
    const logged = (await entries(settings('json-file'), path)).map((e) => `${e.stream}:${e.log.toString()}`);
    assert.deepEqual(logged.sort(), ['stderr:oops\n', 'stdout:hello']);
    assert.equal(existsSync(sock), false, 'the socket goes with the logger');
  },
);

test('LogConfig: drivers, defaults (rotation on), dockerd errors', () => {
  assert.deepEqual(logSettings(undefined), {
    driver: 'json-file',
    maxSize: 20 * 1024 ** 2,
    maxFile: 5,
    compress: false,
  });
  assert.deepEqual(logSettings('local'), { driver: 'local', maxSize: 20 * 1024 ** 2, maxFile: 5, compress: true });
  assert.deepEqual(logSettings('json-file', { 'max-size': '1k', 'max-file': '3', compress: 'true' }), {
    driver: 'json-file',
    maxSize: 1024,
    maxFile: 3,
    compress: true,
  });
  assert.equal(logSettings('local', { 'max-size': '1.5m' }).maxSize, 1.5 * 1024 ** 2);
  assert.throws(() => logSettings('syslog'), /no log driver named 'syslog' is registered/);
  assert.throws(() => logSettings('json-file', { 'max-size': 'lots' }), /invalid max-size "lots"/);
  assert.throws(() => logSettings('json-file', { 'max-file': '0' }), /max-file cannot be less than 1/);
  assert.throws(
    () => logSettings('json-file', { frequency: '1' }),
    /unknown log opt 'frequency' for json-file log driver/,
  );
  assert.throws(() => logSettings('none', { 'max-size': '1m' }), /unknown log opt 'max-size' for log driver none/);
});

test("the daemon's default log driver and options: flags, daemon.json, dockerd's merge", async () => {
  const { parseArgs } = await import('../../../src/daemon/config.js');
  const { withDaemonDefaults } = await import('../../../src/daemon/containers/logdriver.js');
  const { writeFileSync } = await import('node:fs');
  const none = join(dir, 'none.json');
  const cfgOf = (argv: string[]) => {
    const p = parseArgs(argv);
    assert.equal(p.action, 'run');
    return (p as { config: DaemonConfig }).config;
  };
  const d = cfgOf(['--config-file', none]);
  assert.deepEqual([d.logDriver, d.logOpts], ['json-file', {}]);
  const f = cfgOf([
    '--config-file',
    none,
    '--log-driver',
    'local',
    '--log-opt',
    'max-size=1m',
    '--log-opt',
    'max-file=2',
  ]);
  assert.deepEqual([f.logDriver, f.logOpts], ['local', { 'max-size': '1m', 'max-file': '2' }]);
  const file = join(dir, 'daemon.json');
  writeFileSync(file, JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-size': '5m' } }));
  assert.deepEqual(cfgOf(['--config-file', file]).logOpts, { 'max-size': '5m' });
  assert.throws(() => cfgOf(['--config-file', none, '--log-driver', 'gelf']), /no log driver named 'gelf'/);
  assert.throws(() => cfgOf(['--config-file', none, '--log-opt', 'max-size=huge']), /invalid max-size "huge"/);
  writeFileSync(file, JSON.stringify({ 'log-opts': { 'max-file': 3 } }));
  assert.throws(() => cfgOf(['--config-file', file]), /"log-opts" must be a map of strings/);
  // dockerd: no type takes the daemon's driver; the daemon's options fill in for the same driver only
  const daemon = { logDriver: 'local', logOpts: { 'max-size': '1m', compress: 'false' } };
  assert.deepEqual(withDaemonDefaults(undefined, daemon), { Type: 'local', Config: daemon.logOpts });
  assert.deepEqual(withDaemonDefaults({ Config: { 'max-size': '2m' } }, daemon), {
    Type: 'local',
    Config: { 'max-size': '2m', compress: 'false' },
  });
  assert.deepEqual(withDaemonDefaults({ Type: 'json-file', Config: null }, daemon), { Type: 'json-file', Config: {} });
});
