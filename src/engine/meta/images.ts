// Images, per namespace: a name, a target descriptor, labels and times,
// containerd's image record. Names are free text (ctr accepts any), bounded.

import type { Db, Metadata } from '../../image/index.js';
import { alreadyExists, invalidArgument, notFound, validateDigest, validateLabels, validateName } from '../validate.js';
import type { NamespaceStore } from './namespaces.js';
import { parseLabels } from './schema.js';

export interface TargetDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

export interface ImageRecord {
  name: string;
  labels: Record<string, string>;
  target: TargetDescriptor;
  created: Date;
  updated: Date;
}

interface Row {
  name: string;
  media_type: string;
  digest: string;
  size: number;
  annotations: string;
  labels: string;
  created: string;
  updated: string;
}

function toRecord(r: Row): ImageRecord {
  return {
    name: r.name,
    labels: parseLabels(r.labels),
    target: { mediaType: r.media_type, digest: r.digest, size: r.size, annotations: parseLabels(r.annotations) },
    created: new Date(r.created),
    updated: new Date(r.updated),
  };
}

export function validateImage(img: { name: string; labels: Record<string, string>; target: TargetDescriptor }): void {
  validateName(img.name, 'image name');
  validateLabels(img.labels, `image ${JSON.stringify(img.name)} labels`);
  if (img.target.mediaType === '')
    throw invalidArgument(`image ${JSON.stringify(img.name)}: target.media_type must be set`, 'target.media_type');
  validateDigest(img.target.digest, 'target.digest');
  if (!Number.isSafeInteger(img.target.size) || img.target.size <= 0) {
    throw invalidArgument(`image ${JSON.stringify(img.name)}: target.size must be greater than zero`, 'target.size');
  }
}

export class ImageRecords {
  constructor(
    private readonly md: Metadata,
    private readonly namespaces: NamespaceStore,
  ) {}

  private row(db: Db, ns: string, name: string): Row | undefined {
    return db.prepare('SELECT * FROM engine_images WHERE ns = ? AND name = ?').get(ns, name) as Row | undefined;
  }

  get(ns: string, name: string): ImageRecord {
    const r = this.row(this.md.db, ns, name);
    if (!r) throw notFound(`image ${JSON.stringify(name)}: not found`);
    return toRecord(r);
  }

  list(ns: string): ImageRecord[] {
    return (this.md.db.prepare('SELECT * FROM engine_images WHERE ns = ? ORDER BY name').all(ns) as Row[]).map(
      toRecord,
    );
  }

  create(ns: string, img: { name: string; labels: Record<string, string>; target: TargetDescriptor }): ImageRecord {
    validateImage(img);
    return this.md.tx((db) => {
      this.namespaces.ensure(db, ns);
      if (this.row(db, ns, img.name)) throw alreadyExists(`image ${JSON.stringify(img.name)}: already exists`);
      const now = new Date().toISOString();
      db.prepare(
        'INSERT INTO engine_images (ns, name, media_type, digest, size, annotations, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        ns,
        img.name,
        img.target.mediaType,
        img.target.digest,
        img.target.size,
        JSON.stringify(img.target.annotations),
        JSON.stringify(img.labels),
        now,
        now,
      );
      return toRecord(this.row(db, ns, img.name)!);
    });
  }

  /** Replaces the record's labels and target with `next` (the caller applied the field mask). */
  update(
    ns: string,
    name: string,
    fn: (cur: ImageRecord) => { labels: Record<string, string>; target: TargetDescriptor },
  ): ImageRecord {
    return this.md.tx((db) => {
      const r = this.row(db, ns, name);
      if (!r) throw notFound(`image ${JSON.stringify(name)}: not found`);
      const next = fn(toRecord(r));
      validateImage({ name, ...next });
      db.prepare(
        'UPDATE engine_images SET media_type = ?, digest = ?, size = ?, annotations = ?, labels = ?, updated = ? WHERE ns = ? AND name = ?',
      ).run(
        next.target.mediaType,
        next.target.digest,
        next.target.size,
        JSON.stringify(next.target.annotations),
        JSON.stringify(next.labels),
        new Date().toISOString(),
        ns,
        name,
      );
      return toRecord(this.row(db, ns, name)!);
    });
  }

  delete(ns: string, name: string): void {
    this.md.tx((db) => {
      if (!this.row(db, ns, name)) throw notFound(`image ${JSON.stringify(name)}: not found`);
      db.prepare('DELETE FROM engine_images WHERE ns = ? AND name = ?').run(ns, name);
    });
  }
}
