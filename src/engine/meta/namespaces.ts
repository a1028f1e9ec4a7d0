// Namespaces: created explicitly or on the first write into them (as
// containerd does), listed, labelled, and deleted only when nothing is left
// in them.

import type { Db, Metadata } from '../../image/index.js';
import { failedPrecondition, notFound, alreadyExists, validateIdentifier, validateLabels } from '../validate.js';
import { parseLabels } from './schema.js';

export interface NamespaceRecord {
  name: string;
  labels: Record<string, string>;
}

/** What else may hold objects in a namespace (the snapshotters, the containers service...). */
export type NamespaceUser = (ns: string) => string | undefined;

export class NamespaceStore {
  private readonly users: NamespaceUser[] = [];

  constructor(private readonly md: Metadata) {}

  /** Registers a check that names what still lives in a namespace, or undefined when nothing does. */
  addUser(u: NamespaceUser): void {
    this.users.push(u);
  }

  private row(db: Db, name: string): { name: string; labels: string } | undefined {
    return db.prepare('SELECT name, labels FROM engine_namespaces WHERE name = ?').get(name) as
      { name: string; labels: string } | undefined;
  }

  exists(name: string): boolean {
    return this.row(this.md.db, name) !== undefined;
  }

  /** Inside a write transaction: makes sure `name` exists (the first write into a namespace creates it). Returns true when created. */
  ensure(db: Db, name: string): boolean {
    if (this.row(db, name)) return false;
    db.prepare('INSERT INTO engine_namespaces (name, labels, created) VALUES (?, ?, ?)').run(
      name,
      '{}',
      new Date().toISOString(),
    );
    return true;
  }

  create(name: string, labels: Record<string, string>): NamespaceRecord {
    validateIdentifier(name, 'namespace');
    validateLabels(labels);
    this.md.tx((db) => {
      if (this.row(db, name)) throw alreadyExists(`namespace ${JSON.stringify(name)}: already exists`);
      db.prepare('INSERT INTO engine_namespaces (name, labels, created) VALUES (?, ?, ?)').run(
        name,
        JSON.stringify(labels),
        new Date().toISOString(),
      );
    });
    return { name, labels };
  }

  get(name: string): NamespaceRecord {
    validateIdentifier(name, 'namespace');
    const r = this.row(this.md.db, name);
    if (!r) throw notFound(`namespace ${JSON.stringify(name)}: not found`);
    return { name: r.name, labels: parseLabels(r.labels) };
  }

  list(): NamespaceRecord[] {
    const rows = this.md.db.prepare('SELECT name, labels FROM engine_namespaces ORDER BY name').all() as {
      name: string;
      labels: string;
    }[];
    return rows.map((r) => ({ name: r.name, labels: parseLabels(r.labels) }));
  }

  /** Sets labels: `replace` replaces them all; otherwise each key given is set, or removed when its value is ''. */
  updateLabels(name: string, labels: Record<string, string>, replace: boolean): NamespaceRecord {
    validateLabels(labels);
    return this.md.tx((db) => {
      const r = this.row(db, name);
      if (!r) throw notFound(`namespace ${JSON.stringify(name)}: not found`);
      const next = replace ? {} : parseLabels(r.labels);
      for (const [k, v] of Object.entries(labels)) {
        if (v === '') delete next[k];
        else next[k] = v;
      }
      db.prepare('UPDATE engine_namespaces SET labels = ? WHERE name = ?').run(JSON.stringify(next), name);
      return { name, labels: next };
    });
  }

  delete(name: string): void {
    validateIdentifier(name, 'namespace');
    this.md.tx((db) => {
      if (!this.row(db, name)) throw notFound(`namespace ${JSON.stringify(name)}: not found`);
      const tables: [string, string][] = [
        ['engine_images', 'images'],
        ['engine_content', 'blobs'],
        ['engine_leases', 'leases'],
      ];
      for (const [table, what] of tables) {
        if (db.prepare(`SELECT 1 FROM ${table} WHERE ns = ? LIMIT 1`).get(name)) {
          throw failedPrecondition(`namespace ${JSON.stringify(name)} must be empty, but it still has ${what}`);
        }
      }
      for (const u of this.users) {
        const what = u(name);
        if (what) throw failedPrecondition(`namespace ${JSON.stringify(name)} must be empty, but it still has ${what}`);
      }
      db.prepare('DELETE FROM engine_namespaces WHERE name = ?').run(name);
    });
  }
}
