// The real `ctr` against berth-engine and against a real containerd 1.6,
// side by side: the same commands (scripts/ctr-diff-steps.ts) on both, their
// exit codes, stdout and stderr compared after the parts that differ by
// nature (paths, times, pids, generated ids) are replaced by placeholders,
// and the `ctr events` lines each daemon sent meanwhile. Prints every
// difference; exits 1 when there is one.
//
//   node --import tsx scripts/ctr-diff.ts [--only SUBSTRING[,SUBSTRING...]] [--all]
//
// Both daemons run on temp roots with their own sockets; the images come from
// a local registry (test/helpers/registry.ts); each side has its own
// namespace, so that cgroup paths never collide, and the namespace name is a
// placeholder too. Run as root.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, startRegistry, type RegistryInstance } from '../test/helpers/registry.js';
import { startContainerd, type Containerd } from '../test/helpers/daemons.js';
import { pushImage, startEngine, type Engine } from '../test/integration/engine/helpers.js';
import { steps, type Replacement, type Side, type Step } from './ctr-diff-steps.js';

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(side: Side, step: Step): Outcome {
  const args = typeof step.args === 'function' ? step.args(side) : step.args;
  const argv = ['ctr', '-a', side.sock, '-n', side.ns, ...args];
  // A terminal for ctr: script(1) runs it on a pty of its own.
  const cmd = step.tty ? ['script', '-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'] : argv;
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    encoding: 'utf8',
    timeout: step.timeout ?? 60000,
    input: step.input,
    env: { ...process.env, ...step.env },
  });
  const out = { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (step.capture) side.vars.set(step.capture, out.stdout.trim().split(/\s+/)[0] ?? '');
  return out;
}

/** Replaces what differs by nature between two daemons with placeholders. */
function normalise(text: string, side: Side, step: Step): string {
  let t = text;
  for (const [k, v] of side.vars) if (v) t = t.split(v).join(`<${k}>`);
  t = t.split(side.dir).join('<dir>').split(side.sock).join('<sock>').split(side.ns).join('<ns>');
  t = t.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>');
  t = t.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?( [+-]\d{4} \w+)?/g, '<time>');
  t = t.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
  t = t.replace(/time="[^"]*"/g, 'time=<time>');
  // Go prints a map's labels in random order
  t = t.replace(/[^\s",]+=[^\s",]*(,[^\s",]+=[^\s",]*)+/g, (m) => m.split(',').sort().join(','));
  if (step.pids) t = t.replace(/\b\d{2,7}\b/g, '<n>');
  for (const [re, by] of step.normalise ?? []) t = typeof by === 'string' ? t.replace(re, by) : t.replace(re, by);
  // containerd's shim writes a NUL first on a terminal (script shows it as ^@)
  t = t.replace(/\r|\0|\^@/g, '');
  // Column padding follows the longest value, which the placeholders changed.
  return t.replace(/[ \t]+/g, ' ').replace(/ +\n/g, '\n');
}

