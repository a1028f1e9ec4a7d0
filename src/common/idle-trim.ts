// A daemon's idle trim under Bun, in two steps, as Go's runtime gives memory
// back in the background (its scavenger) whoever measures:
//
// 1. one synchronous full collection once the daemon has had no new work for
//    a quiet second after some. What a burst of requests leaves behind
//    (bodies, decoded messages, the heap grown for them) then goes back to
//    the system at once, not whenever JavaScriptCore's own collector next
//    runs a full cycle: berthd read 83 MB three seconds after 20 parallel
//    `docker run -d` and their removal, 71 MB after one collection
//    (bench/README.md, daemon.ts). It costs one collection of a ~10-15 MB
//    heap per burst.
// 2. once the quiet has lasted 30 s, JavaScriptCore's "shrink footprint when
//    idle" (Bun.shrink): the compiled code of every function (JIT code and
//    bytecode, rebuilt from the executable's embedded bytecode and source the
//    next time a function runs) is dropped, a full collection follows, and
//    the allocator's free pages are released. After 10 `docker run --rm` and
//    20 parallel ones, berth-engine went from 91 to 79-81 MB and berthd from
//    75 to 74 MB (its tier-up thresholds are already high, so it JIT-compiles
//    little). The price is paid once per idle spell: the first requests after
//    it run on freshly compiled code (~20-30 ms more CPU for the engine's
//    share of the next `docker run`), which is why it waits for a long quiet
//    rather than following every burst.
//
// Work that keeps coming keeps both off. Under Node.js there is no collector
// to call (without --expose-gc): V8's young generation is small there anyway.

interface BunMemory {
  gc(sync: boolean): void;
  shrink?(): void;
}

const bun = (globalThis as { Bun?: BunMemory }).Bun;

function bunCollector(): (() => void) | undefined {
  return bun ? () => bun.gc(true) : undefined;
}

function bunShrink(): (() => void) | undefined {
  const b = bun;
  return b?.shrink ? () => b.shrink?.() : undefined;
}

/** How long the daemon must have been quiet before step 2. */
const SHRINK_AFTER_MS = 30_000;

export class IdleTrim {
  private timer: NodeJS.Timeout | undefined;
  private shrinkTimer: NodeJS.Timeout | undefined;

  /**
   * The collector (Bun's, or none), the quiet time before it, the shrink
   * (Bun's, or none) and the quiet time before that (counted from the last
   * work, as the collection's) are parameters for the tests.
   */
  constructor(
    private readonly collect: (() => void) | undefined = bunCollector(),
    private readonly quietMs = 1000,
    private readonly shrink: (() => void) | undefined = collect === undefined ? undefined : bunShrink(),
    private readonly shrinkAfterMs = SHRINK_AFTER_MS,
  ) {}

  /** Work came or ended: the collection waits for a quiet second after the last note, the shrink for a long quiet. */
  note(): void {
    if (!this.collect) return;
    clearTimeout(this.shrinkTimer);
    this.shrinkTimer = undefined;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.collect?.();
      this.armShrink();
    }, this.quietMs);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  private armShrink(): void {
    if (!this.shrink) return;
    this.shrinkTimer = setTimeout(
      () => {
        this.shrinkTimer = undefined;
        this.shrink?.();
      },
      Math.max(0, this.shrinkAfterMs - this.quietMs),
    );
    this.shrinkTimer.unref();
  }

  /** Nothing pending any more (shutdown). */
  stop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.shrinkTimer);
    this.timer = undefined;
    this.shrinkTimer = undefined;
  }
}
