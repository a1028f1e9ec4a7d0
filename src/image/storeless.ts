// The image layer's store-free public entry: formats (references, media
// types, manifests, platforms), the resolution helpers that read through any
// ContentStore, the registry pull and push of content, and the registry
// client. Nothing here opens a database or a store directory, so a client of
// another store (berthd over containerd's API, berth-ctr --address) imports
// this and its bundle never loads better-sqlite3. index.ts re-exports it and
// adds the local stores.

export type { ContentStore, Descriptor, Digest, Platform, BlobInfo, IngestWriter } from './content/types.js';
export * from './reference.js';
export * from './media.js';
export {
  parseManifest,
  parseIndex,
  parseImageManifest,
  parseImageConfig,
  parseDescriptor,
  childrenOf,
  ociImageManifest,
  archiveLayer,
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
export { resolveImage, walkImage, imageSize, chainIds, readParsed, type ResolvedImage } from './images.js';
export { pullImage, shortId, type PullProgress, type PullStatus, type PullOptions, type PullResult } from './pull.js';
export { pushImage, type PushProgress, type PushStatus, type PushOptions, type PushResult } from './push.js';
export {
  login,
  logout,
  DEFAULT_INSECURE,
  type RegistryOptions,
  type Credentials,
  type LoginResult,
} from './registry/index.js';
// Archive formats, for a client that builds or reads image tarballs itself (berthd's import, load and commit).
export { applyChanges } from './archive/changes.js';
export { autoDecompress, Hasher, peek } from './archive/stream.js';
export { lookup } from './archive/tarread.js';
