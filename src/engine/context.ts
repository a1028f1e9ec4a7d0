// What every service of the engine shares: the stores of one --root, the
// event exchange, the logger, the garbage collector's scheduler, and the
// plugin table introspection reports. A service gets it in its register
// function and reaches nothing else.

import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WalSync } from './durable.js';
import { openMetadata, type Metadata } from '../common/metadb.js';
import { LocalContentStore } from '../image/content/store.js';
import { openSnapshotter, overlaySupported, type Snapshotter } from '../snapshot/index.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { EventExchange } from './events/exchange.js';
import { ENGINE_MIGRATIONS } from './meta/schema.js';
import { NamespaceStore } from './meta/namespaces.js';
import { ContentRecords } from './meta/content.js';
import { ImageRecords } from './meta/images.js';
import { LeaseStore } from './meta/leases.js';
import { Ingests } from './ingests.js';
import { GarbageCollector } from './gc.js';

/** One line of `ctr plugins ls`: containerd's plugin type and id, and why it failed to load, if it did. */
export interface PluginInfo {
  type: string;
  id: string;
  requires?: string[];
  platforms?: { os: string; architecture: string; variant?: string }[];
  exports?: Record<string, string>;
  capabilities?: string[];
  initError?: string;
}

/** The platform a plugin that runs containers or unpacks layers serves: this host's, in Go's arch names as containerd lists it. */
export function hostPlugin(type: string, id: string): PluginInfo {
  return { type, id, platforms: [{ os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch }] };
}

export interface EngineOptions {
  root: string;
  state: string;
  log: Logger;
  /** Snapshotters to offer, by containerd's names; default both. */
  snapshotters?: ('overlayfs' | 'native')[];
  /** Delay between a deletion and the GC it schedules (default 100 ms). */
  gcDelayMs?: number;
  /** An ingest no writer holds and no lease keeps is removed after this long idle (default 24 h). */
  ingestTtlMs?: number;
}

export interface EngineContext {
  /** --root: persistent state. The engine's store is <root>/engine. */
  readonly root: string;
  /** --state: runtime state (sockets, per-run files), gone at reboot. */
  readonly state: string;
  readonly storeRoot: string;
  readonly log: Logger;
  /** The engine's SQLite metadata (migrate your module's tables, tx() for every mutation). */
  readonly metadata: Metadata;
  readonly namespaces: NamespaceStore;
  /** Per-namespace records: the namespace's view of content, its images and leases. */
  readonly content: ContentRecords;
  readonly images: ImageRecords;
  readonly leases: LeaseStore;
  /** Partial blobs being written through content.Write. */
  readonly ingests: Ingests;
  /** Content and snapshot garbage collection: schedule() after a deletion, run() for a synchronous one. */
  readonly gc: GarbageCollector;
  /** Blobs on disk, shared by every namespace (the namespace's view is in engine_content). */
  readonly blobs: LocalContentStore;
  /** Loaded snapshotters by containerd's name ("overlayfs", "native"). */
  readonly snapshotters: Map<string, Snapshotter>;
  readonly events: EventExchange;
  /** Plugins introspection reports; services add theirs when they register. */
  readonly plugins: PluginInfo[];
  /** Stable across restarts (introspection Server). */
  readonly uuid: string;
  /** Aborted when the engine begins to shut down: long-lived streams end. */
  readonly shutdown: AbortSignal;
  /** The metadata's group commit: answer a write only after `durable.sync()` (durable.ts). */
  readonly durable: WalSync;
  /** Work to run when the engine closes, last registered first. */
  onClose(fn: () => void | Promise<void>): void;
}

export interface OpenedEngine extends EngineContext {
  beginShutdown(): void;
  close(): Promise<void>;
}

function storedUuid(md: Metadata): string {
  return md.tx((db) => {
    const row = db.prepare("SELECT value FROM engine_info WHERE key = 'uuid'").get() as { value: string } | undefined;
    if (row) return row.value;
    const id = randomUUID();
    db.prepare("INSERT INTO engine_info (key, value) VALUES ('uuid', ?)").run(id);
    return id;
  });
}

