// Pull: resolve a reference to a digest, fetch the index (if any), choose the
// manifest for the platform, then the config and the layers (a bounded number
// at a time) straight into the content store. Every blob is verified by the
// store before it becomes visible; an interrupted pull leaves partial ingests
// that the next pull resumes with Range requests. Progress events follow
// Docker's per-layer statuses so a CLI can render them the same way.

import { BerthError, isBerthError } from '../common/errors.js';
import type { ContentStore, Descriptor } from './content/types.js';
import { isNonDistributable } from './media.js';
import {
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  parseImageConfig,
  parseManifest,
  type ImageConfig,
  type ImageManifest,
} from './manifest.js';
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformScore,
  selectManifest,
  type NormalPlatform,
} from './platform.js';
import { formatReference, parseDockerRef, pullTarget, type Reference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry/client.js';

/** The label containerd uses to remember which repositories of a registry hold a blob. */
export function sourceLabel(registry: string): string {
  return `containerd.io/distribution.source.${registry}`;
}

export type PullStatus =
  | 'Resolving'
  | 'Resolved'
  | 'Waiting'
  | 'Downloading'
  | 'Verifying Checksum'
  | 'Download complete'
  | 'Already exists'
  | 'Pull complete'
  | 'Retrying';

export interface PullProgress {
  /** Docker's short id: the first 12 hex digits of the digest (or the reference for Resolving). */
  id: string;
  status: PullStatus;
  digest?: string;
  /** Bytes so far and total, for Downloading. */
  current?: number;
  total?: number;
  kind?: 'index' | 'manifest' | 'config' | 'layer';
}

export interface PullOptions {
  store: ContentStore;
  /** "linux/arm64/v8" or a platform object; default the host's. */
  platform?: string | NormalPlatform;
  /**
   * Refuse a single-platform image of another platform (as `docker pull
   * --platform` does); by default such an image is taken as it is, since
   * nothing else can be chosen.
   */
  requirePlatform?: boolean;
  /** Layers downloaded at once; default 3. */
  concurrency?: number;
  progress?: (e: PullProgress) => void;
  registryOptions?: RegistryOptions;
  /** Reuse a client (and its tokens) across pulls of one registry. */
  client?: RegistryClient;
  /**
   * Return the blobs' source labels in `labels` instead of writing them, for
   * a caller that writes them in its own transaction (with the image record).
   */
  deferLabels?: boolean;
}

/** New labels of one blob. */
export interface LabelUpdate {
  digest: string;
  labels: Record<string, string>;
}

export interface PullResult {
  /** Canonical name: "docker.io/library/busybox:latest". */
  name: string;
  reference: Reference;
  /** What the reference resolved to: an index or a manifest. */
  target: Descriptor;
  /** The manifest chosen for the platform (the target itself when it is a manifest). */
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  imageConfig: ImageConfig;
  platform: NormalPlatform;
  /** With `deferLabels`: the source labels the caller is to write. */
  labels?: LabelUpdate[];
}

export function shortId(digest: string): string {
  const i = digest.indexOf(':');
  return digest.slice(i + 1, i + 13);
}

/** Run `fn` over `items`, at most `limit` at a time; the first failure wins after all settle. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (t: T, i: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      if (signal?.aborted) {
        failed ??= { e: signal.reason };
        break;
      }
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.e;
  return out;
}

/**
 * Adds `repo` to each blob's source label, all in one write at the end of a
 * pull (one transaction, where the store can: each is an fsync on the event
 * loop, and a pull labels every blob). A pull that fails before leaves its
 * blobs unlabelled: the label only tells a later push where they came from.
 */
async function sourceLabelUpdates(
  store: ContentStore,
  digests: string[],
  registry: string,
  repo: string,
): Promise<LabelUpdate[]> {
  const key = sourceLabel(registry);
  const infos = await Promise.all([...new Set(digests)].map((d) => store.info(d)));
  const updates: LabelUpdate[] = [];
  for (const info of infos) {
    const have = (info.labels[key] ?? '').split(',').filter(Boolean);
    if (!have.includes(repo)) updates.push({ digest: info.digest, labels: { [key]: [...have, repo].join(',') } });
  }
  return updates;
}

async function writeLabels(store: ContentStore, updates: LabelUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  if (store.setLabelsMany) await store.setLabelsMany(updates);
  else for (const u of updates) await store.setLabels(u.digest, u.labels);
}

/**
 * Fetch a manifest or index into the store (or read it when already there).
 * The bytes come back as soon as they are checked; storing them (a lease
 * transaction, then the file and its two fsyncs) goes on in the background,
 * its promise pushed to `storing` for the caller to wait on.
 */
async function fetchManifestInto(
  client: RegistryClient,
  store: ContentStore,
  repo: string,
  desc: Descriptor,
  storing: Promise<unknown>[],
  prefetched?: { bytes: Buffer; digest: string },
): Promise<Buffer> {
  if (desc.size > MAX_MANIFEST_SIZE) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `manifest ${desc.digest}: ${desc.size} bytes is over the ${MAX_MANIFEST_SIZE}-byte limit`,
    );
  }
  if (await store.has(desc.digest)) return store.readBytes(desc.digest, MAX_MANIFEST_SIZE);
  const bytes =
    prefetched && prefetched.digest === desc.digest
      ? prefetched.bytes
      : (await client.fetchManifest(repo, desc.digest, desc)).bytes;
  // Parse before storing: a document we cannot use must not enter the store.
  parseManifest(bytes, { mediaType: desc.mediaType, what: `manifest ${desc.digest}` });
  const put = store.put(bytes, { digest: desc.digest, mediaType: desc.mediaType });
  put.catch(() => undefined); // waited for (and its error thrown) by the caller
  storing.push(put);
  return bytes;
}

