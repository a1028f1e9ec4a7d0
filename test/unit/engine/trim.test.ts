// The idle trim: one collection after a quiet spell that follows calls,
// none while calls keep coming, none with no calls at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { disableIdleTrim, enableIdleTrim, noteActivity } from '../../../src/engine/trim.js';

test('one collection per quiet spell after calls, none while they keep coming', async () => {
  let collections = 0;
  enableIdleTrim(() => collections++, 60);
  try {
    await sleep(120);
    assert.equal(collections, 0, 'no calls, no collection');
    for (let i = 0; i < 6; i++) {
      noteActivity();
      await sleep(20);
    }
    assert.equal(collections, 0, 'calls 20 ms apart keep it off');
    await sleep(120);
    assert.equal(collections, 1, 'one collection after the burst');
    await sleep(120);
    assert.equal(collections, 1, 'and no more while idle');
    noteActivity();
    noteActivity();
    await sleep(120);
    assert.equal(collections, 2, 'the next burst gets its own');
  } finally {
    disableIdleTrim();
  }
});
