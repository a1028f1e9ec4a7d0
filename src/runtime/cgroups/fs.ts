// The seam between the cgroup logic and the kernel: every read and write of a
// cgroup file goes through CgroupFs, so the managers can be unit-tested
// against MemoryCgroupFs (which records each write) and run for real against
// realCgroupFs. The interface is synchronous on purpose: cgroupfs and /proc
// are in-kernel pseudo-files, each access is one short syscall that never
// waits on a disk, and the only waits in the managers (freeze, rmdir retries)
// are explicit async polls.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  constants,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

export interface CgroupFs {
  readFile(path: string): string;
  /** One write(2) of the whole value on an existing file (cgroup files take one value per write). */
  writeFile(path: string, value: string): void;
  /** mkdir -p; returns the directories it created, outermost first. */
  mkdir(path: string): string[];
  rmdir(path: string): void;
  /** Names of the subdirectories of a directory (cgroup children). */
  readdir(path: string): string[];
  exists(path: string): boolean;
}

/** An Error shaped like Node's system errors (err.code = 'ENOENT'...). */
export function sysError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${syscall} '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}

export const realCgroupFs: CgroupFs = {
  readFile(path) {
    return readFileSync(path, 'utf8');
  },
  writeFile(path, value) {
    // O_WRONLY without O_CREAT: a missing file is ENOENT (a controller or
    // feature the kernel lacks), never a stray regular file.
    const fd = openSync(path, constants.O_WRONLY);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  mkdir(path) {
    const created: string[] = [];
    let p = path;
    while (!existsSync(p)) {
      created.unshift(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
    const made: string[] = [];
    try {
      for (const d of created) {
        try {
          mkdirSync(d);
          made.push(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
    } catch (e) {
      // Leave nothing half-made: the caller never learns about these.
      for (const d of made.reverse()) {
        try {
          rmdirSync(d);
        } catch {
          /* best effort */
        }
      }
      throw e;
    }
    return made;
  },
  rmdir(path) {
    rmdirSync(path);
  },
  readdir(path) {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  },
  exists(path) {
    return existsSync(path);
  },
};

export interface RecordedWrite {
  path: string;
  value: string;
}

/**
 * An in-memory cgroupfs for unit tests. Like the kernel, a new directory gets
 * the same control files as its parent (with empty contents, as v1 cpuset
 * children start), writing a file that does not exist fails with ENOENT, and
 * rmdir removes a directory's control files with it but refuses one with
 * subdirectories (EBUSY) or, when `busy` says so, with processes.
 */
export class MemoryCgroupFs implements CgroupFs {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  readonly writes: RecordedWrite[] = [];
  readonly ops: string[] = [];
  /** path → errno code to fail the next writes of that file with. */
  readonly failWrites = new Map<string, string>();
  /** Called on rmdir; return true to fail it with EBUSY (processes still inside). */
  busy: (dir: string) => boolean = () => false;

  /** Creates a directory (and its parents) holding the given files. */
  seed(dir: string, files: Record<string, string> = {}): this {
    let p = dir;
    const chain: string[] = [];
    while (!this.dirs.has(p) && p !== '/') {
      chain.unshift(p);
      p = dirname(p);
    }
    this.dirs.add('/');
    for (const d of chain) this.dirs.add(d);
    for (const [name, value] of Object.entries(files)) this.files.set(`${dir}/${name}`, value);
    return this;
  }

  readFile(path: string): string {
    const v = this.files.get(path);
    if (v === undefined) throw sysError('ENOENT', 'open', path);
    return v;
  }

  writeFile(path: string, value: string): void {
    if (!this.files.has(path)) throw sysError('ENOENT', 'open', path);
    const code = this.failWrites.get(path);
    if (code) throw sysError(code, 'write', path);
    this.writes.push({ path, value });
    this.ops.push(`write ${path} ${value}`);
    if (path.endsWith('/cgroup.subtree_control')) {
      // The kernel keeps the set of enabled controllers, changed by "+c"/"-c".
      const set = new Set((this.files.get(path) ?? '').split(/\s+/).filter(Boolean));
      for (const t of value.split(/\s+/).filter(Boolean)) {
        if (t.startsWith('+')) set.add(t.slice(1));
        else if (t.startsWith('-')) set.delete(t.slice(1));
      }
      this.files.set(path, [...set].join(' '));
    } else {
      this.files.set(path, value);
    }
  }

  mkdir(path: string): string[] {
    const created: string[] = [];
    let p = path;
    while (!this.dirs.has(p)) {
      created.unshift(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
    for (const d of created) {
      const parent = dirname(d);
      if (!this.dirs.has(parent)) throw sysError('ENOENT', 'mkdir', d);
      this.dirs.add(d);
      this.ops.push(`mkdir ${d}`);
      for (const f of [...this.files.keys()]) {
        if (dirname(f) === parent) this.files.set(`${d}/${f.slice(parent.length + 1)}`, '');
      }
    }
    return created;
  }

  rmdir(path: string): void {
    if (!this.dirs.has(path)) throw sysError('ENOENT', 'rmdir', path);
    if (this.readdir(path).length > 0 || this.busy(path)) throw sysError('EBUSY', 'rmdir', path);
    this.dirs.delete(path);
    for (const f of [...this.files.keys()]) if (dirname(f) === path) this.files.delete(f);
    this.ops.push(`rmdir ${path}`);
  }

  readdir(path: string): string[] {
    if (!this.dirs.has(path)) throw sysError('ENOENT', 'scandir', path);
    const out: string[] = [];
    for (const d of this.dirs) if (d !== path && dirname(d) === path) out.push(d.slice(path.length + 1));
    return out.sort();
  }

  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }
}
