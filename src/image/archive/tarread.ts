// Reads an image archive (OCI layout tar or `docker save` tar, optionally
// compressed) in one pass, in whatever order its entries come: files under
// blobs/<alg>/<hex> are streamed into the content store and verified against
// the digest their path names; other large files (docker-save layer.tar) are
// streamed in under the digest of their bytes; small JSON documents are kept
// in memory for the format reader. Nothing is ever written under an entry's
// own name, so a hostile path ("../../etc/passwd") can only fail to be found.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { posix } from 'node:path';
import { BerthError, messageOf } from '../../common/errors.js';
import type { BlobInfo } from '../content/types.js';
import type { LocalContentStore } from '../content/store.js';
import { isDigest } from '../reference.js';
import { autoDecompress } from './stream.js';

export const MAX_JSON_FILE = 16 * 1024 * 1024;
const MAX_JSON_TOTAL = 64 * 1024 * 1024;

export interface ArchiveFiles {
  /** Small documents by normalised path: index.json, oci-layout, manifest.json, repositories, <id>.json. */
  json: Map<string, Buffer>;
  /** Other files by normalised path, as stored blobs. */
  blobs: Map<string, BlobInfo>;
  /** Symbolic links (docker save links identical layers), path → target path. */
  links: Map<string, string>;
}

/** "./a//b/" → "a/b"; undefined for paths that climb out ("../x") or are empty. */
export function normalizeEntry(name: string): string | undefined {
  const n = posix
    .normalize('/' + name)
    .slice(1)
    .replace(/\/$/, '');
  if (n === '' || n.split('/').includes('..')) return undefined;
  return n;
}

function isJsonName(n: string): boolean {
  return n.endsWith('.json') || n === 'oci-layout' || n === 'repositories' || n.endsWith('/json');
}

export interface ReadOptions {
  /** Called with each blob's digest just before it is committed, so a lease can protect it until the image record exists. */
  protect?: (digest: string) => void;
}

export async function readArchive(
  store: LocalContentStore,
  input: Readable | string,
  opts: ReadOptions = {},
): Promise<ArchiveFiles> {
  const raw = typeof input === 'string' ? createReadStream(input) : input;
  const what = typeof input === 'string' ? input : 'archive';
  const { stream } = await autoDecompress(raw);
  const extract = tar.extract();
  stream.on('error', (e) => extract.destroy(e));
  stream.pipe(extract);
  const files: ArchiveFiles = { json: new Map(), blobs: new Map(), links: new Map() };
  let jsonTotal = 0;
  let entries = 0;
  try {
    for await (const entry of extract) {
      entries++;
      const h = entry.header;
      const name = normalizeEntry(h.name);
      if (!name || (h.type !== 'file' && h.type !== 'contiguous-file' && h.type !== 'symlink' && h.type !== 'link')) {
        entry.resume();
        continue;
      }
      if (h.type === 'symlink' || h.type === 'link') {
        const target =
          h.type === 'symlink'
            ? normalizeEntry(posix.join(posix.dirname(name), h.linkname ?? ''))
            : normalizeEntry(h.linkname ?? '');
        if (target) files.links.set(name, target);
        entry.resume();
        continue;
      }
      const size = h.size ?? 0;
      const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
      if (m && isDigest(`${m[1]}:${m[2]}`)) {
        const digest = `${m[1]}:${m[2]}`;
        let info: BlobInfo;
        try {
          info = await store.putStream(entry as unknown as AsyncIterable<Uint8Array>, {
            digest,
            size,
            beforeCommit: opts.protect,
          });
        } catch (e) {
          throw new BerthError('image', 'digest-mismatch', `${what}: ${name}: ${messageOf(e)}`, { cause: e });
        }
        files.blobs.set(name, info);
        continue;
      }
      if (isJsonName(name) && size <= MAX_JSON_FILE) {
        jsonTotal += size;
        if (jsonTotal > MAX_JSON_TOTAL)
          throw new BerthError('image', 'invalid-argument', `${what}: over ${MAX_JSON_TOTAL} bytes of JSON documents`);
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        files.json.set(name, Buffer.concat(chunks));
        continue;
      }
      if (name.endsWith('/VERSION') || name === 'VERSION') {
        entry.resume();
        continue;
      }
      const info = await store.putStream(entry as unknown as AsyncIterable<Uint8Array>, {
        size,
        beforeCommit: opts.protect,
      });
      files.blobs.set(name, info);
    }
  } catch (e) {
    if (e instanceof BerthError) throw e;
    throw new BerthError('image', 'invalid-argument', `${what}: not a readable tar archive: ${messageOf(e)}`, {
      cause: e,
    });
  }
  if (entries === 0) throw new BerthError('image', 'invalid-argument', `${what}: empty archive`);
  return files;
}

/** A file of the archive, by path, following links; undefined when absent. */
export function lookup<B = BlobInfo>(
  files: { json: Map<string, Buffer>; blobs: Map<string, B>; links: Map<string, string> },
  path: string,
): { json?: Buffer; blob?: B } | undefined {
  let p = normalizeEntry(path);
  for (let i = 0; p && i < 16; i++) {
    const json = files.json.get(p);
    if (json) return { json };
    const blob = files.blobs.get(p);
    if (blob) return { blob };
    p = files.links.get(p);
  }
  return undefined;
}
