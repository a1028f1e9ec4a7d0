// Garbage collection of content and snapshots, containerd's rules: roots are
// image targets, resources of unexpired leases, records labelled
// containerd.io/gc.root, writable snapshots (active and views: a
// container's rootfs) and whatever other services declare (containers);
// references follow containerd.io/gc.ref.content.* and
// containerd.io/gc.ref.snapshot.<snapshotter>.* labels, the descriptors
// inside manifests and indexes, and snapshot parents. Marking and the
// removal of records happen in one transaction; blobs are unlinked in the
// same synchronous step that finds them unrecorded, so no commit can slip
// between. Runs are scheduled shortly after deletions, one at a time.

import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { messageOf } from '../common/errors.js';
import type { Db, LocalContentStore, Metadata } from '../image/index.js';
import type { Snapshotter, SnapshotInfo } from '../snapshot/index.js';
import type { WalSync } from './durable.js';
import type { Logger } from '../common/log.js';
import type { Ingests } from './ingests.js';
import type { LeaseStore } from './meta/leases.js';
import { parseLabels } from './meta/schema.js';

export interface GcRoots {
  content?: { ns: string; digest: string }[];
  snapshots?: { ns: string; snapshotter: string; key: string }[];
}

/** Another service's roots (the containers service: each container's snapshot), read inside GC's transaction. */
export type RootSource = (db: Db) => GcRoots;

export interface GcResult {
  leases: number;
  contentRecords: number;
  blobs: number;
  snapshots: number;
  ingests: number;
  ms: number;
}

const GC_ROOT = 'containerd.io/gc.root';
const REF_CONTENT = 'containerd.io/gc.ref.content';
const REF_SNAPSHOT = 'containerd.io/gc.ref.snapshot.';
/** Manifests and indexes are small; anything bigger is a layer and holds no references. */
const MAX_MANIFEST = 4 << 20;

export interface GcDeps {
  md: Metadata;
  /** The records' removal is on disk before any blob goes (durable.ts). */
  durable: WalSync;
  blobs: LocalContentStore;
  ingests: Ingests;
  leases: LeaseStore;
  snapshotters: Map<string, Snapshotter>;
  log: Logger;
  delayMs: number;
  ingestTtlMs: number;
}

/** Snapshot keys in the snapshotter are "<namespace>/<key>". */
export function backendKey(ns: string, key: string): string {
  return `${ns}/${key}`;
}

export function splitBackendKey(k: string): { ns: string; key: string } | undefined {
  const i = k.indexOf('/');
  return i <= 0 ? undefined : { ns: k.slice(0, i), key: k.slice(i + 1) };
}

function digestsIn(data: Buffer): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    return [];
  }
  if (!doc || typeof doc !== 'object') return [];
  const out: string[] = [];
  const take = (d: unknown) => {
    const dg = (d as { digest?: unknown } | null)?.digest;
    if (typeof dg === 'string') out.push(dg);
  };
  const o = doc as { manifests?: unknown; config?: unknown; layers?: unknown; subject?: unknown; blobs?: unknown };
  for (const list of [o.manifests, o.layers, o.blobs]) if (Array.isArray(list)) list.forEach(take);
  if (o.config) take(o.config);
  if (o.subject) take(o.subject);
  return out;
}

