// The engine's idle trim (src/common/idle-trim.ts, shared with berthd): once
// it has answered no new call for a second after some work, one full
// collection gives back what a burst of calls left behind (measured: 93.7 MB
// after 60 `ctr run --rm`, 84.6 MB only after 45 s of JavaScriptCore's own
// pace, 86.4 MB right after a full collection). Process-wide, turned on by
// berth-engine's main; a library user of the engine decides for itself.

import { IdleTrim } from '../common/idle-trim.js';

let trim: IdleTrim | undefined;

/** Turns the trim on for this process; the collector and the quiet time are parameters for the tests. */
export function enableIdleTrim(collector?: () => void, quietMs?: number): void {
  trim?.stop();
  trim = collector === undefined && quietMs === undefined ? new IdleTrim() : new IdleTrim(collector, quietMs);
}

/** Turns it off again. */
export function disableIdleTrim(): void {
  trim?.stop();
  trim = undefined;
}

/** A call came in: the trim waits for a quiet second after the last one. */
export function noteActivity(): void {
  trim?.note();
}
