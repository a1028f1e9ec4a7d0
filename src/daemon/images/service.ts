// Images as Docker shows them, over containerd's image records: a record is a
// name → target descriptor; the image id Docker prints is the config digest
// of the host platform's manifest, so several names (tags) of one target are
// one image. Resolving a target reads index, manifest and config through the
// content service; results are cached by target digest (content is immutable).

import type { ContainerdClient } from '../../client/index.js';
import { RemoteContentStore } from '../../client/content-store.js';
import type { ImageRecord } from '../../client/services.js';
import { dateOf } from '../../client/services.js';
import { isNotFound } from '../../client/errors.js';
import {
  resolveImage,
  familiarString,
  isDigest,
  parseDockerRef,
  formatReference,
  type Descriptor,
  type ResolvedImage,
  type Reference,
} from '../../image/storeless.js';
import { notFound, badRequest } from '../http/errors.js';
import { messageOf } from '../../common/errors.js';

export interface ImageView {
  /** Config digest: Docker's image id. */
  id: string;
  names: string[];
  target: Descriptor;
  resolved: ResolvedImage;
  created: Date | null;
  labels: Record<string, string>;
  size: number;
}

export function descriptorOf(r: ImageRecord): Descriptor {
  if (!r.target) throw new Error(`image ${r.name} has no target`);
  return { mediaType: r.target.media_type, digest: r.target.digest, size: r.target.size };
}

export function parseRef(ref: string): Reference {
  try {
    return parseDockerRef(ref);
  } catch (e) {
    throw badRequest(`invalid reference format: ${messageOf(e)}`);
  }
}

export class ImageService {
  private readonly cache = new Map<string, ResolvedImage>();
  readonly store: RemoteContentStore;

  constructor(private readonly client: ContainerdClient) {
    this.store = new RemoteContentStore(client.conn, client.content);
  }

  async resolve(target: Descriptor): Promise<ResolvedImage> {
    let r = this.cache.get(target.digest);
    if (!r) {
      r = await resolveImage(this.store, target);
      this.cache.set(target.digest, r);
    }
    return r;
  }

  /** Every image, one view per config digest (its names gathered); unreadable records are skipped. */
  async list(): Promise<ImageView[]> {
    const byId = new Map<string, ImageView>();
    for (const rec of await this.client.images.list()) {
      let view: ImageView;
      try {
        view = await this.view(rec);
      } catch {
        continue; // an image whose content is gone or not for this platform
      }
      const have = byId.get(view.id);
      if (have) have.names.push(...view.names);
      else byId.set(view.id, view);
    }
    return [...byId.values()];
  }

  private async view(rec: ImageRecord): Promise<ImageView> {
    const target = descriptorOf(rec);
    const resolved = await this.resolve(target);
    const size = resolved.layers.reduce((n, l) => n + l.size, 0) + resolved.manifest.config.size;
    return {
      id: resolved.manifest.config.digest,
      names: [rec.name],
      target,
      resolved,
      created: resolved.config.created ? new Date(resolved.config.created) : dateOf(rec.created_at),
      labels: rec.labels,
      size,
    };
  }

  /**
   * An image by name ("busybox", "busybox:1", "host:5000/x@sha256:..."), by id
   * or id prefix ("sha256:ab12...", "ab12"), as dockerd looks images up.
   * `allNames: false` (a container's create): the view found by name carries
   * that name only, sparing a list of every image on the hot path.
   */
  async find(ref: string, opts: { allNames?: boolean } = {}): Promise<ImageView> {
    const idLike = /^(sha256:)?[a-f0-9]{4,64}$/.test(ref);
    if (!idLike || ref.length === 64 || ref.startsWith('sha256:')) {
      if (!idLike) {
        const name = formatReference(parseRef(ref));
        try {
          const view = await this.view(await this.client.images.get(name));
          if (opts.allNames === false) return view;
          return (await this.list()).find((v) => v.id === view.id) ?? view;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          throw notFound(`No such image: ${familiarString(parseRef(ref))}`);
        }
      }
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    const all = await this.list();
    const hits = all.filter((v) => v.id.slice(7).startsWith(hex));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw badRequest(`multiple images found with provided prefix: ${ref}`);
    // A 12+ hex name may still be a repository ("deadbeef1234" is a valid name).
    if (!ref.startsWith('sha256:') && !isDigest(ref)) {
      try {
        return await this.view(await this.client.images.get(formatReference(parseRef(ref))));
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    throw notFound(`No such image: ${ref}`);
  }

  forget(targetDigest: string): void {
    this.cache.delete(targetDigest);
  }
}