export class GarbageCollector {
  private readonly sources: RootSource[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<GcResult> | undefined;
  private again = false;

  constructor(private readonly d: GcDeps) {}

  addRoots(src: RootSource): void {
    this.sources.push(src);
  }

  /** Runs a collection shortly (after deletions), coalescing bursts. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run().catch((e: unknown) => this.d.log.error('gc failed', { error: messageOf(e) }));
    }, this.d.delayMs);
    this.timer.unref();
  }

  /** Runs a collection now (or right after the one running) and returns its result. */
  async run(): Promise<GcResult> {
    if (this.running !== undefined) {
      this.again = true;
      await this.running.catch(() => undefined);
      // Another waiter may have started a run after the one we waited for: it is recent enough.
      const next: Promise<GcResult> | undefined = this.running;
      if (next !== undefined) return next;
    }
    this.again = false;
    this.running = this.collect().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readBlobIfManifest(digest: string): Buffer | undefined {
    const path = this.d.blobs.blobPath(digest);
    let fd: number;
    try {
      const st = statSync(path);
      if (st.size > MAX_MANIFEST || st.size === 0) return undefined;
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 0);
      if (b[0] !== 0x7b) return undefined; // '{'
    } finally {
      closeSync(fd);
    }
    return readFileSync(path);
  }

  private async collect(): Promise<GcResult> {
    const t0 = performance.now();
    const { md, ingests, snapshotters } = this.d;
    // Snapshot lists are read before the transaction (the snapshotter's API
    // is async); a snapshot made after this read is not swept this round.
    const snaps = new Map<string, SnapshotInfo[]>();
    for (const [name, sn] of snapshotters) snaps.set(name, await sn.list());

    const res = md.tx((db) => {
      const expired = this.d.leases.expire();
      const markedContent = new Set<string>(); // `${ns}\0${digest}`
      const markedSnap = new Set<string>(); // `${snapshotter}\0${backendKey}`
      const contentQ: [string, string][] = [];
      const snapQ: [string, string, string][] = [];
      const markC = (ns: string, digest: string) => {
        const k = `${ns}\0${digest}`;
        if (!markedContent.has(k)) {
          markedContent.add(k);
          contentQ.push([ns, digest]);
        }
      };
      const markS = (ns: string, sn: string, key: string) => {
        const k = `${sn}\0${backendKey(ns, key)}`;
        if (!markedSnap.has(k)) {
          markedSnap.add(k);
          snapQ.push([ns, sn, key]);
        }
      };
      const followLabels = (ns: string, labels: Record<string, string>) => {
        for (const [k, v] of Object.entries(labels)) {
          if (k.startsWith(REF_CONTENT)) markC(ns, v);
          else if (k.startsWith(REF_SNAPSHOT)) {
            const sn = k.slice(REF_SNAPSHOT.length).split('.')[0] ?? '';
            if (snapshotters.has(sn)) markS(ns, sn, v);
          }
        }
      };

      for (const r of db.prepare('SELECT ns, digest FROM engine_images').all() as { ns: string; digest: string }[])
        markC(r.ns, r.digest);
      const leasedIngests = new Set<string>();
      for (const r of db.prepare('SELECT ns, type, id FROM engine_lease_resources').all() as {
        ns: string;
        type: string;
        id: string;
      }[]) {
        if (r.type === 'content') markC(r.ns, r.id);
        else if (r.type === 'ingests') leasedIngests.add(ingests.keyOf(r.ns, r.id));
        else if (r.type.startsWith('snapshots/')) markS(r.ns, r.type.slice('snapshots/'.length), r.id);
      }
      const records = db.prepare('SELECT ns, digest, labels FROM engine_content').all() as {
        ns: string;
        digest: string;
        labels: string;
      }[];
      const labelsOf = new Map<string, Record<string, string>>();
      for (const r of records) {
        const labels = parseLabels(r.labels);
        labelsOf.set(`${r.ns}\0${r.digest}`, labels);
        if (labels[GC_ROOT] !== undefined) markC(r.ns, r.digest);
      }
      // Active snapshots and views are roots, except those made under a lease
      // (ctr's): once it is gone they live only while something holds them,
      // as in containerd (an unleased one, berthd's, is never taken).
      const onceLeased = new Set<string>();
      for (const r of db.prepare('SELECT ns, snapshotter, key FROM engine_leased_snapshots').all() as {
        ns: string;
        snapshotter: string;
        key: string;
      }[])
        onceLeased.add(`${r.snapshotter}\0${backendKey(r.ns, r.key)}`);
      const existing = new Set<string>();
      for (const [sn, list] of snaps) {
        for (const s of list) {
          const k = splitBackendKey(s.key);
          if (!k) continue;
          existing.add(`${sn}\0${s.key}`);
          if (s.labels[GC_ROOT] !== undefined || (s.kind !== 'committed' && !onceLeased.has(`${sn}\0${s.key}`)))
            markS(k.ns, sn, k.key);
        }
      }
      // the records of snapshots that are gone (one being made now is not
      // listed yet: losing its record only keeps it, the old rule)
      const forget = db.prepare('DELETE FROM engine_leased_snapshots WHERE ns = ? AND snapshotter = ? AND key = ?');
      for (const k of onceLeased)
        if (!existing.has(k)) {
          const [sn, bk] = k.split('\0') as [string, string];
          const nk = splitBackendKey(bk);
          if (nk) forget.run(nk.ns, sn, nk.key);
        }
      for (const src of this.sources) {
        const roots = src(db);
        for (const c of roots.content ?? []) markC(c.ns, c.digest);
        for (const s of roots.snapshots ?? []) markS(s.ns, s.snapshotter, s.key);
      }

      const byKey = new Map<string, SnapshotInfo>();
      for (const [sn, list] of snaps) for (const s of list) byKey.set(`${sn}\0${s.key}`, s);
      while (contentQ.length || snapQ.length) {
        const c = contentQ.pop();
        if (c) {
          const [ns, digest] = c;
          const labels = labelsOf.get(`${ns}\0${digest}`);
          if (!labels) continue; // not in this namespace: nothing to follow
          followLabels(ns, labels);
          const data = this.readBlobIfManifest(digest);
          if (data) for (const child of digestsIn(data)) markC(ns, child);
          continue;
        }
        const [ns, sn, key] = snapQ.pop()!;
        const info = byKey.get(`${sn}\0${backendKey(ns, key)}`);
        if (!info) continue;
        followLabels(ns, info.labels);
        const parent = info.parent ? splitBackendKey(info.parent) : undefined;
        if (parent) markS(parent.ns, sn, parent.key);
      }

      let contentRecords = 0;
      const del = db.prepare('DELETE FROM engine_content WHERE ns = ? AND digest = ?');
      for (const r of records) {
        if (markedContent.has(`${r.ns}\0${r.digest}`)) continue;
        del.run(r.ns, r.digest);
        contentRecords++;
      }
      const deadSnaps: [string, SnapshotInfo][] = [];
      for (const [sn, list] of snaps) {
        for (const s of list) if (!markedSnap.has(`${sn}\0${s.key}`) && splitBackendKey(s.key)) deadSnaps.push([sn, s]);
      }
      return { leases: expired.length, contentRecords, leasedIngests, deadSnaps };
    });

    // A blob goes only once the removal of its records is durable: never a
    // record, after a power loss, of a blob that is gone.
    await this.d.durable.sync();
    // Blobs no namespace records: checked and unlinked in one synchronous pass.
    let blobs = 0;
    for (const alg of ['sha256', 'sha512']) {
      const dir = join(this.d.blobs.blobsDir, alg);
      if (!existsSync(dir)) continue;
      for (const hex of readdirSync(dir)) {
        if (!/^[0-9a-f]+$/.test(hex)) continue;
        const digest = `${alg}:${hex}`;
        if (ingests.committing.has(digest)) continue;
        if (md.db.prepare('SELECT 1 FROM engine_content WHERE digest = ? LIMIT 1').get(digest)) continue;
        try {
          unlinkSync(join(dir, hex));
          blobs++;
        } catch {
          /* gone */
        }
      }
    }

    // Snapshots nothing holds (unmarked: committed ones, or made under a lease now gone), children before parents.
    let snapshots = 0;
    let pending = res.deadSnaps;
    for (let round = 0; pending.length && round < 64; round++) {
      const next: typeof pending = [];
      for (const [sn, s] of pending) {
        try {
          await snapshotters.get(sn)!.remove(s.key);
          snapshots++;
        } catch {
          next.push([sn, s]); // has children still (removed this round or held)
        }
      }
      if (next.length === pending.length) break;
      pending = next;
    }

    // Ingests no writer holds and no lease keeps, idle past the TTL (or half-made, or with no data).
    let ingestCount = 0;
    const now = Date.now();
    for (const ing of ingests.all()) {
      if (ing.active || res.leasedIngests.has(ing.key)) continue;
      let idle = Infinity;
      if (ing.meta) {
        try {
          idle = now - statSync(join(ingests.dir, ing.key, 'data')).mtimeMs;
        } catch {
          // No data file and no writer: the rest of a commit cut by a kill
          // after its rename into the store (or an open cut before its data
          // file). Nothing is left to resume, and no client lists it.
          idle = Infinity;
        }
      }
      if (idle >= this.d.ingestTtlMs && (await ingests.remove(ing.key))) ingestCount++;
    }

    const out: GcResult = {
      leases: res.leases,
      contentRecords: res.contentRecords,
      blobs,
      snapshots,
      ingests: ingestCount,
      ms: Math.round(performance.now() - t0),
    };
    this.d.log.info('gc', { ...out });
    if (this.again) this.schedule();
    return out;
  }
}
