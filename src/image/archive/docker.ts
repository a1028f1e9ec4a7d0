// The `docker save` / `docker load` tar format (Docker image spec v1.2,
// "combined image JSON + filesystem changeset format"):
//   manifest.json     [{"Config": "<id>.json", "RepoTags": ["busybox:latest"], "Layers": ["<l>/layer.tar", ...]}]
//   repositories      {"busybox": {"latest": "<top layer id>"}}   (legacy, still read by old loaders)
//   <id>.json         the image config; <id> is its sha256, the image id
//   <l>/layer.tar     each layer uncompressed; <l>/VERSION "1.0"; <l>/json legacy v1 metadata
// Docker 25+ writes the same manifest.json inside an OCI layout, with layer
// and config paths under blobs/sha256/: lookups by path cover both.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { z } from 'zod';
import { BerthError } from '../../common/errors.js';
import type { Descriptor, Digest } from '../content/types.js';
import type { LocalContentStore } from '../content/store.js';
import { resolveImage } from '../images.js';
import { archiveLayer, ociImageManifest, parseImageConfig } from '../manifest.js';
import { MediaType, layerCompression } from '../media.js';
import { compressionOf } from '../../common/compression.js';
import { familiarRepository, parseReference, normalizeName } from '../reference.js';
import { hostPlatform, type NormalPlatform } from '../platform.js';
import { lookup, normalizeEntry, type ArchiveFiles } from './tarread.js';
import { decompressor, Hasher } from './stream.js';
import type { ExportImage, ExportResult } from './oci.js';
import { EPOCH, writeTarAtomically } from './tarwrite.js';

const manifestJsonSchema = z
  .array(
    z
      .object({
        Config: z.string().min(1),
        RepoTags: z.array(z.string()).nullable().optional(),
        Layers: z.array(z.string()),
        LayerSources: z
          .record(
            z.string(),
            z.object({
              mediaType: z.string(),
              digest: z.string(),
              size: z.number(),
              urls: z.array(z.string()).optional(),
            }),
          )
          .optional(),
      })
      .loose(),
  )
  .max(10_000);

export interface DockerImported {
  names: string[];
  target: Descriptor;
  config: Digest;
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Turns the manifest.json of a docker-save archive (already read into the store) into OCI manifests. */
export async function importDockerArchive(
  store: LocalContentStore,
  files: ArchiveFiles,
  what: string,
  protect?: (digest: string) => void,
): Promise<DockerImported[]> {
  const raw = files.json.get('manifest.json');
  if (!raw) throw new BerthError('image', 'invalid-argument', `${what}: no manifest.json`);
  let parsed: z.infer<typeof manifestJsonSchema>;
  try {
    const r = manifestJsonSchema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!r.success)
      throw new Error(
        r.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; '),
      );
    parsed = r.data;
  } catch (e) {
    throw new BerthError('image', 'invalid-argument', `${what}: manifest.json: ${(e as Error).message}`);
  }
  const out: DockerImported[] = [];
  for (const [i, entry] of parsed.entries()) {
    const where = `${what}: manifest.json[${i}]`;
    // Layers may be links (docker save links identical ones); the config
    // never is: refused here rather than found wanting at unpack.
    const cfgName = normalizeEntry(entry.Config);
    if (cfgName && files.links.has(cfgName)) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `${where}: config ${entry.Config} is a link in the archive, not a file`,
      );
    }
    const cfgFile = lookup(files, entry.Config);
    if (!cfgFile) throw new BerthError('image', 'not-found', `${where}: config ${entry.Config} is not in the archive`);
    const cfgBytes = cfgFile.json ?? (await store.readBytes(cfgFile.blob!.digest, 16 * 1024 * 1024));
    const config = parseImageConfig(cfgBytes, { what: `${where}: ${entry.Config}` });
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `${where}: ${entry.Layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff ids`,
      );
    }
    const cfgInfo = await store.put(cfgBytes, { beforeCommit: protect });
    const layers: Descriptor[] = [];
    for (const [j, path] of entry.Layers.entries()) {
      const f = lookup(files, path);
      if (!f) throw new BerthError('image', 'not-found', `${where}: layer ${path} is not in the archive`);
      const info = f.blob ?? (await store.put(f.json!, { beforeCommit: protect }));
      const compression = compressionOf(await readHead(store.blobPath(info.digest), 4));
      layers.push(archiveLayer(info, compression, config.rootfs.diff_ids[j], `${where}: layer "${path}"`));
    }
    const manifest = ociImageManifest(cfgInfo, layers);
    const mInfo = await store.put(Buffer.from(JSON.stringify(manifest)), { beforeCommit: protect });
    const target: Descriptor = {
      mediaType: MediaType.OciManifest,
      digest: mInfo.digest,
      size: mInfo.size,
      platform: {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      },
    };
    const names = (entry.RepoTags ?? []).map((t) => {
      try {
        return normalizeName(t);
      } catch (e) {
        throw new BerthError('image', 'invalid-argument', `${where}: RepoTags: ${(e as Error).message}`);
      }
    });
    out.push({ names, target, config: cfgInfo.digest });
  }
  return out;
}

