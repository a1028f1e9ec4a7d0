// docker save: the named images as one tar streamed into the response, in
// the layout Docker 25+ writes, which both new and old loaders read: an OCI
// image layout (oci-layout, index.json whose entries carry the image name
// annotations, blobs/sha256/<hex>) plus Docker's manifest.json (Config and
// Layers as paths of those blobs, RepoTags) and the legacy `repositories`.
// A blob shared by several images is written once. The blobs are read
// through containerd's content service as the tar is written (each entry's
// size is its descriptor's, checked against the store before the first
// byte is sent); an index's manifests for platforms that were never pulled
// are left out, as dockerd does (containerd's export with skip-missing).

import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { ContainerdClient } from '../../client/index.js';
import { RemoteContentStore } from '../../client/content-store.js';
import { BerthError } from '../../common/errors.js';
import type { Descriptor } from '../../image/storeless.js';
import { readParsed } from '../../image/storeless.js';
import { MediaType } from '../../image/storeless.js';
import { familiarRepository, formatReference, parseReference } from '../../image/storeless.js';
import type { ImageView } from './service.js';
import { isDanglingName } from './unpack.js';

const EPOCH = new Date(0);

export interface SaveItem {
  view: ImageView;
  /** Full name with a tag ("docker.io/library/busybox:latest"); none when saved by id. */
  name?: string;
}

const blobPath = (digest: string) => `blobs/sha256/${digest.slice(7)}`;

/** Every blob an image's target reaches that the store holds (skip-missing below an index). */
async function blobsOf(store: RemoteContentStore, view: ImageView): Promise<Descriptor[]> {
  const out: Descriptor[] = [view.target];
  const top = await readParsed(store, view.target);
  if (top.kind === 'index') {
    for (const m of top.index.manifests) {
      if (m.digest === view.resolved.manifestDesc.digest || (await store.has(m.digest))) {
        const p = await readParsed(store, m);
        if (p.kind !== 'manifest') continue;
        const all = [p.manifest.config, ...p.manifest.layers];
        const complete = (await Promise.all(all.map((d) => store.has(d.digest)))).every(Boolean);
        if (!complete && m.digest !== view.resolved.manifestDesc.digest) continue;
        out.push(m, ...all);
      }
    }
  } else {
    out.push(view.resolved.manifest.config, ...view.resolved.layers);
  }
  return out;
}

export async function saveImages(client: ContainerdClient, items: SaveItem[], out: Writable): Promise<void> {
  const store = new RemoteContentStore(client.conn, client.content);
  const blobs = new Map<string, Descriptor>();
  const index: Descriptor[] = [];
  const byId = new Map<string, { view: ImageView; tags: string[] }>();
  for (const it of items) {
    for (const d of await blobsOf(store, it.view)) blobs.set(d.digest, d);
    const annotations: Record<string, string> = {};
    const g = byId.get(it.view.id) ?? { view: it.view, tags: [] };
    byId.set(it.view.id, g);
    if (it.name && !isDanglingName(it.name)) {
      const r = parseReference(it.name);
      annotations['io.containerd.image.name'] = formatReference(r);
      if (r.tag) annotations['org.opencontainers.image.ref.name'] = r.tag;
      if (r.tag) g.tags.push(`${familiarRepository(r)}:${r.tag}`);
    }
    const entry: Descriptor = {
      mediaType: it.view.target.mediaType,
      digest: it.view.target.digest,
      size: it.view.target.size,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    };
    if (!index.some((e) => e.digest === entry.digest && JSON.stringify(e.annotations) === JSON.stringify(annotations)))
      index.push(entry);
  }
  // Sizes are checked before the response starts: a tar entry cannot be taken back.
  for (const d of blobs.values()) {
    const actual = (await client.content.info(d.digest)).size;
    if (actual !== d.size)
      throw new BerthError(
        'berthd',
        'internal',
        `content ${d.digest}: the store holds ${actual} bytes, its descriptor says ${d.size}`,
      );
  }
  const manifestJson = [...byId.values()].map(({ view, tags }) => ({
    Config: blobPath(view.resolved.manifest.config.digest),
    RepoTags: tags.length ? tags : null,
    Layers: view.resolved.layers.map((l) => blobPath(l.digest)),
  }));
  const repositories: Record<string, Record<string, string>> = {};
  for (const { view, tags } of byId.values()) {
    const topLayer = view.resolved.layers.at(-1)?.digest.slice(7) ?? '';
    for (const t of tags) {
      const c = t.lastIndexOf(':');
      (repositories[t.slice(0, c)] ??= {})[t.slice(c + 1)] = topLayer;
    }
  }

  const pack = tar.pack();
  const sent = pipeline(pack, out);
  const add = (name: string, data: string) =>
    new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644, mtime: EPOCH }, data, (e) => (e ? rej(e) : res())));
  const dir = (name: string) =>
    new Promise<void>((res, rej) =>
      pack.entry({ name, type: 'directory', mode: 0o755, mtime: EPOCH }, (e) => (e ? rej(e) : res())),
    );
  try {
    await dir('blobs/');
    await dir('blobs/sha256/');
    for (const d of blobs.values()) {
      const entry = pack.entry({ name: blobPath(d.digest), size: d.size, mode: 0o644, mtime: EPOCH });
      await pipeline(store.readStream(d.digest), entry);
    }
    await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }));
    await add('manifest.json', JSON.stringify(manifestJson));
    await add('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await add('repositories', JSON.stringify(repositories));
    pack.finalize();
    await sent;
  } catch (e) {
    pack.destroy(e as Error);
    await sent.catch(() => undefined);
    throw e;
  }
}
