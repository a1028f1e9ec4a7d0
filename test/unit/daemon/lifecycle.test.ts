// The pure pieces of berthd's healthchecks, restart policies, update and
// diff: Go's duration spelling, the healthcheck merge over the image's and
// its checks, the probe's argv, dockerd's restart decision and back-off,
// Docker's filter timestamps, and the read-only form of a snapshot's mounts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  goDuration,
  mergeHealthcheck,
  probeArgv,
  validateHealthcheck,
} from '../../../src/daemon/containers/healthcheck.js';
import { BackOff, policyRestarts, validRestartPolicy } from '../../../src/daemon/containers/restart.js';
import { timestampOf } from '../../../src/daemon/containers/routes-more.js';
import { readOnly } from '../../../src/daemon/containers/changes.js';
import type { ContainerRecord } from '../../../src/daemon/containers/record.js';

test("goDuration spells durations as Go's time.Duration.String()", () => {
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(300e6), '300ms');
  assert.equal(goDuration(1e9), '1s');
  assert.equal(goDuration(1.5e9), '1.5s');
  assert.equal(goDuration(90e9), '1m30s');
  assert.equal(goDuration(7200e9), '2h0m0s');
  assert.equal(goDuration(1500), '1.5µs');
  assert.equal(goDuration(-2e9), '-2s');
});

test('healthcheck: merged field by field over the image, NONE and CMD-SHELL, create checks', () => {
  const image = { Test: ['CMD-SHELL', 'probe'], Interval: 5e9, Retries: 2 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, image), {
    Interval: 1e9,
    Test: ['CMD-SHELL', 'probe'],
    Timeout: undefined,
    StartPeriod: undefined,
    StartInterval: undefined,
    Retries: 2,
  });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image)?.Test, ['NONE']);
  assert.equal(mergeHealthcheck(undefined, 'not an object'), undefined);
  assert.deepEqual(probeArgv({ Test: ['CMD-SHELL', 'echo hi'] }, undefined), ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(probeArgv({ Test: ['CMD-SHELL', 'echo hi'] }, ['/bin/bash', '-ec']), [
    '/bin/bash',
    '-ec',
    'echo hi',
  ]);
  assert.deepEqual(probeArgv({ Test: ['CMD', 'true', 'x'] }, undefined), ['true', 'x']);
  assert.equal(probeArgv({ Test: ['NONE'] }, undefined), undefined);
  assert.equal(probeArgv({ Test: ['WHAT', 'x'] }, undefined), undefined);
  assert.equal(probeArgv({ Test: [] }, undefined), undefined);
  assert.throws(() => validateHealthcheck({ Interval: 999_999 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(
    () => validateHealthcheck({ StartInterval: 5 }),
    /StartInterval in Healthcheck cannot be less than 1ms/,
  );
  assert.throws(() => validateHealthcheck({ Retries: -1 }), /Retries in Healthcheck cannot be negative/);
  validateHealthcheck({ Interval: 0, Timeout: 1e6, Retries: 0 });
  validateHealthcheck(null);
});

function rec(policy: string, max = 0, restartCount = 0): ContainerRecord {
  return {
    HostConfig: { RestartPolicy: { Name: policy, MaximumRetryCount: max } },
    RestartCount: restartCount,
  } as ContainerRecord;
}

test("restart policies: dockerd's decision, names and retry counts", () => {
  assert.equal(policyRestarts(rec('always'), 0, true), true, 'always, even after a user stop (at boot)');
  assert.equal(policyRestarts(rec('unless-stopped'), 1, true), false);
  assert.equal(policyRestarts(rec('unless-stopped'), 0, false), true);
  assert.equal(policyRestarts(rec('on-failure'), 0, false), false);
  assert.equal(policyRestarts(rec('on-failure'), 3, true), true, 'on-failure does not look at the user stop');
  assert.equal(policyRestarts(rec('on-failure', 2, 1), 3, false), true);
  assert.equal(policyRestarts(rec('on-failure', 2, 2), 3, false), false);
  assert.equal(policyRestarts(rec('no'), 1, false), false);
  assert.equal(policyRestarts(rec(''), 1, false), false);
  assert.equal(validRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }), null);
  assert.match(validRestartPolicy({ Name: 'sometimes' }) ?? '', /unknown policy 'sometimes'/);
  assert.match(validRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }) ?? '', /only be used with 'on-failure'/);
  assert.match(validRestartPolicy({ Name: 'on-failure', MaximumRetryCount: -1 }) ?? '', /cannot be negative/);
});

test('back-off: 100 ms doubling to a minute, back to 100 ms after a 10 s run', () => {
  const b = new BackOff();
  const seq = [0, 1, 2, 3].map(() => b.next('c', 50));
  assert.deepEqual(seq, [100, 200, 400, 800]);
  for (let i = 0; i < 20; i++) b.next('c', 50);
  assert.equal(b.next('c', 50), 60_000);
  assert.equal(b.next('c', 10_000), 100);
  b.forget('c');
  assert.equal(b.next('c', 50), 100);
  assert.equal(b.next('other', 50), 100, 'one back-off per container');
});

test("Docker's filter timestamps: unix seconds, RFC 3339, durations back from now", () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(timestampOf('1700000000', now), 1_700_000_000_000);
  assert.equal(timestampOf('1700000000.5', now), 1_700_000_000_500);
  assert.equal(timestampOf('2001-01-01T00:00:00Z', now), Date.parse('2001-01-01T00:00:00Z'));
  assert.equal(timestampOf('10m', now), now - 600_000);
  assert.equal(timestampOf('1h30m', now), now - 5_400_000);
  assert.throws(() => timestampOf('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
});

test("a snapshot's mounts made read-only: the overlay upper becomes the top lower", () => {
  const ov = readOnly([
    {
      type: 'overlay',
      source: 'overlay',
      target: '',
      options: ['index=off', 'workdir=/s/2/work', 'upperdir=/s/2/fs', 'lowerdir=/s/1/fs'],
    },
  ]);
  assert.deepEqual(ov[0]!.options, ['index=off', 'lowerdir=/s/2/fs:/s/1/fs']);
  const bind = readOnly([{ type: 'bind', source: '/s/1/fs', target: '', options: ['rw', 'rbind'] }]);
  assert.deepEqual(bind[0]!.options, ['rbind', 'ro']);
});
