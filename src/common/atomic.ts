// Atomic file writes: temp file in the same directory, fsync, rename, fsync of
// the directory. A crash at any instant leaves either the old or the new file
// (without the fsyncs, `durable: false`: any process crash, not a power loss).

import { closeSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync, constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `durable: false` leaves out both fsyncs: the file is still replaced
 * atomically for every process (a kill -9 leaves the old or the new one, the
 * page cache outlives the writer), but not across a power loss. For state
 * that means nothing after a reboot (running processes: containerd keeps it
 * on tmpfs), where each fsync costs milliseconds on a loaded disk.
 */
export interface AtomicOptions {
  durable?: boolean;
}

export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: AtomicOptions = {},
): void {
  const durable = opts.durable ?? true;
  const tmp = tempName(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (durable) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (durable) fsyncDirSync(dirname(path));
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: AtomicOptions = {},
): Promise<void> {
  await (await stageFileAtomic(path, data, mode, opts)).commit();
}

/** A file written (and fsynced) under a temp name, not yet in place. */
export interface StagedFile {
  /** Renamed into place (and the directory fsynced, when durable). */
  commit(): Promise<void>;
  /** The temp file goes; the old file, if any, stays. */
  abort(): Promise<void>;
}

/**
 * writeFileAtomic in two halves, for a caller whose file may only appear
 * once something else is done but whose bytes are known before: the write
 * and its fsync run meanwhile, the rename comes after (berthd's new
 * container record, written while the engine prepares its snapshot).
 */
export async function stageFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: AtomicOptions = {},
): Promise<StagedFile> {
  const durable = opts.durable ?? true;
  const tmp = tempName(path);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  const abort = () => unlink(tmp).catch(() => undefined);
  return {
    abort,
    async commit() {
      try {
        await rename(tmp, path);
      } catch (e) {
        await abort();
        throw e;
      }
      if (durable) await fsyncDir(dirname(path));
    },
  };
}

/** A directory's entries made durable (a rename into or out of it survives a power loss). */
export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
