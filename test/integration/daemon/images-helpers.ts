// What the berthd image tests share: when they can run, and tars built and
// read in memory (hostile ones included).

import { readFileSync } from 'node:fs';
import * as tar from 'tar-stream';

export const lines = (s: string): string[] => s.split('\n').filter(Boolean);

/** The entries of a tar file: name → bytes (links as "-> target"). */
export async function readTar(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const x = tar.extract();
  const done = (async () => {
    for await (const e of x) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(
        e.header.name,
        e.header.type === 'symlink' ? Buffer.from(`-> ${e.header.linkname}`) : Buffer.concat(chunks),
      );
    }
  })();
  x.end(readFileSync(file));
  await done;
  return out;
}

/** A tar from entries in order: [name, bytes] or [name, {linkname}] for a symlink. */
export async function makeTar(entries: [string, Buffer | { linkname: string }][]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, v] of entries) {
    if (Buffer.isBuffer(v)) p.entry({ name }, v);
    else p.entry({ name, type: 'symlink', linkname: v.linkname });
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}
