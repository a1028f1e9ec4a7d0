// Corner cases of layer semantics, each an image built here, unpacked by
// Berth (overlayfs, mounted; native) and by umoci from the same OCI layout;
// the trees must agree entry by entry, and the expected facts must hold.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  openSnapshotter,
  unpackImage,
  mountAll,
  unmountAll,
  prepareContainerRootfs,
} from '../../../src/snapshot/index.js';
import { gzip, haveAttrTools, makeTar, MemoryStore, sha256, tempRoot, type TarEntry } from './layers.js';
import { ociLayout, tree } from './oracle.js';

const isRoot = process.getuid?.() === 0;
const haveUmoci = existsSync('/usr/bin/umoci');

interface Case {
  name: string;
  layers: TarEntry[][];
  /** path → expected sorted listing (for dirs) or content (for files); null means absent. */
  expect: Record<string, string[] | string | null>;
  /** The layers carry xattrs of their own: without setfattr the unpack refuses them (tested elsewhere). */
  needsSetfattr?: boolean;
}

const cases: Case[] = [
  {
    name: 'whiteout then the same directory again in one layer',
    layers: [
      [
        { name: 'x/', type: 'directory' },
        { name: 'x/a', content: 'a' },
      ],
      [
        { name: '.wh.x', content: '' },
        { name: 'x/', type: 'directory' },
        { name: 'x/b', content: 'b' },
      ],
    ],
    expect: { x: ['b'] },
  },
  {
    // The recreated directory's own xattr must not replace the opaque marker
    // the whiteout queued for it (the lower x/a would show through).
    name: 'whiteout then the same directory again, with an xattr of its own',
    layers: [
      [
        { name: 'x/', type: 'directory' },
        { name: 'x/a', content: 'a' },
      ],
      [
        { name: '.wh.x', content: '' },
        { name: 'x/', type: 'directory', pax: { 'SCHILY.xattr.user.berth': 'v' } },
        { name: 'x/b', content: 'b' },
      ],
    ],
    expect: { x: ['b'] },
    needsSetfattr: true,
  },
  {
    name: 'opaque marker first, then the directory with an xattr of its own',
    layers: [
      [
        { name: 'o/', type: 'directory' },
        { name: 'o/n', content: 'n' },
      ],
      [
        { name: 'o/.wh..wh..opq', content: '' },
        { name: 'o/', type: 'directory', pax: { 'SCHILY.xattr.user.berth': 'v' } },
        { name: 'o/m', content: 'm' },
      ],
    ],
    expect: { o: ['m'] },
    needsSetfattr: true,
  },
  {
    name: 'a directory, then its whiteout, in one layer',
    layers: [
      [
        { name: 'x/', type: 'directory' },
        { name: 'x/a', content: 'a' },
      ],
      [
        { name: 'x/', type: 'directory' },
        { name: 'x/b', content: 'b' },
        { name: '.wh.x', content: '' },
      ],
    ],
    expect: { x: ['b'] },
  },
  {
    name: 'file replaced by a directory, directory replaced by a file',
    layers: [
      [
        { name: 'y', content: 'y' },
        { name: 'z/', type: 'directory' },
        { name: 'z/d', content: 'd' },
        { name: 'z/e/', type: 'directory' },
      ],
      [
        { name: 'y/', type: 'directory' },
        { name: 'y/c', content: 'c' },
        { name: 'z', content: 'now a file' },
      ],
    ],
    expect: { y: ['c'], z: 'now a file' },
  },
  {
    name: 'symlink replaced by a directory',
    layers: [
      [
        { name: 't/', type: 'directory' },
        { name: 't/keep', content: 'k' },
        { name: 's', type: 'symlink', linkname: 't' },
      ],
      [
        { name: 's/', type: 'directory' },
        { name: 's/f', content: 'f' },
      ],
    ],
    expect: { s: ['f'], t: ['keep'] },
  },
  {
    name: 'hard link chains and an entry written twice',
    layers: [
      [
        { name: 'f', content: 'one' },
        { name: 'h1', type: 'link', linkname: 'f' },
        { name: 'h2', type: 'link', linkname: 'h1' },
        { name: 'f', content: 'two' },
      ],
    ],
    expect: { f: 'two', h1: 'one', h2: 'one' },
  },
  {
    name: 'whiteouts inside a directory, then of the directory itself',
    layers: [
      [
        { name: 'w/', type: 'directory' },
        { name: 'w/a', content: 'a' },
        { name: 'w/b', content: 'b' },
        { name: 'v/', type: 'directory' },
        { name: 'v/a', content: 'a' },
      ],
      [
        { name: 'w/.wh.a', content: '' },
        { name: '.wh.w', content: '' },
        { name: 'v/.wh.a', content: '' },
      ],
    ],
    expect: { w: null, v: [] },
  },
  {
    name: 'opaque directory over nested lower directories',
    layers: [
      [
        { name: 'o/', type: 'directory' },
        { name: 'o/p/', type: 'directory' },
        { name: 'o/p/q', content: 'q' },
        { name: 'o/n', content: 'n' },
      ],
      [
        { name: 'o/', type: 'directory' },
        { name: 'o/.wh..wh..opq', content: '' },
        { name: 'o/p/', type: 'directory' },
        { name: 'o/p/r', content: 'r' },
      ],
    ],
    expect: { o: ['p'], 'o/p': ['r'] },
  },
  {
    name: 'hard link to a lower file whose name is then whited out',
    layers: [
      [
        { name: 't1', content: 'lower' },
        { name: 'd/', type: 'directory' },
        { name: 'd/t2', content: 'deep' },
      ],
      [
        { name: 'hl', type: 'link', linkname: 't1' },
        { name: '.wh.t1', content: '' },
        { name: 'e/hl2', type: 'link', linkname: 'd/t2' },
      ],
    ],
    expect: { hl: 'lower', t1: null, 'e/hl2': 'deep', 'd/t2': 'deep' },
  },
];

