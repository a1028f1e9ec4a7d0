// Import and export of images: finds the format, moves the blobs through the
// content store (verified), and names the results in the image store. An
// import holds a lease on every blob it stores until the image records that
// reference them are written, so a concurrent gc cannot take them.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError } from '../../common/errors.js';
import type { Descriptor } from '../content/types.js';
import type { LocalContentStore } from '../content/store.js';
import { readParsed, walkImage, type ImageStore } from '../images.js';
import { withLease, type LeaseManager } from '../leases.js';
import { parseIndex } from '../manifest.js';
import { parseReference, formatReference, withDefaultTag, normalizeName } from '../reference.js';
import type { NormalPlatform } from '../platform.js';
import { readArchive } from './tarread.js';
import {
  exportOciDir,
  exportOciTar,
  importOciDirBlobs,
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  type ExportResult,
} from './oci.js';
import { exportDockerArchive, importDockerArchive } from './docker.js';
import { importRootfs, type RootfsImportOptions } from './rootfs.js';

export * from './oci.js';
export { applyChanges } from './changes.js';
export type { RootfsImportOptions } from './rootfs.js';

export interface ImageServices {
  content: LocalContentStore;
  images: ImageStore;
  leases: LeaseManager;
}

export interface ImportOptions {
  /** Repository for entries that carry only a tag (or nothing): default "localhost/import". */
  baseName?: string;
  /** Name for the image when the archive holds exactly one (overrides the names inside). */
  name?: string;
  /** Treat the input as a plain root filesystem tarball (`docker import`). */
  rootfs?: boolean;
  rootfsOptions?: RootfsImportOptions;
}

export interface ImportedImage {
  name: string;
  target: Descriptor;
}

export type ExportFormat = 'oci' | 'oci-dir' | 'docker';

const DEFAULT_BASE = 'localhost/import';

function nameFromAnnotations(desc: Descriptor, base: string): string {
  const a = desc.annotations ?? {};
  const full = a[ANNOTATION_IMAGE_NAME];
  if (full) {
    try {
      return normalizeName(full);
    } catch {
      /* fall through to ref.name */
    }
  }
  const ref = a[ANNOTATION_REF_NAME];
  if (ref) {
    if (/[/:@]/.test(ref)) {
      try {
        return normalizeName(ref);
      } catch {
        /* a tag with odd characters */
      }
    }
    try {
      return normalizeName(`${base}:${ref}`);
    } catch {
      /* not a valid tag */
    }
  }
  return formatReference({ ...parseReference(base), tag: undefined, digest: desc.digest });
}

function applyName(found: { name?: string; target: Descriptor }[], opts: ImportOptions): void {
  if (opts.name === undefined) return;
  if (found.length !== 1) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `the archive holds ${found.length} images; a single --name cannot name them`,
    );
  }
  found[0]!.name = normalizeName(opts.name);
}

