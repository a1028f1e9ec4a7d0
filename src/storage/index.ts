// The storage layer's public surface: what spans the image layer and the
// snapshotter (containerd's core/metadata and core/unpack). Open a Storage
// once per root; pull, unpack and collect garbage through it.

export { Storage, type StorageOptions } from './storage.js';
export { pull, type PullEvent, type PullOptions, type PullResult } from './pull.js';
export { unpack, type UnpackResult } from './unpack.js';
export { collectGarbage, type GcContext, type GcOptions, type GcResult } from './gc.js';
