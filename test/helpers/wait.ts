// Waiting in tests: for a while, or until something the test can observe
// becomes true.

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `pred` every `every` ms until it holds; throw after `ms`. */
export async function waitUntil(what: string, pred: () => boolean, ms = 20000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}
