// berthd on berth-engine: the same docker CLI flows as on a real containerd
// (berthd.test.ts), with Berth's own engine below. berthd knows nothing of
// which one it talks to: both speak containerd's API.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', { prefix: 'berthd-eng-' });
  ({ b, img: IMG } = s);
});

after(() => s?.stop());

test('berthd on berth-engine: info, pull, run, exec, logs, stop, rm', { skip }, () => {
  assert.equal(b.ok(['info', '--format', '{{.Driver}}']).trim(), 'overlayfs');
  assert.match(b.ok(['pull', IMG]), /Pull complete/);
  // The engine holds the image berthd pulled, in berthd's namespace.
  assert.deepEqual(s!.ctr(['images', 'ls', '-q']).stdout.trim().split('\n'), [IMG]);
  const r = b.docker([
    'run',
    '--rm',
    '--network',
    'none',
    '-e',
    'X=on-engine',
    IMG,
    'sh',
    '-c',
    'echo $X; id -u; exit 4',
  ]);
  assert.equal(r.status, 4, r.stderr + b.logTail());
  assert.equal(r.stdout, 'on-engine\n0\n');
  const id = b
    .ok(['run', '-d', '--name', 'eng1', '--network', 'none', IMG, 'sh', '-c', 'echo started; sleep 60'])
    .trim();
  const pid = Number(b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
  // busybox sh execs its last command: the container's pid 1 is sleep, a real host process.
  assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sleep');
  assert.match(s!.ctr(['tasks', 'ls']).stdout, new RegExp(`${id}\\s+${pid}\\s+RUNNING`));
  assert.equal(b.ok(['exec', 'eng1', 'echo', 'exec-ok']), 'exec-ok\n');
  assert.equal(b.ok(['logs', 'eng1']), 'started\n');
  b.ok(['stop', '-t', '1', 'eng1']);
  assert.equal(b.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'eng1']).trim(), 'exited 137');
  b.ok(['rm', 'eng1']);
  assert.equal(s!.ctr(['containers', 'ls', '-q']).stdout.trim(), '');
});
