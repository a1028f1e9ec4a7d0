// Push: copy an image (index or manifest, with config and layers) from the
// content store to a registry. Blobs first (a bounded number at a time; each
// one skipped when the repository has it, mounted when another repository of
// the same registry is known to hold it, else uploaded), then the manifests of
// an index by digest, and the root last under the tag, so a tag never names
// content the registry lacks.

import { BerthError } from '../common/errors.js';
import type { ContentStore, Descriptor } from './content/types.js';
import { MAX_MANIFEST_SIZE, parseManifest } from './manifest.js';
import { isNonDistributable } from './media.js';
import { mapLimit, remote, shortId, sourceLabel } from './pull.js';
import type { Reference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry/client.js';
import { putManifest, uploadBlob } from './registry/upload.js';

export type PushStatus =
  'Preparing' | 'Waiting' | 'Pushing' | 'Pushed' | 'Layer already exists' | 'Mounted' | 'Skipped foreign layer';

export interface PushProgress {
  id: string;
  status: PushStatus;
  digest: string;
  current?: number;
  total?: number;
  /** The repository a blob was mounted from. */
  from?: string;
}

export interface PushOptions {
  store: ContentStore;
  /** The root to push (index or manifest). */
  target: Descriptor;
  /** Blobs uploaded at once; default 3. */
  concurrency?: number;
  /** Chunked uploads of this many bytes; default monolithic. */
  chunkSize?: number;
  progress?: (e: PushProgress) => void;
  registryOptions?: RegistryOptions;
  client?: RegistryClient;
}

export interface PushResult {
  name: string;
  digest: string;
  /** Per blob: what happened. */
  blobs: { digest: string; result: 'exists' | 'mounted' | 'uploaded' | 'skipped' }[];
}

interface Plan {
  manifests: Descriptor[]; // children before parents
  blobs: Descriptor[];
}

async function walk(store: ContentStore, root: Descriptor): Promise<Plan> {
  const manifests: Descriptor[] = [];
  const blobs = new Map<string, Descriptor>();
  const seen = new Set<string>();
  const visit = async (d: Descriptor, depth: number): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (depth > 8) throw new BerthError('image', 'invalid-argument', `push: indexes nested too deep at ${d.digest}`);
    if (!(await store.has(d.digest))) {
      throw new BerthError('image', 'not-found', `push: ${d.mediaType} ${d.digest} is not in the content store`);
    }
    const p = parseManifest(await store.readBytes(d.digest, MAX_MANIFEST_SIZE), {
      mediaType: d.mediaType,
      what: `manifest ${d.digest}`,
    });
    if (p.kind === 'index') {
      for (const m of p.index.manifests as Descriptor[]) await visit(m, depth + 1);
    } else {
      const cfg = p.manifest.config as Descriptor;
      blobs.set(cfg.digest, cfg);
      for (const l of p.manifest.layers as Descriptor[]) blobs.set(l.digest, l);
    }
    manifests.push({ mediaType: p.mediaType, digest: d.digest, size: d.size });
  };
  await visit(root, 0);
  return { manifests, blobs: [...blobs.values()] };
}

export async function pushImage(ref: string | Reference, opts: PushOptions): Promise<PushResult> {
  const { r, name, repo, client } = remote(ref, opts);
  const store = opts.store;
  const emit = opts.progress ?? (() => undefined);
  const plan = await walk(store, opts.target);
  const label = sourceLabel(r.domain);

  for (const b of plan.blobs) emit({ id: shortId(b.digest), status: 'Preparing', digest: b.digest });
  for (const b of plan.blobs) emit({ id: shortId(b.digest), status: 'Waiting', digest: b.digest });

  const blobs = await mapLimit(plan.blobs, opts.concurrency ?? 3, async (b) => {
    const id = shortId(b.digest);
    if (isNonDistributable(b.mediaType)) {
      emit({ id, status: 'Skipped foreign layer', digest: b.digest });
      return { digest: b.digest, result: 'skipped' as const };
    }
    if (!(await store.has(b.digest))) {
      throw new BerthError('image', 'not-found', `push ${name}: blob ${b.digest} is not in the content store`);
    }
    const info = await store.info(b.digest);
    const sources = (info.labels[label] ?? '').split(',').filter((x) => x && x !== repo);
    let last = 0;
    const result = await uploadBlob(client, repo, b, () => store.readStream(b.digest), {
      mountFrom: sources,
      chunkSize: opts.chunkSize,
      onProgress: (done, total) => {
        if (done === total || done - last >= 512 * 1024 || done < last) {
          last = done;
          emit({ id, status: 'Pushing', digest: b.digest, current: done, total });
        }
      },
    });
    if (result === 'exists') emit({ id, status: 'Layer already exists', digest: b.digest });
    else if (result === 'mounted') emit({ id, status: 'Mounted', digest: b.digest, from: sources.join(',') });
    else emit({ id, status: 'Pushed', digest: b.digest });
    const have = (info.labels[label] ?? '').split(',').filter(Boolean);
    if (!have.includes(repo)) await store.setLabels(b.digest, { [label]: [...have, repo].join(',') });
    return { digest: b.digest, result };
  });

  let digest = opts.target.digest;
  for (const m of plan.manifests) {
    const bytes = await store.readBytes(m.digest, MAX_MANIFEST_SIZE);
    const isRoot = m.digest === opts.target.digest;
    const reference = isRoot ? (r.tag ?? m.digest) : m.digest;
    if (isRoot && r.digest && r.digest !== m.digest) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `push ${name}: the reference's digest is not the image's (${m.digest})`,
      );
    }
    digest = await putManifest(client, repo, reference, bytes, m.mediaType);
  }
  return { name, digest, blobs };
}
