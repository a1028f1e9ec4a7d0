// A client of containerd's API (a real containerd or berth-engine): one
// connection, the services as promise-based wrappers, streams, errors mapped
// to BerthError, and a client-side pull. See README.md.

export { ContainerdClient } from './client.js';
export { Connection, LEASE_HEADER, grpcTarget, type ConnectionOptions, type CallOptions } from './connection.js';
export { decodeMetrics, type TaskMetrics } from './metrics.js';
export { fromGrpc, grpcStatusOf, isNotFound, isAlreadyExists, isUnreachable } from './errors.js';
export { RemoteContentStore } from './content-store.js';
export {
  pullIntoContainerd,
  unpackInContainerd,
  temporaryLease,
  GC_EXPIRE,
  type ClientPullOptions,
  type ClientPullResult,
  type ClientPullProgress,
} from './pull.js';
export { unpackLayers, labelImage, type UnpackStep, type UnpackOptions } from './unpack.js';
export * from './services.js';