/** What differs by nature in event payloads: store paths, FIFO dirs, unpack keys, option order. */
const eventNorm: Replacement[] = [
  [/<dir>\/root\/(engine|io\.containerd\.snapshotter\.v1\.\w+)\/snapshots\/(<n>|\d+)/g, '<snap>'],
  [/<dir>\/state\/(tasks|io\.containerd\.runtime\.v2\.task)\//g, '<bundle>/'],
  [/\/run\/containerd\/fifo\/\d+\//g, '<fifo>/'],
  [/extract-\d+-\S+/g, 'extract-<n>'],
  // overlay options: containerd writes workdir, upperdir, lowerdir; the engine the other way round
  [/"options":\[[^\]]*\]/g, (m) => `"options":[${m.slice(11, -1).split(',').sort().join(',')}]`],
];

function startEvents(side: Side): ChildProcess {
  const p = spawn('ctr', ['-a', side.sock, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => (side.events += d));
  return p;
}

/** An event line as: topic, namespace, payload type (times and sizes out). */
function eventLines(side: Side): string[] {
  return side.events
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      // "<date> <time> +0000 UTC <namespace> <topic> <payload>"
      const m = /^\S+ \S+ \S+ \S+ (\S+) (\S+) ?(.*)$/.exec(l);
      const line = m ? `${m[1]} ${m[2]} ${m[3]}` : l;
      return normalise(line, side, { name: 'events', args: [], pids: true, normalise: eventNorm });
    })
    .filter((l) => l.includes('<ns>'));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const showAll = argv.includes('--all');
  let reg: RegistryInstance | undefined;
  let eng: Engine | undefined;
  let ctrd: Containerd | undefined;
  const procs: ChildProcess[] = [];
  let differences = 0;
  let sides: Side[] = [];
  try {
    reg = await startRegistry();
    const ref = pushImage(reg, buildImage({ config: { WorkingDir: '/' } }), 'efix/diff');
    eng = await startEngine('berth-ctr-diff-');
    ctrd = await startContainerd({ prefix: 'berth-ctr-diff-ctrd-', namespace: 'ctrdiff-b' });
    sides = [
      { name: 'berth-engine', sock: eng.sock, dir: eng.dir, ns: 'ctrdiff-a', ref, vars: new Map(), events: '' },
      { name: 'containerd', sock: ctrd.sock, dir: ctrd.dir, ns: 'ctrdiff-b', ref, vars: new Map(), events: '' },
    ];
    for (const s of sides) {
      mkdirSync(join(s.dir, 'work'), { recursive: true });
      procs.push(startEvents(s));
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const step of steps) {
      if (only && !only.split(',').some((o) => step.name.includes(o)) && !step.always) continue;
      const [a, b] = sides.map((s) => {
        const o = run(s, step);
        return { raw: o, norm: { ...o, stdout: normalise(o.stdout, s, step), stderr: normalise(o.stderr, s, step) } };
      });
      if (step.after) await new Promise((r) => setTimeout(r, step.after));
      const diffs: string[] = [];
      if (a!.raw.status !== b!.raw.status) diffs.push(`  exit: ${a!.raw.status} vs ${b!.raw.status}`);
      // a ctr that timed out: what the engine was doing
      if (a!.raw.status === null) diffs.push(`  engine log:\n${eng.log().split('\n').slice(-25).join('\n')}`);
      if (!step.ignoreStdout && a!.norm.stdout !== b!.norm.stdout)
        diffs.push(`  stdout:\n    engine: ${indent(a!.norm.stdout)}\n    ctrd:   ${indent(b!.norm.stdout)}`);
      if (!step.ignoreStderr && a!.norm.stderr !== b!.norm.stderr)
        diffs.push(`  stderr:\n    engine: ${indent(a!.norm.stderr)}\n    ctrd:   ${indent(b!.norm.stderr)}`);
      if (diffs.length) {
        differences++;
        console.log(
          `DIFF ${step.name}: ctr ${JSON.stringify(typeof step.args === 'function' ? step.args(sides[0]!) : step.args)}`,
        );
        console.log(diffs.join('\n'));
      } else {
        console.log(`same ${step.name}${showAll ? `\n    ${indent(a!.norm.stdout + a!.norm.stderr)}` : ''}`);
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    const [ea, eb] = sides.map(eventLines);
    if (ea!.join('\n') !== eb!.join('\n')) {
      differences++;
      console.log(`DIFF events (- engine, + containerd):\n${lineDiff(ea!, eb!).join('\n')}`);
    } else console.log(`same events (${ea!.length} lines)`);
  } finally {
    for (const p of procs) p.kill();
    for (const s of sides) leaveNothing(s);
    await ctrd?.stop();
    await eng?.stop();
    await reg?.stop();
  }
  console.log(`${differences} difference(s)`);
  process.exitCode = differences ? 1 : 0;
}

/** Every container a step left on `side`: resumed, killed, deleted (their processes outlive a daemon). */
function leaveNothing(side: Side): void {
  const ctr = (a: string[]) =>
    spawnSync('ctr', ['-a', side.sock, '-n', side.ns, ...a], { encoding: 'utf8', timeout: 20000 });
  for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
    ctr(['tasks', 'resume', id]);
    ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', id]);
    ctr(['tasks', 'rm', '-f', id]);
    ctr(['containers', 'rm', id]);
  }
}

/** The lines only in `a` (-) and only in `b` (+), in order: a longest common subsequence walk. */
function lineDiff(a: string[], b: string[]): string[] {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

function indent(s: string): string {
  return s.trimEnd().split('\n').join('\n            ');
}

if (process.getuid?.() !== 0) {
  console.error('ctr-diff: run as root');
  process.exit(2);
}
await main();
