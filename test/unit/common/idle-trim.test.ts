import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTrim } from '../../../src/common/idle-trim.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one collection a quiet spell after a burst; notes that keep coming keep it off', async () => {
  let runs = 0;
  const trim = new IdleTrim(() => runs++, 60);
  for (let i = 0; i < 5; i++) {
    trim.note();
    await sleep(20);
  }
  assert.equal(runs, 0, 'no collection while notes come every 20 ms');
  await sleep(150);
  assert.equal(runs, 1, 'one collection after the burst');
  await sleep(150);
  assert.equal(runs, 1, 'none while idle');
  trim.note();
  await sleep(150);
  assert.equal(runs, 2, 'the next burst gets its own');
});

test('stop() cancels a pending collection; no collector, nothing armed', async () => {
  let runs = 0;
  const trim = new IdleTrim(() => runs++, 30);
  trim.note();
  trim.stop();
  await sleep(100);
  assert.equal(runs, 0);
  const none = new IdleTrim(undefined, 10);
  none.note();
  await sleep(50);
  assert.equal(runs, 0);
});

test('the shrink follows a long quiet only: work before it cancels it, and each idle spell gets one', async () => {
  const steps: string[] = [];
  const trim = new IdleTrim(
    () => steps.push('collect'),
    30,
    () => steps.push('shrink'),
    400,
  );
  try {
    trim.note();
    await sleep(80);
    assert.deepEqual(steps, ['collect'], 'the collection after the short quiet, no shrink yet');
    trim.note(); // work again before the long quiet is over
    await sleep(130);
    assert.deepEqual(steps, ['collect', 'collect'], 'the pending shrink went with the new work');
    await sleep(400);
    assert.deepEqual(steps, ['collect', 'collect', 'shrink'], 'a long quiet after the last work: one shrink');
    await sleep(500);
    assert.equal(steps.length, 3, 'nothing more while idle');
    trim.note();
    trim.stop();
    await sleep(500);
    assert.equal(steps.length, 3, 'stop() cancels both steps');
  } finally {
    trim.stop();
  }
});