/** What a pull and a push start from: the parsed reference, its name, and a client for its registry. */
export function remote(
  ref: string | Reference,
  opts: { client?: RegistryClient; registryOptions?: RegistryOptions },
): { r: Reference; name: string; repo: string; client: RegistryClient } {
  const r = typeof ref === 'string' ? parseDockerRef(ref) : ref;
  return {
    r,
    name: formatReference(r),
    repo: r.path,
    client: opts.client ?? new RegistryClient(r.domain, opts.registryOptions),
  };
}

/** The config's checks against the manifest, and against `platform` when the image must be of it. */
function checkConfig(imageConfig: ImageConfig, layers: Descriptor[], name: string, platform?: NormalPlatform): void {
  if (platform) {
    const have = { os: imageConfig.os, architecture: imageConfig.architecture, variant: imageConfig.variant };
    if (platformScore(platform, have) === undefined) {
      throw new BerthError(
        'image',
        'not-found',
        `${name} was found but does not match the specified platform: wanted ${formatPlatform(platform)}, actual: ${formatPlatform(have)}`,
      );
    }
  }
  const diffIds = imageConfig.rootfs?.diff_ids;
  if (Array.isArray(diffIds) && diffIds.length !== layers.length) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${name}: the manifest lists ${layers.length} layers but the config ${diffIds.length} diff ids`,
    );
  }
}

/** Downloads the layers not in the store, `concurrency` at a time, with Docker's per-layer events. */
async function fetchLayers(
  client: RegistryClient,
  store: ContentStore,
  repo: string,
  name: string,
  layers: Descriptor[],
  have: boolean[],
  concurrency: number,
  emit: (e: PullProgress) => void,
  signal: AbortSignal,
): Promise<void> {
  await mapLimit(
    layers,
    concurrency,
    async (layer, i) => {
      const id = shortId(layer.digest);
      if (have[i]) return;
      let last = 0;
      const blobOpts = {
        ref: `layer-${layer.digest}`,
        signal,
        onProgress: (done: number, total: number) => {
          // Throttle: about every 512 KiB, and always the last byte.
          if (done === total || done - last >= 512 * 1024 || done < last) {
            last = done;
            emit({
              id,
              status: done === total ? 'Verifying Checksum' : 'Downloading',
              digest: layer.digest,
              current: done,
              total,
              kind: 'layer',
            });
          }
        },
      };
      try {
        // Foreign / non-distributable layers: their URLs first, then the registry.
        const fromUrls =
          isNonDistributable(layer.mediaType) && layer.urls?.length
            ? await client.fetchBlobFromUrls(layer, store, blobOpts)
            : false;
        const { alreadyExists } = fromUrls
          ? { alreadyExists: false }
          : await client.fetchBlob(repo, layer, store, blobOpts);
        emit({
          id,
          status: alreadyExists ? 'Already exists' : 'Download complete',
          digest: layer.digest,
          kind: 'layer',
        });
      } catch (e) {
        if (isBerthError(e) || signal.aborted) throw e;
        throw new BerthError('image', 'unavailable', `${name}: layer ${layer.digest}: ${String(e)}`, { cause: e });
      }
      emit({ id, status: 'Pull complete', digest: layer.digest, kind: 'layer' });
    },
    signal,
  );
}

export async function pullImage(ref: string | Reference, opts: PullOptions): Promise<PullResult> {
  const { r, name, repo, client } = remote(ref, opts);
  const store = opts.store;
  const emit = opts.progress ?? (() => undefined);
  const want =
    opts.platform === undefined
      ? hostPlatform()
      : typeof opts.platform === 'string'
        ? parsePlatform(opts.platform)
        : normalizePlatform(opts.platform);

  const reference = pullTarget(r);
  emit({ id: reference, status: 'Resolving' });
  const resolved = await client.resolve(repo, reference);
  const target = resolved.descriptor;
  emit({ id: shortId(target.digest), status: 'Resolved', digest: target.digest });

  const storing: Promise<unknown>[] = [];
  let rootBytes = await fetchManifestInto(client, store, repo, target, storing, resolved.manifest);
  const labelled = [target.digest];
  let parsed = parseManifest(rootBytes, { mediaType: target.mediaType, what: name });
  let manifestDesc: Descriptor = target;
  if (parsed.kind === 'index') {
    const chosen = selectManifest(parsed.index.manifests, want, name);
    manifestDesc = { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size };
    if (chosen.platform) manifestDesc.platform = chosen.platform;
    rootBytes = await fetchManifestInto(client, store, repo, manifestDesc, storing);
    labelled.push(manifestDesc.digest);
    parsed = parseManifest(rootBytes, { mediaType: manifestDesc.mediaType, what: `${name} (${manifestDesc.digest})` });
    if (parsed.kind !== 'manifest') {
      throw new BerthError(
        'image',
        'invalid-argument',
        `${name}: index entry ${manifestDesc.digest} is another index, not an image manifest`,
      );
    }
  }
  const manifest: ImageManifest = parsed.manifest;
  const config = manifest.config as Descriptor;
  const layers = manifest.layers as Descriptor[];

  if (config.size > MAX_CONFIG_SIZE) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${name}: config of ${config.size} bytes is over the ${MAX_CONFIG_SIZE}-byte limit`,
    );
  }
  const haveConfig = await store.has(config.digest);
  const have = await Promise.all(layers.map((l) => store.has(l.digest)));
  // Every ingest of this pull leased in one transaction, not one each.
  store.expect?.([
    ...(haveConfig ? [] : [{ ref: `config-${config.digest}`, digest: config.digest }]),
    ...layers.flatMap((l, i) => (have[i] ? [] : [{ ref: `layer-${l.digest}`, digest: l.digest }])),
  ]);
  // The config and the layers download together (as containerd's fetch
  // does): the config's checks below stop the layers if it is refused. Layer
  // events wait until the manifest and config are stored and checked, since
  // an unpack that follows them reads both from the store.
  const stop = new AbortController();
  let gate: PullProgress[] | undefined = [];
  const emitLayer = (e: PullProgress): void => {
    if (gate) gate.push(e);
    else emit(e);
  };
  const configFetch = haveConfig
    ? Promise.resolve()
    : client.fetchBlob(repo, config, store, { ref: `config-${config.digest}`, signal: stop.signal });
  const downloads = fetchLayers(client, store, repo, name, layers, have, opts.concurrency ?? 3, emitLayer, stop.signal);
  downloads.catch(() => undefined); // waited for below
  let imageConfig: ImageConfig;
  try {
    await configFetch;
    labelled.push(config.digest);
    imageConfig = parseImageConfig(await store.readBytes(config.digest, MAX_CONFIG_SIZE), {
      what: `config of ${name}`,
    });
    checkConfig(
      imageConfig,
      layers,
      name,
      opts.requirePlatform && manifestDesc.digest === target.digest ? want : undefined,
    );
    await Promise.all(storing);
  } catch (e) {
    stop.abort(e);
    await downloads.catch(() => undefined);
    throw e;
  }
  // Docker shows every layer first, then works through them.
  layers.forEach((l, i) => {
    emit({ id: shortId(l.digest), status: have[i] ? 'Already exists' : 'Waiting', digest: l.digest, kind: 'layer' });
  });
  for (const e of gate) emit(e);
  gate = undefined;
  await downloads;
  const labels = await sourceLabelUpdates(store, [...labelled, ...layers.map((l) => l.digest)], r.domain, repo);
  if (!opts.deferLabels) await writeLabels(store, labels);

  const platform = manifestDesc.platform
    ? normalizePlatform(manifestDesc.platform)
    : normalizePlatform({
        os: imageConfig.os ?? want.os,
        architecture: imageConfig.architecture ?? want.architecture,
        variant: imageConfig.variant,
      });
  return {
    name,
    reference: r,
    target,
    manifest: manifestDesc,
    config,
    layers,
    imageConfig,
    platform,
    ...(opts.deferLabels ? { labels } : {}),
  };
}
