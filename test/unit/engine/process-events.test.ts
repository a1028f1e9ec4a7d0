// A process that exits while its start is in flight: its exit event waits for
// the start's, so subscribers (ctr events, dockerd) never see exit before start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskProcess } from '../../../src/engine/tasks/process.js';

const io = { stdin: '', stdout: '', stderr: '', terminal: false };

test('an exit during a start is published after the start, one that comes later at once', () => {
  const seen: string[] = [];
  const p = new TaskProcess('init', '', io);
  p.holdEvents();
  p.exited({ status: 0, at: { seconds: 1, nanos: 0 } });
  p.afterStart(() => seen.push('exit'));
  assert.equal(seen.length, 0, 'held while the start is in flight');
  assert.equal(p.exit?.status, 0, 'the exit itself is recorded at once');
  seen.push('start');
  p.releaseEvents();
  assert.deepEqual(seen, ['start', 'exit']);
  p.afterStart(() => seen.push('later'));
  assert.deepEqual(seen, ['start', 'exit', 'later'], 'nothing held once the start answered');
});

test('a failed start releases what it held', () => {
  const seen: string[] = [];
  const p = new TaskProcess('exec-1', '1', io);
  p.holdEvents();
  p.afterStart(() => seen.push('exit'));
  p.releaseEvents();
  assert.deepEqual(seen, ['exit']);
});
