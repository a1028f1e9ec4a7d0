// docker load: an archive streamed from the request body becomes images in
// containerd, as dockerd's containerd image store loads them. Accepted: an
// OCI layout (index.json; Docker 25+ writes one with a manifest.json beside
// it, whose names it also carries) and the classic `docker save` tar
// (manifest.json, <id>.json configs, <id>/layer.tar, links between
// identical layers: what Docker 20.10 writes), compressed or not.
// Everything is made under one lease: the blobs as they stream in, the
// manifests written for classic archives, the snapshots of the unpack. The
// image records are written only once every image has been checked and
// unpacked; a failure anywhere drops the lease with a synchronous gc, so a
// refused archive leaves nothing behind.

import type { Readable } from 'node:stream';
import { z } from 'zod';
import { labelImage, unpackLayers, type ContainerdClient, type UnpackStep } from '../../client/index.js';
import { temporaryLease } from '../../client/pull.js';
import { RemoteContentStore } from '../../client/content-store.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { compressionOf } from '../../common/compression.js';
import type { Descriptor } from '../../image/storeless.js';
import { readParsed, resolveImage, type ResolvedImage } from '../../image/storeless.js';
import { parseImageConfig, parseIndex } from '../../image/storeless.js';
import { MediaType, archiveLayer, ociImageManifest } from '../../image/storeless.js';
import { familiarString, normalizeName, parseReference } from '../../image/storeless.js';
import { lookup } from '../../image/storeless.js';
import { readArchive, entryPath, type ArchiveEntries } from './archive-in.js';
import { putJson, ingest } from './ingest.js';
import { danglingName, nameImage } from './unpack.js';

const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

const manifestJsonSchema = z
  .array(
    z
      .object({
        Config: z.string().min(1),
        RepoTags: z.array(z.string()).nullable().optional(),
        Layers: z.array(z.string()).max(1000),
      })
      .loose(),
  )
  .max(10_000);

export interface LoadedImage {
  /** Familiar names ("busybox:latest"); empty for an image loaded without one. */
  names: string[];
  /** Docker's image id: the config digest. */
  id: string;
  target: Descriptor;
}

export interface LoadOptions {
  client: ContainerdClient;
  snapshotter: string;
  /** Per layer as it is unpacked (the "Loading layer" progress). */
  progress?: (s: UnpackStep) => void;
}

interface Found {
  names: string[];
  target: Descriptor;
  what: string;
}

function invalid(msg: string, code: 'invalid-argument' | 'not-found' | 'digest-mismatch' = 'invalid-argument') {
  return new BerthError('berthd', code, msg);
}

function parseTag(t: string, where: string): string {
  try {
    const r = parseReference(normalizeName(t));
    if (r.digest || !r.tag) throw new Error('a name with a tag is needed');
    return normalizeName(t);
  } catch (e) {
    throw invalid(`${where}: RepoTags: "${t}": ${messageOf(e)}`);
  }
}

async function blobBytes(client: ContainerdClient, digest: string, max: number): Promise<Buffer> {
  return client.content.readAll(digest, max);
}

async function head(client: ContainerdClient, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const r of client.content.read(digest, 0, 4) as AsyncIterable<{ data: Buffer }>) chunks.push(r.data);
  return Buffer.concat(chunks);
}

/** The classic format: manifest.json entries become OCI manifests written under the lease. */
async function fromManifestJson(client: ContainerdClient, lease: string, files: ArchiveEntries): Promise<Found[]> {
  let parsed: z.infer<typeof manifestJsonSchema>;
  try {
    const r = manifestJsonSchema.safeParse(JSON.parse(files.json.get('manifest.json')!.toString('utf8')));
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    parsed = r.data;
  } catch (e) {
    throw invalid(`archive entry "manifest.json": ${messageOf(e)}`);
  }
  const out: Found[] = [];
  for (const [i, entry] of parsed.entries()) {
    const where = `manifest.json[${i}]`;
    const cfgPath = entryPath(entry.Config);
    if (!cfgPath) throw invalid(`${where}: config path "${entry.Config}" leads out of the archive`);
    if (files.links.has(cfgPath)) throw invalid(`${where}: config "${entry.Config}" is a link, not a file`);
    const f = lookup(files, cfgPath);
    if (!f) throw invalid(`${where}: config "${entry.Config}" is not in the archive`, 'not-found');
    const bytes = f.json ?? (await blobBytes(client, f.blob!.digest, 16 * 1024 * 1024));
    const config = parseImageConfig(bytes, { what: `${where}: config "${entry.Config}"` });
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw invalid(
        `${where}: ${entry.Layers.length} layers, but config "${entry.Config}" lists ${config.rootfs.diff_ids.length} diff ids`,
      );
    }
    const cfg = f.blob ?? (await ingest(client, lease, [bytes], { what: `${where}: config "${entry.Config}"` }));
    const layers: Descriptor[] = [];
    for (const [j, path] of entry.Layers.entries()) {
      const l = lookup(files, path);
      if (!l) throw invalid(`${where}: layer "${path}" is not in the archive`, 'not-found');
      const blob = l.blob ?? (await ingest(client, lease, [l.json!], { what: `${where}: layer "${path}"` }));
      const compression = compressionOf(await head(client, blob.digest));
      layers.push(archiveLayer(blob, compression, config.rootfs.diff_ids[j], `${where}: layer "${path}"`));
    }
    const manifest = ociImageManifest(cfg, layers);
    const m = await putJson(client, lease, manifest, `${where}: manifest`);
    out.push({
      names: (entry.RepoTags ?? []).map((t) => parseTag(t, where)),
      target: { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size },
      what: where,
    });
  }
  return out;
}

