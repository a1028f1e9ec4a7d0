// An image archive (OCI layout tar or `docker save` tar, gzip/zstd or plain)
// read in one pass straight from the request body into containerd's content
// store: nothing is held in memory but the small JSON documents, nothing is
// written under an entry's own name. The input is untrusted, so each entry
// is judged where it enters, and the first bad one ends the load with an
// error naming it: a path that climbs out of the archive, a link whose
// target does, a device or fifo, a blob whose bytes are not the digest its
// path names, a size the bytes do not have, a JSON document over its bound.

import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ContainerdClient } from '../../client/index.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { autoDecompress } from '../../image/storeless.js';
import { ingest, type Blob } from './ingest.js';

export const MAX_JSON_FILE = 16 * 1024 * 1024;
const MAX_JSON_TOTAL = 64 * 1024 * 1024;
/** More entries than any image archive has: past it, the archive is refused rather than stored file by file. */
const MAX_ENTRIES = 100_000;

export interface ArchiveEntries {
  /** Small documents by path: index.json, oci-layout, manifest.json, repositories, <id>.json, <id>/json. */
  json: Map<string, Buffer>;
  /** Every other file, as a blob in the content store. */
  blobs: Map<string, Blob>;
  /** Links inside the archive (docker save links identical layers): path → target path. */
  links: Map<string, string>;
}

function bad(name: string, why: string): BerthError {
  return new BerthError('berthd', 'invalid-argument', `archive entry ${JSON.stringify(name)}: ${why}`);
}

/** "./a//b/" → "a/b"; undefined for a path that climbs out of the archive or is absolute. */
export function entryPath(name: string): string | undefined {
  if (name.startsWith('/')) return undefined;
  const n = posix.normalize(name).replace(/\/$/, '');
  if (n === '.' || n === '') return '';
  if (n === '..' || n.startsWith('../')) return undefined;
  return n.replace(/^\.\//, '');
}

function isJsonName(n: string): boolean {
  return n.endsWith('.json') || n === 'oci-layout' || n === 'repositories' || n.endsWith('/json');
}

export async function readArchive(client: ContainerdClient, lease: string, input: Readable): Promise<ArchiveEntries> {
  const { stream } = await autoDecompress(input);
  const extract = tar.extract();
  let entryStream: { destroy(e?: Error): void } | undefined;
  // A client that hangs up mid-body: the entry being stored fails too, not just the next one.
  const cut = (e: Error) => {
    entryStream?.destroy(e);
    extract.destroy(e);
  };
  stream.on('error', cut);
  input.on('error', cut);
  input.on('aborted', () => cut(new Error('the client closed the connection before the end of the archive')));
  stream.pipe(extract);
  const files: ArchiveEntries = { json: new Map(), blobs: new Map(), links: new Map() };
  let jsonTotal = 0;
  let entries = 0;
  let current = '';
  try {
    for await (const entry of extract) {
      if (++entries > MAX_ENTRIES) throw bad(entry.header.name, `more than ${MAX_ENTRIES} entries in one archive`);
      entryStream = entry;
      const h = entry.header;
      current = h.name;
      const name = entryPath(h.name);
      if (name === undefined) throw bad(h.name, 'the path leads out of the archive');
      if (h.type === 'directory' || name === '') {
        entry.resume();
        continue;
      }
      if (h.type === 'symlink' || h.type === 'link') {
        const raw = h.linkname ?? '';
        if (raw.startsWith('/')) throw bad(h.name, `a link to the absolute path ${JSON.stringify(raw)}`);
        const target = entryPath(h.type === 'symlink' ? posix.join(posix.dirname(name), raw) : raw);
        if (!target) throw bad(h.name, `a link to ${JSON.stringify(raw)}, which is outside the archive`);
        files.links.set(name, target);
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file')
        throw bad(h.name, `a ${h.type ?? 'special file'} has no place in an image archive`);
      const size = h.size ?? 0;
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      if (m) {
        files.blobs.set(
          name,
          await ingest(client, lease, entry, { expected: `sha256:${m[1]}`, size, what: `archive entry "${name}"` }),
        );
        continue;
      }
      if (/^blobs\//.test(name) && !/^blobs\/sha256\//.test(name)) {
        throw bad(h.name, 'only sha256 blobs are supported');
      }
      if (isJsonName(name)) {
        if (size > MAX_JSON_FILE)
          throw bad(h.name, `${size} bytes, over the ${MAX_JSON_FILE}-byte bound of a JSON document`);
        jsonTotal += size;
        if (jsonTotal > MAX_JSON_TOTAL)
          throw bad(h.name, `over ${MAX_JSON_TOTAL} bytes of JSON documents in one archive`);
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        files.json.set(name, Buffer.concat(chunks));
        continue;
      }
      if (name === 'VERSION' || name.endsWith('/VERSION')) {
        entry.resume();
        continue;
      }
      files.blobs.set(name, await ingest(client, lease, entry, { size, what: `archive entry "${name}"` }));
    }
  } catch (e) {
    extract.destroy();
    if (isBerthError(e)) throw e;
    const where = current ? `archive entry ${JSON.stringify(current)}` : 'archive';
    throw new BerthError('berthd', 'invalid-argument', `${where}: not a readable tar archive: ${messageOf(e)}`, {
      cause: e,
    });
  }
  if (entries === 0) throw new BerthError('berthd', 'invalid-argument', 'archive: empty, not an image archive');
  return files;
}
