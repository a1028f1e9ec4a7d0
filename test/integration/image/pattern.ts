// Deterministic test data: the same (size, seed) gives the same bytes in any process.
import { createHash } from 'node:crypto';

const BLOCK = 64 * 1024;

export function patternBytes(size: number, seed: string): Buffer {
  const base = Buffer.allocUnsafe(BLOCK);
  let h = createHash('sha256').update(seed).digest();
  for (let off = 0; off < BLOCK; off += h.length) {
    h.copy(base, off);
    h = createHash('sha256').update(h).digest();
  }
  const out = Buffer.allocUnsafe(size);
  for (let off = 0, i = 0; off < size; off += BLOCK, i++) {
    base.writeUInt32BE(i, 0); // every block differs
    base.copy(out, off, 0, Math.min(BLOCK, size - off));
  }
  return out;
}

export function patternDigest(size: number, seed: string): string {
  return 'sha256:' + createHash('sha256').update(patternBytes(size, seed)).digest('hex');
}
