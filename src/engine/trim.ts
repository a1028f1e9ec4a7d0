// The engine's idle trim: once it has answered no new call for a second
// after some work, it runs one full garbage collection, so that what a burst
// of calls left behind (request buffers, decoded messages, the heap grown
// for them) goes back to the system now rather than whenever JavaScriptCore's
// own collector next runs a full cycle (15-45 s later, measured: 93.7 MB
// after 60 `ctr run --rm`, 84.6 MB after 45 s idle; 86.4 MB right after a
// full collection). It is the daemon's own scavenger, as Go's runtime
// returns heap in the background: it runs after every burst, wherever the
// engine runs, and costs one collection of a heap of ~15 MB (~40 ms of
// wall time at load 19) per burst; calls that keep coming keep it off (a single call that
// runs longer than a second, a large diff Apply, may see it once).
//
// Only under Bun (berth-engine's executable); the Node.js build has no
// collector to call without --expose-gc, and leaves it to V8.

interface BunGc {
  gc(force: boolean): void;
}

let collect: (() => void) | undefined;
let idleMs = 1000;
let timer: NodeJS.Timeout | undefined;

function bunCollector(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: BunGc }).Bun;
  return bun ? () => bun.gc(true) : undefined;
}

/**
 * Turns the trim on for this process (berth-engine's main; a library user
 * of the engine decides for itself). The collector and the quiet time are
 * parameters for the tests.
 */
export function enableIdleTrim(collector = bunCollector(), quietMs = 1000): void {
  collect = collector;
  idleMs = quietMs;
}

/** Turns it off again (a timer already armed fires and finds nothing to do). */
export function disableIdleTrim(): void {
  collect = undefined;
}

/** A call came in: the trim waits for a quiet second after the last one. */
export function noteActivity(): void {
  if (!collect) return;
  if (timer) {
    timer.refresh();
    return;
  }
  timer = setTimeout(() => {
    timer = undefined;
    collect?.();
  }, idleMs);
  timer.unref();
}
