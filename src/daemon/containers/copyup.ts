// Docker's volume copy-up: a volume that is empty when first mounted gets
// what the image has at its destination (owners, modes, times, links and
// extended attributes kept, as `cp -a` keeps them). The image's directory is
// resolved in the container's rootfs as the container would resolve it (an
// image VOLUME that climbs or is a symlink to a host path stays inside:
// containerd's CVE-2022-23648), and the volume is written through pinned
// descriptors (extract.ts): a named volume may already be mounted in another
// running container, whose processes can plant or swap symlinks in it while
// we copy; `cp -a` wrote through path strings and would follow them.

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { extractInto } from './extract.js';
import { PinnedRoot, type Dir } from './pinned.js';
import { unescapeGetfattr } from './xattrs.js';

const run = promisify(execFile);

/** Copies the image's `destination` (under the rootfs mounted at `root`) into the volume directory `volume`; false when the image has no directory there. */
export async function copyUp(root: string, destination: string, volume: string): Promise<boolean> {
  const tree = await PinnedRoot.open(root);
  try {
    let src: Dir;
    try {
      src = await tree.directory(destination);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false;
      throw e;
    }
    try {
      const vol = await PinnedRoot.open(volume);
      try {
        await copyTree(src, vol, destination);
        await copyXattrs(src, vol);
      } finally {
        await vol.close();
      }
    } finally {
      await src.close();
    }
    return true;
  } finally {
    await tree.close();
  }
}

/** GNU tar reads the image's tree (from the pinned directory, openat with O_NOFOLLOW below it); extract.ts writes it. */
async function copyTree(src: Dir, vol: PinnedRoot, destination: string): Promise<void> {
  const tar = spawn('tar', ['--numeric-owner', '-C', src.atForChild(), '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((res) => tar.on('close', (c) => res(c ?? 1)));
  try {
    await extractInto(vol, '/', tar.stdout, { noOverwriteDirNonDir: false, rootAttributes: true });
  } catch (e) {
    tar.kill();
    await exited;
    throw new BerthError('berthd', 'internal', `copying ${destination} of the image into its volume: ${messageOf(e)}`, {
      cause: e,
    });
  }
  const code = await exited;
  if (code !== 0)
    throw new BerthError('berthd', 'internal', `copying ${destination} of the image into its volume: ${err.trim()}`);
}

/**
 * Extended attributes (file capabilities, ACLs): one getfattr over the
 * image's tree (a rootfs no process runs in yet), then each file that has
 * any is found again in the volume through pinned descriptors and given
 * them with setfattr -h (never through a symlink).
 */
async function copyXattrs(src: Dir, vol: PinnedRoot): Promise<void> {
  // The trailing "/" makes getfattr enter the magic link (with -h it would read the link itself); it prints "<base>/<path>".
  const base = `${src.atForChild()}/`;
  const args = ['-R', '-h', '-P', '--absolute-names', '-d', '-m', '-', '-e', 'hex', base];
  // getfattr exits 1 when some file cannot be read (a socket...): what it printed still holds.
  const text = await new Promise<string>((res) =>
    execFile('getfattr', args, { maxBuffer: 256 * 1024 * 1024 }, (_e, stdout) => res(stdout ?? '')),
  );
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter(Boolean);
    const head = lines.shift();
    if (!head?.startsWith('# file: ') || !lines.length) continue;
    const file = unescapeGetfattr(head.slice('# file: '.length));
    const rel = file === base ? '/' : file.slice(base.length - 1);
    const spot = await vol.locate(rel, { followLast: false }).catch(() => undefined);
    if (!spot) continue;
    try {
      const target = spot.name === undefined ? spot.dir.atForChild() : spot.dir.atForChild(spot.name);
      for (const l of lines) {
        const i = l.indexOf('=');
        if (i > 0) await run('setfattr', ['-h', '-n', l.slice(0, i), '-v', l.slice(i + 1), target]);
      }
    } finally {
      await spot.dir.close();
    }
  }
}
