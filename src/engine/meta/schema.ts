// The engine's own metadata, containerd's model: every record belongs to a
// namespace (images, leases, the namespace's view of content), while blobs
// and snapshot trees are shared on disk. Tables live in the SQLite database
// of the engine's store (<root>/engine/metadata.db, WAL, synchronous=FULL),
// one transaction per mutation, so a kill -9 keeps the last committed state.
// Snapshots need no table here: the snapshotter keeps them, under the key
// "<namespace>/<key>" (a namespace never contains "/").

import type { MigrationStep } from '../../image/index.js';

export const ENGINE_MIGRATIONS: MigrationStep[] = [
  `CREATE TABLE engine_namespaces (
     name TEXT PRIMARY KEY,
     labels TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL
   );
   CREATE TABLE engine_images (
     ns TEXT NOT NULL REFERENCES engine_namespaces(name),
     name TEXT NOT NULL,
     media_type TEXT NOT NULL,
     digest TEXT NOT NULL,
     size INTEGER NOT NULL,
     annotations TEXT NOT NULL DEFAULT '{}',
     labels TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL,
     updated TEXT NOT NULL,
     PRIMARY KEY (ns, name)
   );
   CREATE TABLE engine_content (
     ns TEXT NOT NULL REFERENCES engine_namespaces(name),
     digest TEXT NOT NULL,
     size INTEGER NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL,
     updated TEXT NOT NULL,
     PRIMARY KEY (ns, digest)
   );
   CREATE INDEX engine_content_digest ON engine_content(digest);
   CREATE TABLE engine_leases (
     ns TEXT NOT NULL REFERENCES engine_namespaces(name),
     id TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL,
     PRIMARY KEY (ns, id)
   );
   CREATE TABLE engine_lease_resources (
     ns TEXT NOT NULL,
     lease TEXT NOT NULL,
     type TEXT NOT NULL,
     id TEXT NOT NULL,
     PRIMARY KEY (ns, lease, type, id),
     FOREIGN KEY (ns, lease) REFERENCES engine_leases(ns, id) ON DELETE CASCADE
   );
   CREATE TABLE engine_info (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // Active snapshots and views made under a lease (gc.ts): once that lease is
  // gone and nothing else holds one, it is collected, as containerd does.
  `CREATE TABLE engine_leased_snapshots (
     ns TEXT NOT NULL,
     snapshotter TEXT NOT NULL,
     key TEXT NOT NULL,
     PRIMARY KEY (ns, snapshotter, key)
   );`,
];

export function parseLabels(s: string): Record<string, string> {
  return JSON.parse(s) as Record<string, string>;
}