export async function importImages(
  svc: ImageServices,
  input: string | Readable,
  opts: ImportOptions = {},
): Promise<ImportedImage[]> {
  const base = opts.baseName ?? DEFAULT_BASE;
  const baseRef = parseReference(base);
  if (baseRef.tag || baseRef.digest)
    throw new BerthError('image', 'invalid-argument', `base name "${base}" must not have a tag or digest`);
  const what = typeof input === 'string' ? input : 'archive';
  return withLease(
    svc.leases,
    async (lease) => {
      const protect = (digest: string) => svc.leases.addResource(lease.id, { type: 'content', key: digest });
      let found: { name?: string; target: Descriptor }[] = [];

      if (opts.rootfs) {
        const r = await importRootfs(svc.content, input, { ...opts.rootfsOptions, protect });
        found = [
          {
            name: opts.name ? normalizeName(opts.name) : formatReference(withDefaultTag({ ...baseRef })),
            target: r.target,
          },
        ];
      } else if (typeof input === 'string' && existsSync(input) && statSync(input).isDirectory()) {
        if (!existsSync(join(input, 'oci-layout')) || !existsSync(join(input, 'index.json'))) {
          throw new BerthError(
            'image',
            'invalid-argument',
            `${input}: a directory must be an OCI image layout (oci-layout and index.json)`,
          );
        }
        const index = parseIndex(await readFile(join(input, 'index.json')), { what: `${input}/index.json` });
        await importOciDirBlobs(svc.content, input, index, protect);
        found = index.manifests.map((m) => ({ name: nameFromAnnotations(m as Descriptor, base), target: m }));
        applyName(found, opts);
      } else {
        if (typeof input === 'string' && !existsSync(input))
          throw new BerthError('image', 'not-found', `${input}: no such file`);
        const files = await readArchive(svc.content, input, { protect });
        const indexJson = files.json.get('index.json');
        if (indexJson) {
          const index = parseIndex(indexJson, { what: `${what}: index.json` });
          for (const m of index.manifests) {
            if (!(await svc.content.has(m.digest))) {
              throw new BerthError(
                'image',
                'not-found',
                `${what}: index.json names ${m.digest}, which the archive lacks`,
              );
            }
          }
          // Docker 25+ archives carry both; their manifest.json has the familiar names.
          found = index.manifests.map((m) => ({ name: nameFromAnnotations(m as Descriptor, base), target: m }));
        } else if (files.json.has('manifest.json')) {
          const imported = await importDockerArchive(svc.content, files, what, protect);
          for (const im of imported) {
            if (im.names.length === 0)
              found.push({ name: formatReference({ ...baseRef, digest: im.target.digest }), target: im.target });
            for (const n of im.names) found.push({ name: n, target: im.target });
          }
        } else {
          throw new BerthError(
            'image',
            'invalid-argument',
            `${what}: neither an OCI layout (index.json) nor a docker save archive (manifest.json); for a root filesystem tarball use --rootfs`,
          );
        }
        applyName(found, opts);
      }
      // Every entry must be an image index or manifest that parses (schema 1,
      // layers and configs posing as manifests are refused here, not at run time),
      // and every descriptor must give the size of the blob it names.
      for (const f of found) {
        await readParsed(svc.content, f.target);
        await checkSizes(svc.content, f.target, what);
      }
      const out: ImportedImage[] = [];
      for (const f of found) {
        const rec = svc.images.put(f.name!, stripNameAnnotations(f.target));
        out.push({ name: rec.name, target: rec.target });
      }
      return out;
    },
    { labels: { 'berth.io/operation': 'import' }, ttlMs: 3600_000 },
  );
}

/**
 * A descriptor whose size is not its blob's is refused at import: a layer
 * of the wrong size would otherwise import and unpack (its digest matches,
 * the manifest lies about it, and every later push or pull trusts that).
 */
async function checkSizes(store: LocalContentStore, target: Descriptor, what: string): Promise<void> {
  for (const d of await walkImage(store, target, { missingOk: true })) {
    const actual = (await store.info(d.digest)).size;
    if (actual !== d.size) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `${what}: ${d.mediaType} ${d.digest}: its descriptor says ${d.size} bytes, the blob has ${actual}`,
      );
    }
  }
}

/** Image targets keep their platform but not the layout's naming annotations. */
function stripNameAnnotations(d: Descriptor): Descriptor {
  if (!d.annotations) return d;
  const { [ANNOTATION_IMAGE_NAME]: _n, [ANNOTATION_REF_NAME]: _r, ...rest } = d.annotations;
  const { annotations: _a, ...desc } = d;
  return Object.keys(rest).length ? { ...desc, annotations: rest } : desc;
}

export async function exportImages(
  svc: ImageServices,
  names: string[],
  out: string,
  opts: { format?: ExportFormat; platform?: NormalPlatform; keepDockerMediaTypes?: boolean } = {},
): Promise<ExportResult> {
  if (names.length === 0) throw new BerthError('image', 'invalid-argument', 'export: no images named');
  const images = names.map((n) => {
    const r = svc.images.get(n);
    return { name: r.name, target: r.target };
  });
  const format = opts.format ?? 'oci';
  const o = { platform: opts.platform, keepDockerMediaTypes: opts.keepDockerMediaTypes };
  if (format === 'oci-dir') return exportOciDir(svc.content, images, out, o);
  if (format === 'docker') return exportDockerArchive(svc.content, images, out, { platform: opts.platform });
  return exportOciTar(svc.content, images, out, o);
}
