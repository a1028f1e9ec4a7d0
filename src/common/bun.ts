// Which runtime runs this process. bin/berth-engine, berthd, berth-ctr,
// berth-runc and berth are Bun executables where Bun runs (scripts/build.mjs);
// the Node.js builds and the tests run on Node.js. The few places where the
// two differ (SQLite, FIFOs) ask this.

/** True in a Bun process (a Bun executable, or `bun run`). */
export const underBun = typeof process.versions.bun === 'string';
