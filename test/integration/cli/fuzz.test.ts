// A little fuzzing of the command line: every command of the table, with
// flags from its own spec given odd values (empty, negative, huge, malformed
// ports, mounts, sizes, templates, stray `=` and `--`), against a daemon that
// is not there. Whatever the input, berth ends with one of docker's statuses
// and a message, never a JavaScript stack trace or an internal error text.
// The generator is seeded: a failure names its seed and arguments.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { commands } from '../../../src/cli/berth/commands.js';
import type { Command } from '../../../src/cli/berth/command.js';
import { BERTH } from './compare.js';

const ODD = [
  '',
  '-1',
  '0',
  '99999999999999999999',
  '1e400',
  'abc',
  '=',
  '--',
  '-',
  ':',
  ':::',
  '80:80:80:80',
  '65536:1',
  'type=bind',
  'type=volume,source=',
  'type=tmpfs,tmpfs-size=-1',
  '{{',
  '{{.Nope}}',
  '{{range}}',
  '{{json .}}{{end}}',
  'table {{.ID}',
  'a=b=c',
  'nofile=1:0',
  '1.5x',
  'ctrl-',
  '\u00e9\u4e2d',
  'x'.repeat(5000),
  '/no/such/path:/data:rw,zz',
  '%!',
];

function paths(cmds: Command[], prefix: string[] = []): { path: string[]; cmd: Command }[] {
  return cmds.flatMap((c) => (c.sub ? paths(c.sub, [...prefix, c.name]) : [{ path: [...prefix, c.name], cmd: c }]));
}

/** mulberry32: a small seeded generator, so that a run can be repeated. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRACE =
  /\n\s+at \S|TypeError|ReferenceError|RangeError|Cannot read propert|is not a function|\[object Object\]|undefined/;

describe('berth: odd command lines end in a message and a docker status, never a trace', () => {
  it('every command with odd values for its own flags', { skip: !existsSync(BERTH) && 'needs the build' }, () => {
    const seed = Number(process.env.BERTH_FUZZ_SEED ?? 20261204);
    const r = rng(seed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
    const env = { ...process.env, DOCKER_HOST: 'unix:///tmp/berth-fuzz-no-daemon.sock', DOCKER_CONFIG: '/nonexistent' };
    const all = paths(commands).filter(({ path }) => path[0] !== 'completion');
    const statuses = new Map<number, number>();
    for (let i = 0; i < 240; i++) {
      const { path, cmd } = all[i % all.length]!;
      const args = [...path];
      for (let k = Math.floor(r() * 4); k > 0; k--) {
        const f = pick(cmd.flags ?? [{ name: 'nosuchflag', type: 'bool', usage: '' }]);
        const name = f.short && r() < 0.3 ? `-${f.short}` : `--${f.name}`;
        if (f.type === 'bool') args.push(r() < 0.2 ? `${name}=${pick(ODD)}` : name);
        else if (r() < 0.5) args.push(`${name}=${pick(ODD)}`);
        else args.push(name, pick(ODD));
      }
      for (let k = Math.floor(r() * 3); k > 0; k--) args.push(pick(ODD));
      const res = spawnSync(BERTH, args, { encoding: 'utf8', env, input: '', timeout: 20000 });
      const what = `seed ${seed}, berth ${JSON.stringify(args)}`;
      assert.equal(res.signal, null, `${what}: killed by ${res.signal}`);
      assert.ok([0, 1, 64, 125, 126, 127].includes(res.status!), `${what}: status ${res.status}: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, TRACE, what);
      if (res.status !== 0) assert.ok(res.stderr.trim().length > 0, `${what}: status ${res.status} without a message`);
      statuses.set(res.status!, (statuses.get(res.status!) ?? 0) + 1);
    }
    // Both kinds of refusal were reached: the parser's (125) and the unreachable daemon's (1).
    assert.ok((statuses.get(125) ?? 0) > 10 && (statuses.get(1) ?? 0) > 10, JSON.stringify([...statuses]));
  });
});