const hexOf = (d: string) => d.slice(d.indexOf(':') + 1);

/** Writes a `docker save` tar of `images` for `platform` (default the host's), atomically. */
export async function exportDockerArchive(
  store: LocalContentStore,
  images: ExportImage[],
  file: string,
  opts: { platform?: NormalPlatform } = {},
): Promise<ExportResult> {
  const platform = opts.platform ?? hostPlatform();
  // One manifest.json entry per image id (config digest), carrying all its tags.
  const groups = new Map<string, { resolved: Awaited<ReturnType<typeof resolveImage>>; tags: string[] }>();
  for (const img of images) {
    const resolved = await resolveImage(store, img.target, platform);
    const key = resolved.manifest.config.digest;
    const g = groups.get(key) ?? { resolved, tags: [] };
    const r = parseReference(img.name);
    if (r.tag) g.tags.push(`${familiarRepository(r)}:${r.tag}`);
    groups.set(key, g);
  }
  const work = await mkdtemp(join(tmpdir(), 'berth-save-'));
  let bytes = 0;
  let blobs = 0;
  try {
    await writeTarAtomically(file, async ({ pack, add, addDir }) => {
      const manifestJson: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
      const repositories: Record<string, Record<string, string>> = {};
      const written = new Set<string>();
      for (const [cfgDigest, g] of groups) {
        const { resolved } = g;
        const cfgName = `${hexOf(cfgDigest)}.json`;
        if (!written.has(cfgName)) {
          const cfg = await store.readBytes(cfgDigest);
          await add(cfgName, cfg);
          written.add(cfgName);
          bytes += cfg.length;
          blobs++;
        }
        const layerPaths: string[] = [];
        let parent: string | undefined;
        for (const [i, layer] of resolved.layers.entries()) {
          const diffId = resolved.diffIds[i]!;
          const id = hexOf(resolved.chainIds[i]!);
          const path = `${id}/layer.tar`;
          layerPaths.push(path);
          if (!written.has(path)) {
            written.add(path);
            await addDir(`${id}/`);
            await add(`${id}/VERSION`, '1.0');
            await add(
              `${id}/json`,
              JSON.stringify({
                id,
                ...(parent ? { parent } : {}),
                created: resolved.config.created ?? EPOCH.toISOString(),
              }),
            );
            bytes += await addLayer(store, pack, path, layer, diffId, work);
            blobs++;
          }
          parent = id;
        }
        manifestJson.push({ Config: cfgName, RepoTags: g.tags, Layers: layerPaths });
        for (const t of g.tags) {
          const c = t.lastIndexOf(':');
          (repositories[t.slice(0, c)] ??= {})[t.slice(c + 1)] = parent ?? '';
        }
      }
      await add('manifest.json', JSON.stringify(manifestJson));
      await add('repositories', JSON.stringify(repositories));
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { images: groups.size, blobs, bytes };
}

/** Adds one layer uncompressed (the tar header needs its size, so compressed layers go through a temp file), checking its diff id. */
async function addLayer(
  store: LocalContentStore,
  pack: tar.Pack,
  name: string,
  layer: Descriptor,
  diffId: string,
  work: string,
): Promise<number> {
  const compression =
    layerCompression(layer.mediaType) === 'none'
      ? compressionOf(await readHead(store.blobPath(layer.digest), 4))
      : layerCompression(layer.mediaType);
  let src = store.blobPath(layer.digest);
  if (compression !== 'none') {
    const plain = join(work, hexOf(layer.digest));
    const hasher = new Hasher();
    await pipeline(createReadStream(src), decompressor(compression)!, hasher, createWriteStream(plain));
    if (hasher.digest() !== diffId) {
      throw new BerthError(
        'image',
        'digest-mismatch',
        `layer ${layer.digest}: uncompressed content does not match diff id ${diffId}`,
      );
    }
    src = plain;
  } else if (layer.digest !== diffId) {
    throw new BerthError('image', 'digest-mismatch', `layer ${layer.digest}: does not match diff id ${diffId}`);
  }
  const size = (await stat(src)).size;
  await pipeline(createReadStream(src), pack.entry({ name, size, mode: 0o644, mtime: EPOCH }));
  if (src !== store.blobPath(layer.digest)) await unlink(src);
  return size;
}
