// What every verb works on: the services of one --root, opened on first use
// and closed when the command ends.

import { openMetadata, type Metadata } from '../../image/metadata/db.js';
import { LocalContentStore } from '../../image/content/store.js';
import { ImageStore } from '../../image/images.js';
import { LeaseManager } from '../../image/leases.js';
import { openSnapshotter, type Snapshotter } from '../../snapshot/index.js';
import type { ImageServices } from '../../image/archive/index.js';

export const DEFAULT_ROOT = '/var/lib/berth';

export interface Output {
  out(s: string): void;
  err(s: string): void;
  /** Whether stdout is a terminal (progress bars) or not (plain lines). */
  tty: boolean;
}

export class Context implements ImageServices {
  private md?: Metadata;
  private contentStore?: LocalContentStore;
  private imageStore?: ImageStore;
  private leaseManager?: LeaseManager;
  private sn?: Snapshotter;

  constructor(readonly root: string, readonly io: Output, readonly snapshotterDriver?: 'overlayfs' | 'native') {}

  get metadata(): Metadata {
    return (this.md ??= openMetadata(this.root));
  }

  get content(): LocalContentStore {
    return (this.contentStore ??= new LocalContentStore(this.root, { metadata: this.metadata }));
  }

  get images(): ImageStore {
    return (this.imageStore ??= new ImageStore(this.metadata));
  }

  get leases(): LeaseManager {
    return (this.leaseManager ??= new LeaseManager(this.metadata));
  }

  async snapshotter(): Promise<Snapshotter> {
    return (this.sn ??= await openSnapshotter(this.root, { driver: this.snapshotterDriver ?? 'auto' }));
  }

  close(): void {
    this.sn?.close();
    this.contentStore?.close();
    this.md?.close();
  }
}
