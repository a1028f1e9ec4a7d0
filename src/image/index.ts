// The image layer's public surface (see README.md). The registry client's is
// ./registry/index.js. Unpacking, garbage collection and the pull that does
// both live above this layer, in src/storage/.

import { openMetadata, type Metadata } from '../common/metadb.js';
import { LocalContentStore } from './content/store.js';
import { ImageStore } from './images.js';
import { LeaseManager } from './leases.js';

export { openMetadata, type Metadata, type Db, type MigrationStep } from '../common/metadb.js';
export type { ContentStore, Descriptor, Digest, Platform, BlobInfo, IngestWriter } from './content/types.js';
export {
  LocalContentStore,
  openContentStore,
  digestOf,
  type IngestStatus,
  type ContentStoreOptions,
} from './content/store.js';
export * from './reference.js';
export * from './media.js';
export {
  parseManifest,
  parseIndex,
  parseImageManifest,
  parseImageConfig,
  parseDescriptor,
  childrenOf,
  MAX_MANIFEST_SIZE,
  MAX_CONFIG_SIZE,
  type ImageIndex,
  type ImageManifest,
  type ImageConfig,
  type ContainerConfig,
  type Parsed,
  type ParseOptions,
} from './manifest.js';
export * from './platform.js';
export {
  ImageStore,
  resolveImage,
  walkImage,
  imageSize,
  chainIds,
  readParsed,
  type ImageRecord,
  type ResolvedImage,
} from './images.js';
export {
  LeaseManager,
  withLease,
  leasedStore,
  DEFAULT_LEASE_TTL_MS,
  type Lease,
  type LeaseResource,
} from './leases.js';
export { pullImage, type PullProgress, type PullStatus, type PullOptions, type PullResult } from './pull.js';
export { pushImage, type PushProgress, type PushStatus, type PushOptions, type PushResult } from './push.js';
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
