// OCI image layout (image-spec image-layout.md), as a directory or a tar:
//   oci-layout   {"imageLayoutVersion": "1.0.0"}
//   index.json   an image index whose entries are the images
//   blobs/<alg>/<hex>
// Each entry carries "org.opencontainers.image.ref.name" (the tag, which is
// what skopeo's and umoci's "oci:DIR:tag" look up) and containerd's
// "io.containerd.image.name" (the full name, so a re-import names it again).

import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { BerthError, errnoOf } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/atomic.js';
import type { Descriptor } from '../content/types.js';
import type { LocalContentStore } from '../content/store.js';
import { walkImage, resolveImage, readParsed } from '../images.js';
import { parseIndex, childrenOf, MAX_MANIFEST_SIZE, type ImageIndex } from '../manifest.js';
import { MediaType, isIndexType, isManifestType } from '../media.js';
import { parseReference, isDigest } from '../reference.js';
import type { NormalPlatform } from '../platform.js';
import { EPOCH, writeTarAtomically } from './tarwrite.js';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

export interface ExportImage {
  /** Full name ("docker.io/library/busybox:latest"). */
  name: string;
  target: Descriptor;
}

export interface ExportOptions {
  /** Export only this platform's manifest of each image (the entry then points at the manifest). */
  platform?: NormalPlatform;
  /**
   * Keep Docker schema 2 manifests and lists as they are. By default they are
   * rewritten with OCI media types (same config and layer bytes, new manifest
   * digests), as `skopeo copy --format oci` does: skopeo's and umoci's OCI
   * layout readers only look at OCI-typed entries.
   */
  keepDockerMediaTypes?: boolean;
}

const ociLayerFor: Record<string, string> = {
  [MediaType.DockerLayer]: MediaType.OciLayer,
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayerZstd]: MediaType.OciLayerZstd,
  [MediaType.DockerLayerForeign]: MediaType.OciLayerNonDist,
  [MediaType.DockerLayerForeignGzip]: MediaType.OciLayerNonDistGzip,
};

/** The OCI-typed twin of a Docker manifest or list (recursively); new documents go to `extra`. */
async function toOci(store: LocalContentStore, d: Descriptor, extra: Map<string, Buffer>): Promise<Descriptor> {
  if (!(isIndexType(d.mediaType) || isManifestType(d.mediaType)) || !(await store.has(d.digest))) return d;
  const p = await readParsed(store, d);
  let doc: Record<string, unknown>;
  let mediaType: string;
  if (p.kind === 'index') {
    const children = await Promise.all((p.index.manifests as Descriptor[]).map((c) => toOci(store, c, extra)));
    const changed = children.some((c, i) => c !== p.index.manifests[i]);
    if (!changed && d.mediaType === MediaType.OciIndex) return d;
    mediaType = MediaType.OciIndex;
    doc = {
      schemaVersion: 2,
      mediaType,
      manifests: children,
      ...(p.index.annotations ? { annotations: p.index.annotations } : {}),
    };
  } else {
    if (d.mediaType !== MediaType.DockerManifest) return d;
    const m = p.manifest;
    mediaType = MediaType.OciManifest;
    doc = {
      schemaVersion: 2,
      mediaType,
      config: {
        ...m.config,
        mediaType: m.config.mediaType === MediaType.DockerConfig ? MediaType.OciConfig : m.config.mediaType,
      },
      layers: m.layers.map((l) => ({ ...l, mediaType: ociLayerFor[l.mediaType] ?? l.mediaType })),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    };
  }
  const bytes = Buffer.from(JSON.stringify(doc));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  extra.set(digest, bytes);
  return { ...d, mediaType, digest, size: bytes.length };
}

export interface ExportResult {
  images: number;
  blobs: number;
  bytes: number;
}

function annotated(img: ExportImage, desc: Descriptor): Descriptor {
  const r = parseReference(img.name);
  const annotations: Record<string, string> = { ...(desc.annotations ?? {}), [ANNOTATION_IMAGE_NAME]: img.name };
  if (r.tag) annotations[ANNOTATION_REF_NAME] = r.tag;
  const { annotations: _a, ...rest } = desc;
  return { ...rest, annotations };
}

/** The index entries and the blobs (deduplicated, present ones only) to export. */
interface Plan {
  entries: Descriptor[];
  /** Blobs copied from the store. */
  blobs: Descriptor[];
  /** Documents made for the export (OCI twins of Docker manifests). */
  extra: Map<string, Buffer>;
}

async function plan(store: LocalContentStore, images: ExportImage[], opts: ExportOptions): Promise<Plan> {
  const entries: Descriptor[] = [];
  const blobs = new Map<string, Descriptor>();
  const extra = new Map<string, Buffer>();
  for (const img of images) {
    let root = img.target;
    if (opts.platform) {
      const r = await resolveImage(store, img.target, opts.platform);
      root = { ...r.manifestDesc };
      if (!root.platform) {
        root.platform = {
          os: r.config.os,
          architecture: r.config.architecture,
          ...(r.config.variant ? { variant: r.config.variant } : {}),
        };
      }
    }
    const walked = await walkImage(store, root, { missingOk: true });
    if (!walked.some((d) => d.digest === root.digest))
      throw new BerthError('image', 'not-found', `image ${img.name}: content ${root.digest} is missing`);
    const converted = opts.keepDockerMediaTypes ? root : await toOci(store, root, extra);
    entries.push(annotated(img, converted));
    for (const d of walked) {
      // A Docker manifest replaced by its OCI twin need not travel.
      if (
        converted !== root &&
        (isIndexType(d.mediaType) || isManifestType(d.mediaType)) &&
        d.mediaType.startsWith('application/vnd.docker.')
      )
        continue;
      blobs.set(d.digest, d);
    }
  }
  for (const d of extra.keys()) blobs.delete(d);
  return { entries, blobs: [...blobs.values()], extra };
}

