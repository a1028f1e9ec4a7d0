// What berth-engine unpacks, compared file by file with what a real
// containerd 1.6 unpacks from the same image, both pulled by the same ctr
// from the local registry and seen through `ctr images mount`: type, mode,
// owner, size, content, link targets, hard-link groups and mtimes of every
// entry. Both of the engine's snapshotters are compared.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { registryMissing, startRegistry, type RegistryInstance } from '../../helpers/registry.js';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { layeredImage, pushImage, startEngine, type Engine } from './helpers.js';

const skip =
  registryMissing ||
  (!which('containerd') && 'containerd is not installed (apt-get install containerd)') ||
  (!which('skopeo') && 'skopeo is not installed') ||
  (process.getuid?.() !== 0 && 'needs root');

let reg: RegistryInstance;
let eng: Engine;
let ctrd: Containerd;
let ref: string;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  eng = await startEngine('berth-eng-cmp-');
  ctrd = await startContainerd({ prefix: 'berth-eng-cmp-ctrd-' });
  ref = pushImage(reg, layeredImage(3), 'engine/compare');
});

after(async () => {
  await ctrd?.stop();
  await eng?.stop();
  await reg?.stop();
});

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime?: number;
  sha256?: string;
  link?: string;
  /** The other names of a hard-linked file, sorted. */
  links?: string;
}

function tree(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const inodes = new Map<number, string[]>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, p));
      const e: Entry = { type: '?', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) e.type = 'dir';
      else if (st.isSymbolicLink()) Object.assign(e, { type: 'symlink', link: readlinkSync(join(root, p)) });
      else if (st.isFile()) {
        Object.assign(e, {
          type: 'file',
          size: st.size,
          mtime: Math.floor(st.mtimeMs / 1000),
          sha256: createHash('sha256')
            .update(readFileSync(join(root, p)))
            .digest('hex'),
        });
        if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), p]);
      } else if (st.isCharacterDevice()) Object.assign(e, { type: 'char', size: st.rdev });
      else if (st.isBlockDevice()) Object.assign(e, { type: 'block', size: st.rdev });
      else if (st.isFIFO()) e.type = 'fifo';
      out.set(p, e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  for (const names of inodes.values())
    for (const n of names)
      out.get(n)!.links = names
        .filter((x) => x !== n)
        .sort()
        .join(',');
  return out;
}

function mounted<T>(
  run: (args: string[]) => { status: number | null; stderr: string },
  target: string,
  snapshotter: string,
  fn: () => T,
): T {
  mkdirSync(target, { recursive: true });
  const m = run(['images', 'mount', '--snapshotter', snapshotter, ref, target]);
  assert.equal(m.status, 0, m.stderr);
  try {
    return fn();
  } finally {
    const u = run(['images', 'unmount', '--rm', target]);
    assert.equal(u.status, 0, u.stderr);
  }
}

function diff(a: Map<string, Entry>, b: Map<string, Entry>): string[] {
  const out: string[] = [];
  for (const [p, e] of a) {
    const o = b.get(p);
    if (!o) out.push(`only in berth-engine: ${p}`);
    else if (JSON.stringify(e) !== JSON.stringify(o))
      out.push(`${p}: berth-engine ${JSON.stringify(e)} containerd ${JSON.stringify(o)}`);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`only in containerd: ${p}`);
  return out;
}

test('the unpacked image is the same as containerd unpacks it (overlayfs and native)', { skip }, () => {
  const pulled = ctrd.ctr(['images', 'pull', '--plain-http', ref], { timeout: 120000 });
  assert.equal(pulled.status, 0, pulled.stderr);
  const theirs = mounted(
    (a) => ctrd.ctr(a),
    join(eng.dir, 'mnt-containerd'),
    'overlayfs',
    () => tree(join(eng.dir, 'mnt-containerd')),
  );
  assert.ok(theirs.size > 250, `containerd's tree has ${theirs.size} entries`);

  for (const sn of ['overlayfs', 'native']) {
    const r = eng.ctr(['images', 'pull', '--snapshotter', sn, '--plain-http', ref], {
      ns: `cmp-${sn}`,
      timeout: 120000,
    });
    assert.equal(r.status, 0, r.stderr);
    const target = join(eng.dir, `mnt-${sn}`);
    const ours = mounted(
      (a) => eng.ctr(a, { ns: `cmp-${sn}` }),
      target,
      sn,
      () => tree(target),
    );
    assert.deepEqual(diff(ours, theirs), [], `${sn}: trees differ`);
  }
});
