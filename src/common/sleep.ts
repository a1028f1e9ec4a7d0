// Waiting, the one way: `sleep` for async code (a timer; other work runs
// meanwhile), `sleepSync` for the few synchronous loops that must block
// (a SQLite busy retry inside a transaction, a short wait in a sync path).

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}