function indexDoc(entries: Descriptor[]): string {
  const idx: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries };
  return JSON.stringify(idx);
}

/** Writes (or adds to) an OCI layout directory. Entries with the same ref name as an exported one are replaced. */
export async function exportOciDir(
  store: LocalContentStore,
  images: ExportImage[],
  dir: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const { entries, blobs, extra } = await plan(store, images, opts);
  await mkdir(dir, { recursive: true });
  let existing: Descriptor[] = [];
  if (existsSync(join(dir, 'index.json'))) {
    existing = parseIndex(await readFile(join(dir, 'index.json')), { what: `${dir}/index.json` }).manifests;
    const taken = new Set(entries.map((e) => e.annotations?.[ANNOTATION_REF_NAME]).filter((x) => x !== undefined));
    existing = existing.filter((e) => {
      const n = e.annotations?.[ANNOTATION_REF_NAME];
      return n === undefined || !taken.has(n);
    });
  }
  let bytes = 0;
  for (const d of blobs) {
    const [alg, hex] = d.digest.split(':') as [string, string];
    const dst = join(dir, 'blobs', alg, hex);
    await mkdir(join(dir, 'blobs', alg), { recursive: true });
    try {
      const st = await stat(dst);
      if (st.size === d.size) continue;
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    const tmp = `${dst}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await copyFile(store.blobPath(d.digest), tmp);
    await rename(tmp, dst);
    bytes += d.size;
  }
  for (const [digest, data] of extra) {
    const [alg, hex] = digest.split(':') as [string, string];
    await mkdir(join(dir, 'blobs', alg), { recursive: true });
    await writeFileAtomic(join(dir, 'blobs', alg, hex), data);
    bytes += data.length;
  }
  await writeFileAtomic(join(dir, 'oci-layout'), OCI_LAYOUT);
  await writeFileAtomic(join(dir, 'index.json'), indexDoc([...existing, ...entries]));
  return { images: entries.length, blobs: blobs.length + extra.size, bytes };
}

/** Writes an OCI layout tar (what `skopeo copy ... oci-archive:FILE` reads), atomically. */
export async function exportOciTar(
  store: LocalContentStore,
  images: ExportImage[],
  file: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const { entries, blobs, extra } = await plan(store, images, opts);
  let bytes = 0;
  await writeTarAtomically(file, async ({ pack, add, addDir }) => {
    await add('oci-layout', OCI_LAYOUT);
    const dirs = new Set([...blobs.map((d) => d.digest), ...extra.keys()].map((d) => d.split(':')[0]!));
    await addDir('blobs/');
    for (const alg of dirs) await addDir(`blobs/${alg}/`);
    for (const d of blobs) {
      const [alg, hex] = d.digest.split(':') as [string, string];
      const size = (await stat(store.blobPath(d.digest))).size;
      const entry = pack.entry({ name: `blobs/${alg}/${hex}`, size, mode: 0o644, mtime: EPOCH });
      await pipeline(createReadStream(store.blobPath(d.digest)), entry);
      bytes += size;
    }
    for (const [digest, data] of extra) {
      const [alg, hex] = digest.split(':') as [string, string];
      await add(`blobs/${alg}/${hex}`, data);
      bytes += data.length;
    }
    await add('index.json', indexDoc(entries));
  });
  return { images: entries.length, blobs: blobs.length + extra.size, bytes };
}

/**
 * Copies what `index` references from a layout directory into the store,
 * verifying every blob. Children of an index that the directory lacks are
 * skipped (a layout may hold one platform of a multi-platform image).
 */
export async function importOciDirBlobs(
  store: LocalContentStore,
  dir: string,
  index: ImageIndex,
  protect?: (digest: string) => void,
): Promise<void> {
  const seen = new Set<string>();
  const visit = async (d: Descriptor, optional: boolean): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (!isDigest(d.digest)) throw new BerthError('image', 'invalid-argument', `${dir}: invalid digest ${d.digest}`);
    const [alg, hex] = d.digest.split(':') as [string, string];
    const src = join(dir, 'blobs', alg, hex);
    protect?.(d.digest);
    if (!(await store.has(d.digest))) {
      if (!existsSync(src)) {
        if (optional) return;
        throw new BerthError(
          'image',
          'not-found',
          `${dir}: blob ${d.digest} (${d.mediaType}) is missing from the layout`,
        );
      }
      if ((isIndexType(d.mediaType) || isManifestType(d.mediaType)) && d.size > MAX_MANIFEST_SIZE) {
        throw new BerthError(
          'image',
          'invalid-argument',
          `${dir}: manifest ${d.digest} is ${d.size} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`,
        );
      }
      try {
        await store.putStream(createReadStream(src), { digest: d.digest, size: d.size });
      } catch (e) {
        throw new BerthError('image', 'digest-mismatch', `${dir}: blobs/${alg}/${hex}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    if (isIndexType(d.mediaType) || isManifestType(d.mediaType)) {
      const p = await readParsed(store, d);
      for (const c of childrenOf(p)) await visit(c, p.kind === 'index');
    }
  };
  for (const m of index.manifests) await visit(m, false);
}
