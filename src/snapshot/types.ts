// The snapshotter's contract (containerd's model). A snapshot is a directory
// tree with a parent: `committed` ones are read-only layers keyed by chain id,
// `active` ones are writable (a container's rootfs, or a layer being
// unpacked), `view`s are read-only snapshots of a committed parent.

export type SnapshotKind = 'committed' | 'active' | 'view';

/** What the caller needs to mount a snapshot: the fields of mount(8) / containerd's Mount. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

export interface SnapshotInfo {
  key: string;
  /** Key of the parent (always a committed snapshot), or undefined for a root snapshot. */
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: Date;
  updated: Date;
}

export interface Usage {
  /** Bytes on disk (st_blocks × 512, each inode counted once). */
  size: number;
  inodes: number;
}

export type DriverName = 'overlayfs' | 'native';

/**
 * Where an unpacker writes a layer into an active snapshot, and what lies
 * beneath it. For overlayfs, `dir` is the empty upper dir and `lowers` the
 * parents' dirs, top first: whiteouts become overlay whiteouts. For native,
 * `dir` already holds a full copy of the parent and `lowers` is empty:
 * whiteouts delete.
 */
export interface ExtractionTarget {
  driver: DriverName;
  dir: string;
  lowers: string[];
}

export interface PrepareOptions {
  labels?: Record<string, string>;
}

export interface Snapshotter {
  readonly driver: DriverName;
  /** The directory under which snapshot trees live (`<root>/snapshots`). */
  readonly dir: string;

  stat(key: string): Promise<SnapshotInfo>;
  /** stat, or undefined when there is no such snapshot. */
  find(key: string): Promise<SnapshotInfo | undefined>;
  prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]>;
  view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /** Turn active snapshot `key` into committed snapshot `name`. 'already-exists' when `name` is taken. */
  commit(name: string, key: string, opts?: PrepareOptions): Promise<void>;
  /**
   * Refused ('failed-precondition') while the snapshot has children. With
   * `treeLater`, the answer comes once the record is gone and the tree moved
   * out of the store (`rm-<id>-…`, which nothing reads); the tree itself is
   * removed after it (settle() waits for that; cleanup() removes what a
   * crash left).
   */
  remove(key: string, opts?: { treeLater?: boolean }): Promise<void>;
  /** The trees of removals answered before them, once removed (or failed: cleanup() retries). */
  settle(): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
  usage(key: string): Promise<Usage>;
  /** Merge labels; a null value deletes that label. */
  setLabels(key: string, labels: Record<string, string | null>): Promise<SnapshotInfo>;
  /** For the layer unpacker only: the directories of an active snapshot. */
  extractionTarget(key: string): Promise<ExtractionTarget>;
  /** Remove directories that no snapshot owns (left by a crash). */
  cleanup(): Promise<number>;
  close(): void;
}
