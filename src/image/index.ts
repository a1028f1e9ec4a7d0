// The image layer's public surface (see README.md): the store-free part is
// ./storeless.ts (re-exported here), the registry client's whole surface is
// ./registry/index.js. Unpacking, garbage collection and the pull that does
// both live above this layer, in src/storage/.

import { openMetadata, type Metadata } from '../common/metadb.js';
import { LocalContentStore } from './content/store.js';
import { ImageStore } from './images.js';
import { LeaseManager } from './leases.js';

export { openMetadata, type Metadata, type Db, type MigrationStep } from '../common/metadb.js';
export * from './storeless.js';
export {
  LocalContentStore,
  openContentStore,
  digestOf,
  type IngestStatus,
  type ContentStoreOptions,
} from './content/store.js';
export { ImageStore, type ImageRecord } from './images.js';
export {
  LeaseManager,
  withLease,
  leasedStore,
  DEFAULT_LEASE_TTL_MS,
  type Lease,
  type LeaseResource,
} from './leases.js';
export {
  importImages,
  exportImages,
  applyChanges,
  type ImageServices,
  type ImportOptions,
  type ImportedImage,
  type ExportFormat,
} from './archive/index.js';

/** The services of one store root, sharing one metadata connection. */
export interface ImageLayer {
  root: string;
  metadata: Metadata;
  content: LocalContentStore;
  images: ImageStore;
  leases: LeaseManager;
  close(): void;
}

export function openImageLayer(root: string): ImageLayer {
  const metadata = openMetadata(root);
  try {
    // On a fresh root the three modules' tables are made in one commit.
    const open = () => ({
      content: new LocalContentStore(root, { metadata }),
      images: new ImageStore(metadata),
      leases: new LeaseManager(metadata),
    });
    const { content, images, leases } = metadata.created ? metadata.tx(open) : open();
    return {
      root: metadata.root,
      metadata,
      content,
      images,
      leases,
      close: () => {
        content.close();
        metadata.close();
      },
    };
  } catch (e) {
    metadata.close();
    throw e;
  }
}
