// Run by kill9.test.ts in its own process: one pull into a store, so that the
// test can kill -9 it mid-download.
import { openContentStore } from '../../../src/image/content/store.js';
import { pullImage } from '../../../src/image/pull.js';

const [ref, root] = process.argv.slice(2) as [string, string];
const store = openContentStore(root);
await pullImage(ref, {
  store,
  registryOptions: { credentials: async () => undefined, retryBaseMs: 5 },
  progress: (e) => process.stdout.write(JSON.stringify(e) + '\n'),
});
store.close();
process.stdout.write('done\n');
