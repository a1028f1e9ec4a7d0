// The overlayfs probe's answer, remembered: a test mount costs a mount(8),
// an umount(8) and their fork/execs (about 100 ms of the engine's start-up
// on a loaded machine). A positive answer is written beside `dir`, to
// `<parent>/.<name>.overlay-ok` (the snapshots' directory holds only
// snapshots), with what it depends on: the running kernel (its
// boot id: a reboot may bring another kernel or module set) and the
// filesystem that holds `dir` (its device number and type: another
// filesystem mounted there, or the root moved, asks again). Only "yes" is
// kept: a "no" may be a passing failure, and probing again is what a "no"
// costs anyway.

import { readFileSync, statSync, statfsSync } from 'node:fs';
import { stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const mark = (dir: string) => join(dirname(dir), `.${basename(dir)}.overlay-ok`);

interface Mark {
  bootId: string;
  dev: number;
  fsType: number;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function current(dir: string): Promise<Mark | undefined> {
  const id = bootId();
  if (!id) return undefined;
  const [st, fs] = await Promise.all([stat(dir), statfs(dir)]);
  return { bootId: id, dev: st.dev, fsType: fs.type };
}

/** True if an earlier probe of `dir` in this boot, on this filesystem, said yes (synchronous: see mount.ts's probe). */
export function probedBefore(dir: string): boolean {
  try {
    const id = bootId();
    if (!id) return false;
    const was = JSON.parse(readFileSync(mark(dir), 'utf8')) as Partial<Mark>;
    return was.bootId === id && was.dev === statSync(dir).dev && was.fsType === statfsSync(dir).type;
  } catch {
    return false;
  }
}

/** Remembers a positive probe of `dir`; failing to is harmless (the next start probes). */
export async function rememberProbe(dir: string): Promise<void> {
  try {
    const now = await current(dir);
    if (now) await writeFile(mark(dir), JSON.stringify(now) + '\n', { mode: 0o600 });
  } catch {
    // read-only or full: probe again next time
  }
}
