// Image records: a name (a full, normalised reference) pointing at a target
// descriptor (an index or a manifest) in the content store, with labels and
// times. Every change is one transaction in the metadata database. The
// resolution helpers walk from a target to the platform's manifest, config
// and layers.

import { createHash } from 'node:crypto';
import { BerthError } from '../common/errors.js';
import type { ContentStore, Descriptor, Digest } from './content/types.js';
import type { Metadata } from '../common/metadb.js';
import {
  parseImageConfig,
  parseManifest,
  parseDescriptor,
  childrenOf,
  MAX_MANIFEST_SIZE,
  type ImageConfig,
  type ImageManifest,
  type Parsed,
} from './manifest.js';
import { isIndexType, isManifestType, isConfigType, isLayerType } from './media.js';
import { hostPlatform, selectManifest, type NormalPlatform } from './platform.js';
import { normalizeName } from './reference.js';

export interface ImageRecord {
  name: string;
  target: Descriptor;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

const MIGRATIONS = [
  `CREATE TABLE images (
     name TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
];

interface Row {
  name: string;
  target: string;
  labels: string;
  created_at: number;
  updated_at: number;
}

function fromRow(r: Row): ImageRecord {
  return {
    name: r.name,
    target: JSON.parse(r.target) as Descriptor,
    labels: JSON.parse(r.labels) as Record<string, string>,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function notFound(name: string): BerthError {
  return new BerthError('image', 'not-found', `image "${name}": not found`);
}

export class ImageStore {
  constructor(readonly metadata: Metadata) {
    metadata.migrate('images', MIGRATIONS);
  }

  /** The canonical name of what a user typed ("busybox" → "docker.io/library/busybox:latest"). */
  static canonical(name: string): string {
    return normalizeName(name);
  }

  find(name: string): ImageRecord | undefined {
    const row = this.metadata.db.prepare('SELECT * FROM images WHERE name = ?').get(ImageStore.canonical(name)) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  get(name: string): ImageRecord {
    const r = this.find(name);
    if (!r) throw notFound(name);
    return r;
  }

  list(): ImageRecord[] {
    return (this.metadata.db.prepare('SELECT * FROM images ORDER BY name').all() as Row[]).map(fromRow);
  }

  /** Creates or moves `name` to `target` (what a pull or an import does). */
  put(name: string, target: Descriptor, labels?: Record<string, string>): ImageRecord {
    const canonical = ImageStore.canonical(name);
    const t = parseDescriptor(target, `image "${name}" target`);
    const now = Date.now();
    return this.metadata.tx((db) => {
      const old = db.prepare('SELECT * FROM images WHERE name = ?').get(canonical) as Row | undefined;
      const l = JSON.stringify(labels ?? (old ? JSON.parse(old.labels) : {}));
      if (old) {
        db.prepare('UPDATE images SET target = ?, labels = ?, updated_at = ? WHERE name = ?').run(
          JSON.stringify(t),
          l,
          now,
          canonical,
        );
      } else {
        db.prepare('INSERT INTO images(name, target, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
          canonical,
          JSON.stringify(t),
          l,
          now,
          now,
        );
      }
      return fromRow(db.prepare('SELECT * FROM images WHERE name = ?').get(canonical) as Row);
    });
  }

  /** Creates `name`; already-exists if it is taken. */
  create(name: string, target: Descriptor, labels: Record<string, string> = {}): ImageRecord {
    const canonical = ImageStore.canonical(name);
    return this.metadata.tx(() => {
      if (this.find(canonical)) throw new BerthError('image', 'already-exists', `image "${name}": already exists`);
      return this.put(canonical, target, labels);
    });
  }

  setLabels(name: string, labels: Record<string, string | null>): ImageRecord {
    const canonical = ImageStore.canonical(name);
    return this.metadata.tx((db) => {
      const r = this.get(canonical);
      const l = { ...r.labels };
      for (const [k, v] of Object.entries(labels)) {
        if (v === null) delete l[k];
        else l[k] = v;
      }
      db.prepare('UPDATE images SET labels = ?, updated_at = ? WHERE name = ?').run(
        JSON.stringify(l),
        Date.now(),
        canonical,
      );
      return this.get(canonical);
    });
  }

  /** Points `target` at what `source` points at (docker tag). */
  tag(source: string, target: string): ImageRecord {
    return this.metadata.tx(() => {
      const src = this.get(source);
      return this.put(target, src.target, src.labels);
    });
  }

  delete(name: string): void {
    const canonical = ImageStore.canonical(name);
    const r = this.metadata.tx((db) => db.prepare('DELETE FROM images WHERE name = ?').run(canonical));
    if (r.changes === 0) throw notFound(name);
  }
}

// ---- resolution ----

export interface ResolvedImage {
  /** The platform manifest's descriptor (the target itself when it is a manifest). */
  manifestDesc: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** Layer descriptors, bottom first. */
  layers: Descriptor[];
  diffIds: Digest[];
  chainIds: Digest[];
}

export async function readParsed(store: ContentStore, desc: Descriptor): Promise<Parsed> {
  if (desc.size > MAX_MANIFEST_SIZE) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `manifest ${desc.digest}: ${desc.size} bytes is over the ${MAX_MANIFEST_SIZE}-byte limit`,
    );
  }
  const data = await store.readBytes(desc.digest, MAX_MANIFEST_SIZE);
  return parseManifest(data, { mediaType: desc.mediaType, what: `manifest ${desc.digest}` });
}

/** Follows an index down to `platform`'s manifest (nested indexes included), reads the config. */
export async function resolveImage(
  store: ContentStore,
  target: Descriptor,
  platform: NormalPlatform = hostPlatform(),
): Promise<ResolvedImage> {
  let desc = target;
  for (let depth = 0; ; depth++) {
    if (depth > 4) throw new BerthError('image', 'invalid-argument', `image ${target.digest}: indexes nested too deep`);
    const p = await readParsed(store, desc);
    if (p.kind === 'index') {
      desc = selectManifest(p.index.manifests, platform, `image ${target.digest}`);
      continue;
    }
    const m = p.manifest;
    if (!isConfigType(m.config.mediaType)) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `manifest ${desc.digest}: config media type ${m.config.mediaType} is not an image config (an artifact, not an image)`,
      );
    }
    for (const l of m.layers) {
      if (!isLayerType(l.mediaType)) {
        throw new BerthError(
          'image',
          'invalid-argument',
          `manifest ${desc.digest}: unsupported layer media type ${l.mediaType}`,
        );
      }
    }
    const config = parseImageConfig(await store.readBytes(m.config.digest), { what: `config ${m.config.digest}` });
    if (config.rootfs.diff_ids.length !== m.layers.length) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `image ${desc.digest}: manifest has ${m.layers.length} layers but config lists ${config.rootfs.diff_ids.length} diff ids`,
      );
    }
    return {
      manifestDesc: desc,
      manifest: m,
      config,
      layers: m.layers,
      diffIds: config.rootfs.diff_ids,
      chainIds: chainIds(config.rootfs.diff_ids),
    };
  }
}

/** Chain ids as the OCI image spec defines them: ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

export interface WalkOptions {
  /** Skip children that are not in the store instead of failing (partial pulls, single-platform pulls). */
  missingOk?: boolean;
}

/**
 * Visits `root` and every descriptor reachable from it (index → manifests →
 * config and layers), each digest once. Returns the descriptors visited that
 * are present in the store.
 */
export async function walkImage(store: ContentStore, root: Descriptor, opts: WalkOptions = {}): Promise<Descriptor[]> {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  const queue: Descriptor[] = [root];
  while (queue.length) {
    const d = queue.shift()!;
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    if (!(await store.has(d.digest))) {
      if (opts.missingOk) continue;
      throw new BerthError('image', 'not-found', `content ${d.digest} (${d.mediaType}): not in the content store`);
    }
    out.push(d);
    if (isIndexType(d.mediaType) || isManifestType(d.mediaType)) {
      queue.push(...childrenOf(await readParsed(store, d)));
    }
  }
  return out;
}

/** Total size of what is present of an image (manifests, configs, layers, all platforms). */
export async function imageSize(store: ContentStore, target: Descriptor): Promise<number> {
  const all = await walkImage(store, target, { missingOk: true });
  return all.reduce((n, d) => n + d.size, 0);
}
