// A namespace's view of the content store: containerd keeps blobs once on
// disk and a record per namespace (size, labels, times); a namespace sees,
// lists, labels and deletes only its records. GC removes a blob when no
// namespace records it and nothing references it.

import type { Db, Metadata } from '../../image/index.js';
import { notFound, validateLabels } from '../validate.js';
import type { NamespaceStore } from './namespaces.js';
import { parseLabels } from './schema.js';

export interface ContentRecord {
  digest: string;
  size: number;
  labels: Record<string, string>;
  created: Date;
  updated: Date;
}

interface Row {
  digest: string;
  size: number;
  labels: string;
  created: string;
  updated: string;
}

function toRecord(r: Row): ContentRecord {
  return {
    digest: r.digest,
    size: r.size,
    labels: parseLabels(r.labels),
    created: new Date(r.created),
    updated: new Date(r.updated),
  };
}

export class ContentRecords {
  constructor(
    private readonly md: Metadata,
    private readonly namespaces: NamespaceStore,
  ) {}

  private row(db: Db, ns: string, digest: string): Row | undefined {
    return db
      .prepare('SELECT digest, size, labels, created, updated FROM engine_content WHERE ns = ? AND digest = ?')
      .get(ns, digest) as Row | undefined;
  }

  find(ns: string, digest: string): ContentRecord | undefined {
    const r = this.row(this.md.db, ns, digest);
    return r ? toRecord(r) : undefined;
  }

  get(ns: string, digest: string): ContentRecord {
    const r = this.find(ns, digest);
    if (!r) throw notFound(`content digest ${digest}: not found`);
    return r;
  }

  list(ns: string): ContentRecord[] {
    return (
      this.md.db
        .prepare('SELECT digest, size, labels, created, updated FROM engine_content WHERE ns = ? ORDER BY digest')
        .all(ns) as Row[]
    ).map(toRecord);
  }

  /** Inside a transaction: records `digest` in `ns` (labels merged over an existing record's). */
  add(db: Db, ns: string, digest: string, size: number, labels: Record<string, string> = {}): void {
    validateLabels(labels);
    this.namespaces.ensure(db, ns);
    const now = new Date().toISOString();
    const old = this.row(db, ns, digest);
    if (old) {
      const merged = { ...parseLabels(old.labels), ...labels };
      db.prepare('UPDATE engine_content SET labels = ?, updated = ? WHERE ns = ? AND digest = ?').run(
        JSON.stringify(merged),
        now,
        ns,
        digest,
      );
    } else {
      db.prepare(
        'INSERT INTO engine_content (ns, digest, size, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(ns, digest, size, JSON.stringify(labels), now, now);
    }
  }

  setLabels(ns: string, digest: string, labels: Record<string, string>): ContentRecord {
    validateLabels(labels);
    return this.md.tx((db) => {
      if (!this.row(db, ns, digest)) throw notFound(`content digest ${digest}: not found`);
      db.prepare('UPDATE engine_content SET labels = ?, updated = ? WHERE ns = ? AND digest = ?').run(
        JSON.stringify(labels),
        new Date().toISOString(),
        ns,
        digest,
      );
      return toRecord(this.row(db, ns, digest)!);
    });
  }

  delete(ns: string, digest: string): void {
    this.md.tx((db) => {
      if (!this.row(db, ns, digest)) throw notFound(`content digest ${digest}: not found`);
      db.prepare('DELETE FROM engine_content WHERE ns = ? AND digest = ?').run(ns, digest);
    });
  }

  /** Is `digest` recorded in any namespace? */
  recordedAnywhere(digest: string): boolean {
    return this.md.db.prepare('SELECT 1 FROM engine_content WHERE digest = ? LIMIT 1').get(digest) !== undefined;
  }
}
