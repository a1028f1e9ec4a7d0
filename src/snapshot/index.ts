// The snapshot layer's public surface (see README.md).
export type * from './types.js';
export { openSnapshotter, type SnapshotterOptions } from './snapshotter.js';
export { chainId, chainIds, isDigest } from './chainid.js';
export { mountAll, unmountAll, isMountPoint, overlaySupported } from './mount.js';
export { applyLayer, DEFAULT_LIMITS, type ApplyOptions, type ApplyResult, type UnpackLimits } from './unpack/apply.js';
export {
  unpackLayer,
  unpackImage,
  prepareContainerRootfs,
  removeAbandonedUnpacks,
  EXTRACT_LABEL,
  DIFF_ID_LABEL,
  type UnpackLayerOptions,
  type UnpackLayerResult,
  type UnpackImageOptions,
  type UnpackImageResult,
  type LayerProgress,
  type ManifestLike,
  type ImageConfigLike,
  type BlobSource,
  type LayerDescriptor,
} from './unpack/image.js';
export { entryComponents } from './unpack/paths.js';
export { compressionOf, type Compression } from '../common/compression.js';
