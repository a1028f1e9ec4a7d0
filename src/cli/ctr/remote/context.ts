// What every client-mode verb works on: one connection to the engine (its
// namespace and snapshotter chosen by the global flags) and the output.

import { BerthError } from '../../../common/errors.js';
import { ContainerdClient, RemoteContentStore, dateOf, isNotFound, type ImageRecord } from '../../../client/index.js';
import { normalizeName, type Descriptor } from '../../../image/storeless.js';
import type { Output } from '../verbs.js';

export interface RemoteContext {
  client: ContainerdClient;
  address: string;
  snapshotter: string;
  io: Output;
}

/** A command the engine's API does not carry: said plainly, never done on a local store instead. */
export function notServed(what: string, why: string): BerthError {
  return new BerthError('berth-ctr', 'unimplemented', `${what} is not available with --address: ${why}`);
}

/** The engine's content service as a ContentStore (writes under `lease` when given). */
export function remoteStore(ctx: RemoteContext, lease?: string): RemoteContentStore {
  return new RemoteContentStore(ctx.client.conn, ctx.client.content, lease);
}

export function descriptorOf(d: { media_type: string; digest: string; size: number } | null): Descriptor {
  if (!d) throw new BerthError('berth-ctr', 'internal', 'the engine answered an image without a target');
  return { mediaType: d.media_type, digest: d.digest, size: d.size };
}

/**
 * An image record by the name as typed, else by its canonical form
 * ("busybox" → "docker.io/library/busybox:latest", as the daemonless store
 * names it): ctr stores names verbatim, berth-ctr normalises what it creates.
 */
export async function findImage(ctx: RemoteContext, name: string): Promise<ImageRecord> {
  try {
    return await ctx.client.images.get(name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    let canonical: string;
    try {
      canonical = normalizeName(name);
    } catch {
      throw e;
    }
    if (canonical === name) throw e;
    return ctx.client.images.get(canonical);
  }
}

export function dateOrEpoch(t: Parameters<typeof dateOf>[0]): Date {
  return dateOf(t) ?? new Date(0);
}