export async function openEngine(opts: EngineOptions): Promise<OpenedEngine> {
  const root = resolve(opts.root);
  const state = resolve(opts.state);
  const storeRoot = join(root, 'engine');
  // Root's alone (containerd's CVE-2021-41103): the snapshots hold every
  // image's files, setuid programs included, and the databases every label.
  mkdirSync(storeRoot, { recursive: true, mode: 0o700 });
  chmodSync(storeRoot, 0o700);
  mkdirSync(state, { recursive: true, mode: 0o711 });
  const wanted = opts.snapshotters ?? ['overlayfs', 'native'];
  // The overlayfs probe (a test mount: child processes) runs while the
  // databases open; openSnapshotter() then finds its answer memoized.
  if (wanted.includes('overlayfs')) overlaySupported(join(storeRoot, 'snapshots')).catch(() => undefined);
  const metadata = openMetadata(storeRoot);
  const closers: (() => void | Promise<void>)[] = [() => metadata.close()];
  try {
    metadata.migrate('engine', ENGINE_MIGRATIONS);
    const durable = new WalSync(metadata);
    const blobs = new LocalContentStore(storeRoot, { metadata });
    closers.push(() => blobs.close());
    const plugins: PluginInfo[] = [];
    const snapshotters = new Map<string, Snapshotter>();
    for (const name of wanted) {
      try {
        const sn = await openSnapshotter(storeRoot, { driver: name });
        snapshotters.set(name, sn);
        closers.push(() => sn.close());
        // run first (closers go last registered first): trees of removals answered before them
        closers.push(() => sn.settle());
        // what a kill -9 left (a removal's tree, a half-made snapshot): off the start's path
        sn.cleanup().catch((e: unknown) =>
          opts.log.warn('snapshot clean-up at start failed', { snapshotter: name, error: messageOf(e) }),
        );
        plugins.push({
          type: 'io.containerd.snapshotter.v1',
          id: name,
          platforms: [hostPlatform()],
          exports: { root: sn.dir },
        });
      } catch (e) {
        opts.log.warn('snapshotter not loaded', { snapshotter: name, error: messageOf(e) });
        plugins.push({
          type: 'io.containerd.snapshotter.v1',
          id: name,
          platforms: [hostPlatform()],
          initError: messageOf(e),
        });
      }
    }
    plugins.push(
      { type: 'io.containerd.content.v1', id: 'content', exports: { root: blobs.dir } },
      {
        type: 'io.containerd.metadata.v1',
        id: 'sqlite',
        requires: ['io.containerd.content.v1', 'io.containerd.snapshotter.v1'],
      },
    );
    const events = new EventExchange((reason) => opts.log.warn('event subscriber dropped', { reason }));
    plugins.push({ type: 'io.containerd.event.v1', id: 'exchange' });
    const ac = new AbortController();
    const namespaces = new NamespaceStore(metadata);
    const content = new ContentRecords(metadata, namespaces);
    const leases = new LeaseStore(metadata, namespaces);
    const ingests = new Ingests(storeRoot, blobs, metadata, content, leases);
    const gc = new GarbageCollector({
      durable,
      md: metadata,
      blobs,
      ingests,
      leases,
      snapshotters,
      log: opts.log,
      delayMs: opts.gcDelayMs ?? 100,
      ingestTtlMs: opts.ingestTtlMs ?? 24 * 3600 * 1000,
    });
    closers.push(() => gc.stop());
    plugins.push({ type: 'io.containerd.gc.v1', id: 'scheduler' }, { type: 'io.containerd.lease.v1', id: 'manager' });
    const ctx: OpenedEngine = {
      durable,
      root,
      state,
      storeRoot,
      log: opts.log,
      metadata,
      namespaces,
      content,
      images: new ImageRecords(metadata, namespaces),
      leases,
      ingests,
      gc,
      blobs,
      snapshotters,
      events,
      plugins,
      uuid: storedUuid(metadata),
      shutdown: ac.signal,
      onClose: (fn) => closers.push(fn),
      beginShutdown: () => ac.abort(),
      close: async () => {
        ac.abort();
        for (const fn of closers.reverse()) {
          try {
            await fn();
          } catch (e) {
            opts.log.error('close failed', { error: messageOf(e) });
          }
        }
        closers.length = 0;
      },
    };
    return ctx;
  } catch (e) {
    for (const fn of closers.reverse()) await fn();
    throw e;
  }
}

function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}