describe(
  'layer semantics agree with umoci',
  {
    skip: !isRoot ? 'needs root' : !haveUmoci ? 'umoci not installed' : !haveAttrTools() ? 'attr not installed' : false,
  },
  () => {
    const t = tempRoot();
    after(() => t.cleanup());
    let n = 0;
    for (const c of cases) {
      test(c.name, async () => {
        const dir = join(t.root, `case${n++}`);
        mkdirSync(dir);
        const tars = await Promise.all(c.layers.map((l) => makeTar(l)));
        const layers = tars.map((l) => ({ blob: gzip(l), diffId: sha256(l) }));
        ociLayout(join(dir, 'layout'), layers);
        execFileSync('umoci', ['unpack', '--image', `${join(dir, 'layout')}:test`, join(dir, 'bundle')], {
          stdio: 'pipe',
        });
        const theirs = tree(join(dir, 'bundle', 'rootfs'));
        const store = new MemoryStore();
        const manifest = {
          layers: layers.map((l) => ({
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            digest: store.add(l.blob),
            size: l.blob.length,
          })),
        };
        const config = { rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } };
        // overlayfs twice: with the opaque xattr, and with its emulation by
        // whiteouts used where setfattr is missing.
        for (const [driver, setfattr] of [
          ['overlayfs', undefined],
          ['overlayfs', 'none'],
          ['native', undefined],
        ] as const) {
          if (setfattr && c.needsSetfattr) continue;
          const label = setfattr ? `${driver}-no-setfattr` : driver;
          const sn = await openSnapshotter(join(dir, label), { driver });
          const target = join(dir, `mnt-${label}`);
          mkdirSync(target);
          try {
            if (setfattr) process.env.BERTH_SETFATTR = setfattr;
            let r;
            try {
              r = await unpackImage({ store, snapshotter: sn, manifest, config });
            } finally {
              delete process.env.BERTH_SETFATTR;
            }
            await mountAll(await prepareContainerRootfs(sn, 'c', r.chainId), target);
            try {
              for (const [path, want] of Object.entries(c.expect)) {
                const p = join(target, path);
                if (want === null) assert.ok(!existsSync(p), `${label}: ${path} absent`);
                else if (Array.isArray(want)) assert.deepEqual(readdirSync(p).sort(), want, `${label}: ${path}`);
                else assert.equal(readFileSync(p, 'utf8'), want, `${label}: ${path}`);
              }
              const ours = tree(target);
              assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), `${label}: same paths as umoci`);
              for (const [rel, node] of theirs) {
                const o = ours.get(rel)!;
                // Directories this layer recreated get "now" as mtime from both tools: compare the rest.
                if (node.type === 'dir')
                  assert.deepEqual({ ...o, mtime: 0 }, { ...node, mtime: 0 }, `${label}: ${rel}`);
                else assert.deepEqual(o, node, `${label}: ${rel}`);
              }
            } finally {
              await unmountAll(target);
            }
          } finally {
            sn.close();
          }
        }
      });
    }
  },
);
