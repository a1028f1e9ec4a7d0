// The registry client: see client.ts for reads, upload.ts for pushes,
// auth.ts and credentials.ts for who we are, hosts.ts for where we go.
export {
  RegistryClient,
  DEFAULT_MAX_MANIFEST,
  type RegistryOptions,
  type FetchedManifest,
  type BlobProgress,
  type BlobFetchOptions,
} from './client.js';
export { proxyFor, proxyFromEnv, type ProxySettings } from './proxy.js';
export { uploadBlob, putManifest, type UploadOptions, type UploadResult } from './upload.js';
export { login, logout, type LoginResult } from './login.js';
export {
  getCredentials,
  storeCredentials,
  eraseCredentials,
  dockerConfigCredentials,
  dockerConfigDir,
  type Credentials,
  type CredentialSource,
} from './credentials.js';
export { parseWwwAuthenticate, type Challenge } from './auth.js';
export {
  resolveEndpoints,
  isInsecure,
  loadCertsDir,
  canonicalRegistry,
  DEFAULT_CERTS_DIR,
  DEFAULT_INSECURE,
  type HostOptions,
  type Endpoint,
} from './hosts.js';
export { ipInCidr } from './cidr.js';
