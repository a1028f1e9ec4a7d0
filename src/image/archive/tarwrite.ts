// Writing an archive as one atomic file: entries go through tar-stream into a
// temporary file beside the target, which is fsynced and renamed only once
// the archive is complete; on any failure the temporary file is removed.

import { createWriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar-stream';

/** Fixed times make exports reproducible: the same image gives the same bytes. */
export const EPOCH = new Date(0);

export interface TarWriter {
  readonly pack: tar.Pack;
  /** A regular file (mode 0644) with these contents. */
  readonly add: (name: string, data: string | Buffer) => Promise<void>;
  /** A directory (mode 0755). */
  readonly addDir: (name: string) => Promise<void>;
}

export async function writeTarAtomically<T>(file: string, fill: (w: TarWriter) => Promise<T>): Promise<T> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }));
  const w: TarWriter = {
    pack,
    add: (name, data) =>
      new Promise<void>((res, rej) =>
        pack.entry({ name, mode: 0o644, mtime: EPOCH }, data, (e) => (e ? rej(e) : res())),
      ),
    addDir: (name) =>
      new Promise<void>((res, rej) =>
        pack.entry({ name, type: 'directory', mode: 0o755, mtime: EPOCH }, (e) => (e ? rej(e) : res())),
      ),
  };
  try {
    const result = await fill(w);
    pack.finalize();
    await done;
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    return result;
  } catch (e) {
    pack.destroy();
    await done.catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
