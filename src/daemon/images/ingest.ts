// Blobs written into containerd's content store from a stream whose digest
// may not be known in advance (a `docker save` layer.tar, a `docker import`
// tarball, a layer made by commit): one Content.Write stream under the
// caller's lease, the sha256 computed here on the way, and COMMIT with that
// digest (and with the digest the caller expects, when it names one, so
// containerd checks it too). A blob that is already in the store is not
// written again (the STAT answers AlreadyExists and leases it), but the bytes
// are still read and hashed, so an archive entry that claims a digest it does
// not have is refused either way.

import { createHash, randomBytes } from 'node:crypto';
import type { ContainerdClient } from '../../client/index.js';
import { isAlreadyExists } from '../../client/errors.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { WriteSession } from '../../client/content-store.js';

// Read-ahead: the session splits it into its own message size.
const CHUNK = 1024 * 1024;

export interface Blob {
  digest: string;
  size: number;
}

export interface IngestOptions {
  /** The digest the bytes must have (from an archive path, a descriptor). */
  expected?: string;
  /** The size the bytes must have (a tar header's, a descriptor's). */
  size?: number;
  labels?: Record<string, string>;
  /** What the bytes are, for errors ("archive entry blobs/sha256/ab..."). */
  what: string;
}

/**
 * Writes `source` into the content store under `lease` and answers its
 * digest and size; the blob stays protected by the lease until an image
 * record references it.
 */
export async function ingest(
  client: ContainerdClient,
  lease: string,
  source: AsyncIterable<unknown> | Iterable<Uint8Array>,
  opts: IngestOptions,
): Promise<Blob> {
  const hash = createHash('sha256');
  let size = 0;
  const check = (digest: string) => {
    if (opts.size !== undefined && size !== opts.size)
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `${opts.what}: ${size} bytes where ${opts.size} were announced`,
      );
    if (opts.expected && digest !== opts.expected)
      throw new BerthError('berthd', 'digest-mismatch', `${opts.what}: its content is ${digest}, not ${opts.expected}`);
  };
  if (opts.expected && !opts.expected.startsWith('sha256:'))
    throw new BerthError('berthd', 'invalid-argument', `${opts.what}: only sha256 digests are supported`);
  const ref = `berthd-${randomBytes(8).toString('hex')}`;
  const s = new WriteSession(client.conn, client.content, lease);
  let committed = false;
  try {
    try {
      await s.send({ action: 'STAT', ref, total: opts.size ?? 0, expected: opts.expected ?? '' });
    } catch (e) {
      // A blob the namespace holds already: containerd answers AlreadyExists
      // and adds it to the lease in the same transaction (an Info first and
      // the lease after left a gap in which containerd's gc, busy after an
      // rmi, could take it). The bytes are still read and hashed.
      if (!opts.expected || !isAlreadyExists(e)) throw e;
      committed = true;
      for await (const c of source) {
        const b = c as Uint8Array;
        hash.update(b);
        size += b.length;
      }
      const digest = `sha256:${hash.digest('hex')}`;
      check(digest);
      if (opts.labels && Object.keys(opts.labels).length) await label(client, lease, digest, opts.labels);
      return { digest, size };
    }
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const flush = async () => {
      if (!pendingLen) return;
      const data = Buffer.concat(pending, pendingLen);
      pending = [];
      pendingLen = 0;
      await s.write({ ref }, size - data.length, data);
    };
    for await (const c of source) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      hash.update(b);
      size += b.length;
      pending.push(b);
      pendingLen += b.length;
      if (pendingLen >= CHUNK) await flush();
    }
    await flush();
    const digest = `sha256:${hash.digest('hex')}`;
    check(digest);
    try {
      await s.send({ action: 'COMMIT', ref, offset: size, total: size, expected: digest, labels: opts.labels ?? {} });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      // Written meanwhile by someone else: hold it under our lease all the same.
      await client.leases.addResource(lease, { id: digest, type: 'content' });
    }
    committed = true;
    return { digest, size };
  } catch (e) {
    if (isBerthError(e) && e.message.startsWith(opts.what)) throw e;
    const code = isBerthError(e) ? e.code : 'invalid-argument';
    throw new BerthError('berthd', code, `${opts.what}: ${messageOf(e)}`, { cause: e });
  } finally {
    s.end();
    if (!committed) await client.content.abort(ref).catch(() => undefined);
  }
}

/** Sets content labels under the lease (containerd's gc follows gc.ref.* labels). */
export async function label(
  client: ContainerdClient,
  lease: string,
  digest: string,
  labels: Record<string, string>,
): Promise<void> {
  await client.content.updateLabels(
    digest,
    labels,
    Object.keys(labels).map((k) => `labels.${k}`),
    { lease },
  );
}

/** A small document (manifest, config, index) as a blob under the lease. */
export async function putJson(
  client: ContainerdClient,
  lease: string,
  doc: unknown,
  what: string,
): Promise<Blob & { bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const b = await ingest(client, lease, [bytes], { what });
  return { ...b, bytes };
}