/** An OCI layout: index.json entries, named by their annotations (or by manifest.json's RepoTags). */
async function fromIndexJson(client: ContainerdClient, files: ArchiveEntries): Promise<Found[]> {
  const index = parseIndex(files.json.get('index.json')!, { what: 'archive entry "index.json"' });
  const store = new RemoteContentStore(client.conn, client.content);
  // Docker 25+ archives name their images in manifest.json too: config path → RepoTags.
  const tagsByConfig = new Map<string, string[]>();
  const mj = files.json.get('manifest.json');
  if (mj) {
    const r = manifestJsonSchema.safeParse(JSON.parse(mj.toString('utf8')) as unknown);
    if (r.success)
      for (const [i, e] of r.data.entries())
        tagsByConfig.set(
          entryPath(e.Config) ?? '',
          (e.RepoTags ?? []).map((t) => parseTag(t, `manifest.json[${i}]`)),
        );
  }
  const out: Found[] = [];
  for (const [i, d] of index.manifests.entries()) {
    const where = `index.json manifests[${i}]`;
    const a = d.annotations ?? {};
    const names: string[] = [];
    const full = a[ANNOTATION_IMAGE_NAME] ?? a[ANNOTATION_REF_NAME];
    if (full && /[:/@]/.test(full)) {
      try {
        names.push(parseTag(full, where));
      } catch {
        /* a bare tag in ref.name: no repository to put it in */
      }
    }
    if (!names.length && tagsByConfig.size) {
      const r = await resolveImage(store, d).catch(() => undefined);
      if (r) names.push(...(tagsByConfig.get(`blobs/sha256/${r.manifest.config.digest.slice(7)}`) ?? []));
    }
    const { annotations: _a, ...target } = d;
    out.push({ names: [...new Set(names)], target, what: where });
  }
  return out;
}

/** Host platform manifest, config and layers all present, parsed, and of the sizes their descriptors give. */
async function check(client: ContainerdClient, f: Found): Promise<ResolvedImage> {
  const store = new RemoteContentStore(client.conn, client.content);
  const size = async (d: Descriptor, what: string) => {
    let actual: number;
    try {
      actual = (await client.content.info(d.digest)).size;
    } catch (e) {
      if (isBerthError(e) && e.code === 'not-found')
        throw invalid(`${f.what}: ${what} ${d.digest} is not in the archive`, 'not-found');
      throw e;
    }
    if (actual !== d.size)
      throw invalid(`${f.what}: ${what} ${d.digest}: its descriptor says ${d.size} bytes, the blob has ${actual}`);
  };
  try {
    await size(f.target, 'manifest');
    const top = await readParsed(store, f.target);
    if (top.kind === 'index') {
      for (const m of top.index.manifests) if (await store.has(m.digest)) await size(m, 'manifest');
    }
    const r = await resolveImage(store, f.target);
    await size(r.manifest.config, 'config');
    for (const l of r.layers) await size(l, 'layer');
    return r;
  } catch (e) {
    if (isBerthError(e) && e.message.startsWith(f.what)) throw e;
    throw invalid(
      `${f.what}: ${messageOf(e)}`,
      isBerthError(e) && e.code === 'not-found' ? 'not-found' : 'invalid-argument',
    );
  }
}

export async function loadImages(input: Readable, opts: LoadOptions): Promise<LoadedImage[]> {
  const { client, snapshotter } = opts;
  const lease = await temporaryLease(client, 'berthd-load', 3600_000);
  let done = false;
  try {
    const files = await readArchive(client, lease, input);
    let found: Found[];
    if (files.json.has('index.json')) found = await fromIndexJson(client, files);
    else if (files.json.has('manifest.json')) found = await fromManifestJson(client, lease, files);
    else throw invalid('archive: neither an OCI layout (index.json) nor a docker save archive (manifest.json)');
    const resolved: { f: Found; r: ResolvedImage }[] = [];
    for (const f of found) resolved.push({ f, r: await check(client, f) });
    for (const { f, r } of resolved) {
      const store = new RemoteContentStore(client.conn, client.content, lease);
      const unpack = { snapshotter, lease, layers: r.layers, diffIds: r.diffIds };
      const chain = await unpackLayers(client, store, unpack, opts.progress);
      const refs = {
        manifest: r.manifestDesc.digest,
        config: r.manifest.config.digest,
        layers: r.layers.map((l) => l.digest),
      };
      await labelImage(store, { target: f.target, ...refs }, { snapshotter, chain });
    }
    const out: LoadedImage[] = [];
    for (const { f, r } of resolved) {
      if (f.names.length === 0) await nameImage(client, danglingName(f.target.digest), f.target);
      for (const n of f.names) await nameImage(client, n, f.target);
      out.push({
        names: f.names.map((n) => familiarString(parseReference(n))),
        id: r.manifest.config.digest,
        target: f.target,
      });
    }
    done = true;
    return out;
  } finally {
    // On failure, a synchronous gc takes what the lease alone held.
    await client.leases.delete(lease, !done).catch(() => undefined);
  }
}
