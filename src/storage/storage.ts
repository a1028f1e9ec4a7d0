// The stores of one root, opened once: the image layer's (content, image
// records, leases, in <root>/metadata.db) and the snapshotter (its own
// <root>/snapshots.db). A long-running process (the engine) opens a Storage
// at start and shares it between requests; berth-ctr opens one per command.
// Both call the same pull and gc on it (./pull.ts, ./gc.ts).

import type { Logger } from '../common/log.js';
import {
  openImageLayer,
  type ImageLayer,
  type LocalContentStore,
  type ImageStore,
  type LeaseManager,
  type Metadata,
} from '../image/index.js';
import { openSnapshotter, type DriverName, type Snapshotter } from '../snapshot/index.js';
import { collectGarbage, type GcOptions, type GcResult } from './gc.js';

export interface StorageOptions {
  root: string;
  /** The snapshotter driver: 'auto' (default) is overlayfs when a test mount works, else native. */
  snapshotter?: DriverName | 'auto';
  log?: Logger;
}

export class Storage {
  readonly root: string;
  readonly log?: Logger;
  private readonly layer: ImageLayer;
  private readonly driver: DriverName | 'auto';
  private sn?: Promise<Snapshotter>;
  private opened?: Snapshotter;
  private closed = false;

  private constructor(layer: ImageLayer, opts: StorageOptions) {
    this.layer = layer;
    this.root = layer.root;
    this.driver = opts.snapshotter ?? 'auto';
    this.log = opts.log;
  }

  /**
   * Opens the image layer's stores now; the snapshotter on first use (its
   * driver probe mounts an overlay, which commands about content alone
   * need not pay for).
   */
  static open(opts: StorageOptions): Storage {
    return new Storage(openImageLayer(opts.root), opts);
  }

  get metadata(): Metadata {
    return this.layer.metadata;
  }

  get content(): LocalContentStore {
    return this.layer.content;
  }

  get images(): ImageStore {
    return this.layer.images;
  }

  get leases(): LeaseManager {
    return this.layer.leases;
  }

  /** The snapshotter, opened once (concurrent first calls share the opening). */
  snapshotter(): Promise<Snapshotter> {
    if (this.closed) return Promise.reject(new Error(`storage ${this.root} is closed`));
    if (this.sn) return this.sn;
    const opening = openSnapshotter(this.root, { driver: this.driver }).then(
      (sn) => {
        // Closed while it opened: nobody will use it.
        if (this.closed) sn.close();
        else this.opened = sn;
        return sn;
      },
      (e: unknown) => {
        // A failed opening (overlayfs asked for and missing) is tried again next time.
        this.sn = undefined;
        throw e;
      },
    );
    this.sn = opening;
    return opening;
  }

  /** Garbage collection over content, ingests and (unless `snapshots` is false) snapshots. */
  async gc(opts: GcOptions & { snapshots?: boolean } = {}): Promise<GcResult> {
    const snapshotter = opts.snapshots === false ? undefined : await this.snapshotter();
    return collectGarbage(
      { content: this.content, images: this.images, leases: this.leases, snapshotter, log: this.log },
      opts,
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opened?.close();
    this.layer.close();
  }
}
