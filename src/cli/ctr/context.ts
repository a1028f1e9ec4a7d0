// What every verb works on: the Storage of one --root (src/storage), opened
// on first use and closed when the command ends, and the output streams.

import { Storage } from '../../storage/index.js';
import type { Output } from './verbs.js';

export class Context {
  private opened?: Storage;

  constructor(
    readonly root: string,
    readonly io: Output,
    readonly snapshotterDriver?: 'overlayfs' | 'native',
  ) {}

  get storage(): Storage {
    return (this.opened ??= Storage.open({ root: this.root, snapshotter: this.snapshotterDriver ?? 'auto' }));
  }

  close(): void {
    this.opened?.close();
  }
}
