// What berthd puts beside a container's rootfs (hostname, hosts, resolv.conf,
// bind-mounted over the image's), and what it reads from inside the rootfs:
// /etc/passwd and /etc/group to turn `-u name[:group]` into numbers, as
// dockerd does before it hands the spec down. The rootfs is mounted
// read-only on a private temp dir for that read, and only when a name needs
// resolving.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MountSpec } from '../../client/services.js';
import { badRequest } from '../http/errors.js';
import { PinnedRoot, readSmallFile } from './pinned.js';

/** The most of /etc/passwd or /etc/group read (the runtime reads HOME with the same bound). */
const DB_MAX = 4 * 1024 * 1024;

const run = promisify(execFile);

export async function writeHostFiles(
  dir: string,
  hostname: string,
  hostNet: boolean,
  extraHosts: string[] = [],
): Promise<{ hostname: string; hosts: string; resolv: string }> {
  const paths = { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), resolv: join(dir, 'resolv.conf') };
  // --add-host entries ("name:ip") follow the standard lines, as dockerd writes them
  const extra = extraHosts.flatMap((e) => {
    const i = e.indexOf(':');
    return i > 0 ? [`${e.slice(i + 1)}\t${e.slice(0, i)}\n`] : [];
  });
  const writeHosts = async () => {
    const hosts = hostNet
      ? (await readFile('/etc/hosts', 'utf8').catch(() => '')) + extra.join('')
      : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n${extra.join('')}127.0.1.1\t${hostname}\n`;
    await writeFile(paths.hosts, hosts);
  };
  const writeResolv = async () => {
    let resolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    // A loopback resolver of the host is unreachable from the container's own network namespace.
    if (!hostNet)
      resolv = resolv
        .split('\n')
        .filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l))
        .join('\n');
    await writeFile(paths.resolv, resolv);
  };
  // three files, written side by side (each is open, write, close in the thread pool)
  const done = await Promise.allSettled([writeFile(paths.hostname, `${hostname}\n`), writeHosts(), writeResolv()]);
  for (const r of done) if (r.status === 'rejected') throw r.reason;
  return paths;
}

export interface User {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/** Mount `mounts` on a temp dir (read-only unless `writable`), run `fn` on it, unmount. */
export async function withRootfs<T>(
  mounts: MountSpec[],
  fn: (root: string) => Promise<T>,
  opts: { writable?: boolean } = {},
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'berthd-rootfs-'));
  const mode = opts.writable ? [] : ['ro'];
  try {
    for (const m of mounts) {
      const o = m.options.filter((x) => x !== 'rw' && x !== 'rbind' && (opts.writable || x !== 'ro'));
      if (m.type === 'bind')
        await run('mount', [
          '--bind',
          ...(o.length || mode.length ? ['-o', [...mode, ...o].join(',')] : []),
          m.source,
          dir,
        ]);
      else await run('mount', ['-t', m.type, '-o', [...mode, ...o].join(',') || 'defaults', m.source, dir]);
    }
    return await fn(dir);
  } finally {
    await run('umount', ['-R', dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
    await rmdir(dir).catch(() => undefined);
  }
}

function parseDb(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/** `-u` as numbers: "uid[:gid]" directly, names through the image's /etc/passwd and /etc/group. */
export type RootAccess = <T>(fn: (root: string) => Promise<T>) => Promise<T>;

export async function resolveUser(spec: string, withRoot: RootAccess): Promise<User> {
  const [u = '', g] = spec.split(':', 2);
  const numeric = (s: string) => /^\d+$/.test(s);
  if ((u === '' || numeric(u)) && (g === undefined || numeric(g))) {
    const uid = u === '' ? 0 : Number(u);
    return { uid, gid: g === undefined ? (uid === 0 ? 0 : uid) : Number(g), additionalGids: [] };
  }
  return withRoot(async (root) => {
    // Read as the container would resolve them, through pinned descriptors:
    // a symlink to a host file, a FIFO or /dev/zero gives nothing, not the
    // host's accounts, a hang or berthd's memory.
    const tree = await PinnedRoot.open(root);
    const read = async (path: string) => (await readSmallFile(tree, path, DB_MAX))?.toString('utf8') ?? '';
    let passwd: string[][];
    let group: string[][];
    try {
      passwd = parseDb(await read('/etc/passwd'));
      group = parseDb(await read('/etc/group'));
    } finally {
      await tree.close();
    }
    const pw = numeric(u) ? passwd.find((p) => p[2] === u) : passwd.find((p) => p[0] === u);
    if (!pw && !numeric(u)) throw badRequest(`unable to find user ${u}: no matching entries in passwd file`, 'User');
    const uid = pw ? Number(pw[2]) : Number(u);
    let gid = pw ? Number(pw[3]) : 0;
    if (g !== undefined) {
      if (numeric(g)) gid = Number(g);
      else {
        const gr = group.find((x) => x[0] === g);
        if (!gr) throw badRequest(`unable to find group ${g}: no matching entries in group file`, 'User');
        gid = Number(gr[2]);
      }
    }
    const name = pw?.[0];
    const additionalGids = name
      ? group
          .filter((x) => (x[3] ?? '').split(',').includes(name))
          .map((x) => Number(x[2]))
          .filter((x) => x !== gid)
      : [];
    return { uid, gid, additionalGids };
  });
}

/**
 * `--group-add` (HostConfig.GroupAdd) joined to the user's supplementary groups, as dockerd
 * does: numbers as they are, names through the image's /etc/group (an unknown one is a 400).
 */
export async function withGroupAdd(
  user: User,
  add: readonly string[] | null | undefined,
  withRoot: RootAccess,
): Promise<User> {
  if (!add?.length) return user;
  const numeric = (s: string) => /^\d+$/.test(s);
  const names = add.filter((g) => !numeric(g));
  const group = names.length
    ? await withRoot(async (root) => parseDb(await readFile(join(root, 'etc/group'), 'utf8').catch(() => '')))
    : [];
  const gids = add.map((g) => {
    if (numeric(g)) return Number(g);
    const gr = group.find((x) => x[0] === g);
    if (!gr) throw badRequest(`Unable to find group ${g}: no matching entries in group file`, 'GroupAdd');
    return Number(gr[2]);
  });
  return { ...user, additionalGids: [...new Set([...user.additionalGids, ...gids])] };
}
