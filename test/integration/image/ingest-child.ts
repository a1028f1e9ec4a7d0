// A child process for the content store tests: ingests `size` pseudo-random
// bytes (seeded, so parent and child agree on the digest) under `ref`,
// slowly enough to be killed mid-way or to race a sibling.
// argv: root ref size seed chunkSize delayMs
import { openContentStore } from '../../../src/image/content/store.js';
import { patternBytes, patternDigest } from './pattern.js';

const [root, ref, sizeS, seed, chunkS, delayS] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const size = Number(sizeS);
const chunk = Number(chunkS);
const delay = Number(delayS);

async function main(): Promise<void> {
  const store = openContentStore(root);
  const data = patternBytes(size, seed);
  const w = await store.ingest(ref, { digest: patternDigest(size, seed), size });
  process.stdout.write(`start ${w.alreadyExists ? 'exists' : 'new'} ${w.offset}\n`);
  if (w.alreadyExists) {
    await w.commit();
    process.stdout.write('done exists\n');
    return;
  }
  for (let off = w.offset; off < size; off += chunk) {
    await w.write(data.subarray(off, Math.min(size, off + chunk)));
    if (delay) await new Promise((r) => setTimeout(r, delay));
  }
  await w.commit();
  process.stdout.write('done wrote\n');
}

main().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
