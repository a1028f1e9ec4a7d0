// berth against the real docker CLI (28.x at /usr/local/bin/docker), both
// talking to one real daemon started for the file on a temporary root and
// socket: dockerd (no iptables, no bridge) or berthd on berth-engine.
// Containers use --network none. The same command goes through both CLIs;
// stdout, stderr and exit status are compared after ids, relative times and
// the program's name are normalised (compare.ts). The image is a busybox root
// filesystem made on the spot (`docker import`ed into dockerd, pulled from a
// local registry into berthd). The files docker-compat.test.ts (dockerd) and
// berthd-compat.test.ts (berthd, with its table of pending steps) run it;
// the cases are in compat-commands.ts, compat-data.ts and compat-terminal.ts.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Dockerd } from '../../helpers/daemons.js';
import { setTarget, skip, skipBerthd, startDaemon, unvisitedPending, type Pending, type Target } from './compare.js';
import { commandCases } from './compat-commands.js';
import { dataCases } from './compat-data.js';
import { terminalCases } from './compat-terminal.js';

export function compatSuite(target: Target, pending: Pending = {}): void {
  let d: Dockerd | undefined;
  describe(
    `berth CLI against ${target}, compared with the docker CLI`,
    { skip: target === 'berthd' ? skipBerthd : skip, concurrency: false },
    () => {
      before(async () => {
        setTarget(target, pending);
        d = await startDaemon(target);
      });
      after(async () => {
        if (d) await d.stop();
      });
      const s = { target, daemon: () => d! };
      commandCases(s);
      dataCases(s);
      terminalCases(s);
      it(
        'every pending step was reached (no stale entry in the table)',
        { skip: target !== 'berthd' && 'berthd only' },
        () => {
          assert.deepEqual(unvisitedPending(), []);
        },
      );
    },
  );
}
