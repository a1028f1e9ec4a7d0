// Plays the engine for shim tests: starts one shim per container given on the
// command line, creates and starts each container under its shim with the
// runtime library, prints what it made as one JSON line, and then waits to be
// killed (the tests kill it with SIGKILL and check that nothing is lost).
//
//   shim-starter.ts RUNTIME_ROOT SHIMS_ROOT ID=BUNDLE_DIR[=STDOUT_FIFO] ...

import { Runtime } from '../../src/runtime/container.js';
import { ShimSet } from '../../src/shim/shims.js';
import { createInShim } from '../../src/shim/container.js';

const [rtRoot, shimsRoot, ...containers] = process.argv.slice(2);
if (!rtRoot || !shimsRoot) throw new Error('usage: shim-starter.ts RUNTIME_ROOT SHIMS_ROOT ID=BUNDLE_DIR[=FIFO] ...');
const rt = new Runtime({ root: rtRoot, spareInit: false });
const shims = new ShimSet(shimsRoot);
const made: { id: string; pid: number; shimPid: number; dir: string }[] = [];
for (const arg of containers) {
  const [id = '', bundle = '', stdout] = arg.split('=');
  const shim = await shims.start(id, { bundle });
  const pid = await createInShim(rt, shim, id, bundle, { stdout });
  await rt.start(id);
  made.push({ id, pid, shimPid: shim.record.shimPid, dir: shim.dir });
}
process.stdout.write(JSON.stringify(made) + '\n');
setInterval(() => undefined, 60_000);
