// A daemon's idle trim under Bun: one synchronous full collection once the
// daemon has had no new work for a quiet second after some. What a burst of
// requests leaves behind (bodies, decoded messages, the heap grown for them)
// then goes back to the system at once, not whenever JavaScriptCore's own
// collector next runs a full cycle: berthd read 83 MB three seconds after 20
// parallel `docker run -d` and their removal, 71 MB after one collection
// (bench/README.md, daemon.ts). It is the daemon's own scavenger, as Go's
// runtime returns its heap in the background: it follows every burst,
// whoever measures, and costs one collection of a ~10-15 MB heap per burst;
// work that keeps coming keeps it off. Under Node.js there is no collector to
// call (without --expose-gc): V8's young generation is small there anyway.

interface BunGc {
  gc(sync: boolean): void;
}

function bunCollector(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: BunGc }).Bun;
  return bun ? () => bun.gc(true) : undefined;
}

export class IdleTrim {
  private timer: NodeJS.Timeout | undefined;

  /** The collector (Bun's, or none) and the quiet time are parameters for the tests. */
  constructor(
    private readonly collect: (() => void) | undefined = bunCollector(),
    private readonly quietMs = 1000,
  ) {}

  /** Work came or ended: the collection waits for a quiet second after the last note. */
  note(): void {
    if (!this.collect) return;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.collect?.();
    }, this.quietMs);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  /** No collection pending any more (shutdown). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
