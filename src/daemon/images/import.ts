// docker import: a root filesystem tarball (gzip, zstd or plain; from the
// request body or fetched from a URL) becomes a one-layer image, as dockerd
// makes it: the plain tar's sha256 is the diff id, the layer is stored
// gzip-compressed, the config is fresh for the asked platform (the host's
// by default) with the `changes` applied (CMD, ENV, ...), and one history
// entry whose comment is the message, or "Imported from <source>". The layer
// is written under a lease and unpacked before the image is named.

import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ContainerdClient } from '../../client/index.js';
import { temporaryLease } from '../../client/pull.js';
import { BerthError } from '../../common/errors.js';
import { applyChanges } from '../../image/storeless.js';
import { autoDecompress, Hasher, peek } from '../../image/storeless.js';
import type { ImageConfig } from '../../image/storeless.js';
import { MediaType } from '../../image/storeless.js';
import type { NormalPlatform } from '../../image/storeless.js';
import { ingest } from './ingest.js';
import { storeImage } from './unpack.js';

export interface ImportOptions {
  client: ContainerdClient;
  snapshotter: string;
  /** "-" for the request body, else the URL. */
  source: string;
  changes: string[];
  message?: string;
  platform: NormalPlatform;
  /** Full name with tag; none for a dangling image. */
  name?: string;
}

/** A tar's first header block must carry a correct checksum: anything else is not a tarball. */
function checkTarHeader(h: Buffer): void {
  if (h.length < 512)
    throw new BerthError('berthd', 'invalid-argument', 'import: the input is shorter than one tar header');
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (!Number.isFinite(stored) || stored !== sum)
    throw new BerthError('berthd', 'invalid-argument', 'import: the input is not a tar archive (bad header checksum)');
}

export async function importTarball(input: Readable, opts: ImportOptions): Promise<{ id: string; target: string }> {
  const { client, snapshotter, platform } = opts;
  // Refused before a byte is stored: a bad change is the caller's mistake.
  const runtime = applyChanges({}, opts.changes);
  const lease = await temporaryLease(client, 'berthd-import', 3600_000);
  let done = false;
  try {
    const { stream } = await autoDecompress(input);
    const head = await peek(stream, 512);
    checkTarHeader(head.bytes);
    const diff = new Hasher();
    const gz = new PassThrough();
    const flowing = pipeline(head.stream, diff, createGzip(), gz);
    const [layer] = await Promise.all([ingest(client, lease, gz, { what: 'import: layer' }), flowing]);
    const diffId = diff.digest();
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: runtime,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, comment: opts.message || `Imported from ${opts.source}` }],
    };
    const layerDesc = { mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size };
    const r = await storeImage(client, lease, snapshotter, config, [layerDesc], opts.name, 'import');
    done = true;
    return r;
  } finally {
    await client.leases.delete(lease, !done).catch(() => undefined);
  }
}

/** The body of `fromSrc=URL`, fetched as dockerd does (a bare host gets http://). */
export async function fetchSource(src: string): Promise<Readable> {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(src) ? src : `http://${src}`);
  } catch {
    throw new BerthError('berthd', 'invalid-argument', `import: invalid source URL "${src}"`, { field: 'fromSrc' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `import: unsupported URL scheme ${url.protocol} (http and https are)`,
      {
        field: 'fromSrc',
      },
    );
  const res = await fetch(url, { redirect: 'follow' });
  if (!res.ok || !res.body) {
    const text = (await res.text().catch(() => '')).slice(0, 200);
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `failed to GET ${url.href} with status ${res.status} ${res.statusText}: ${text}`,
    );
  }
  return Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
}
