// Parsing of image indexes, manifests and configs: the edge where untrusted
// JSON from registries and archives becomes typed data. Everything is
// size-limited before it is parsed, validated with zod, and checked against
// the media type its descriptor (or the registry's Content-Type) announced.
// Schema 1 manifests are refused with a message that says what to do.

import { z } from 'zod';
import { BerthError } from '../common/errors.js';
import type { Descriptor } from './content/types.js';
import type { Compression } from '../common/compression.js';
import { MediaType, isIndexType, isManifestType, isSchema1Type, layerTypeFor } from './media.js';
import { isDigest } from './reference.js';

/** A manifest or index over this size is refused before it is parsed (as containerd and the registry do). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
export const MAX_CONFIG_SIZE = 16 * 1024 * 1024;

const annotations = z.record(z.string(), z.string());

export const platformSchema = z.object({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

export const descriptorSchema = z.object({
  mediaType: z.string().min(1).max(255),
  digest: z.string().refine(isDigest, { message: 'not a valid sha256/sha512 digest' }),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
  data: z.string().optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema).max(10_000),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema).max(10_000),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

const historySchema = z.object({
  created: z.string().optional(),
  author: z.string().optional(),
  created_by: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

const stringMap = z.record(z.string(), z.object({}).loose());

/** The runtime part of an image config (Docker's and OCI's share these names). */
export const containerConfigSchema = z
  .object({
    User: z.string().optional(),
    ExposedPorts: stringMap.nullable().optional(),
    Env: z.array(z.string()).nullable().optional(),
    Entrypoint: z.array(z.string()).nullable().optional(),
    Cmd: z.array(z.string()).nullable().optional(),
    Volumes: stringMap.nullable().optional(),
    WorkingDir: z.string().optional(),
    Labels: z.record(z.string(), z.string()).nullable().optional(),
    StopSignal: z.string().optional(),
  })
  .loose();

export const imageConfigSchema = z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string().min(1),
    os: z.string().min(1),
    'os.version': z.string().optional(),
    'os.features': z.array(z.string()).optional(),
    variant: z.string().optional(),
    config: containerConfigSchema.nullable().optional(),
    rootfs: z.object({
      type: z.literal('layers'),
      diff_ids: z.array(z.string().refine(isDigest, { message: 'not a valid sha256/sha512 digest' })),
    }),
    history: z.array(historySchema).optional(),
  })
  .loose();

export type ImageIndex = z.infer<typeof indexSchema> & { mediaType: string };
export type ImageManifest = z.infer<typeof manifestSchema> & { mediaType: string };
export type ImageConfig = z.infer<typeof imageConfigSchema>;
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

export type Parsed =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

function invalid(what: string, why: string): BerthError {
  return new BerthError('image', 'invalid-argument', `${what}: ${why}`);
}

function zodMessage(e: z.ZodError): string {
  return e.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`)
    .join('; ');
}

const schema1Message =
  'schema 1 image manifests are not supported (Docker deprecated them in 2017 and removed them in 2023); ' +
  'rebuild the image or push it again with a current Docker or skopeo to convert it to schema 2 / OCI';

// Registries answer with these when they know no better; they say nothing about the kind.
const genericTypes = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

function parseJson(data: Uint8Array, what: string, limit: number): unknown {
  if (data.length > limit) {
    throw invalid(what, `${data.length} bytes is over the ${limit}-byte limit; refusing to parse it`);
  }
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
  } catch (e) {
    throw invalid(what, `not valid JSON (${(e as Error).message})`);
  }
}

export interface ParseOptions {
  /** The media type announced by the descriptor or the Content-Type header. */
  mediaType?: string;
  /** Named in error messages: "manifest sha256:...", "docker.io/library/busybox:latest". */
  what?: string;
}

/** Parses an index or manifest of any supported kind. */
export function parseManifest(data: Uint8Array, opts: ParseOptions = {}): Parsed {
  const what = opts.what ?? 'manifest';
  const declared = (opts.mediaType ?? '').split(';')[0]!.trim();
  if (isSchema1Type(declared)) throw new BerthError('image', 'failed-precondition', `${what}: ${schema1Message}`);
  const json = parseJson(data, what, MAX_MANIFEST_SIZE);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(what, 'not a JSON object');
  const body = json as Record<string, unknown>;
  const bodyType = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (body.schemaVersion === 1 || (bodyType !== undefined && isSchema1Type(bodyType))) {
    throw new BerthError('image', 'failed-precondition', `${what}: ${schema1Message}`);
  }
  if (!genericTypes.has(declared) && !isIndexType(declared) && !isManifestType(declared)) {
    throw invalid(what, `wrong media type "${declared}": expected an image index or manifest`);
  }
  if (bodyType !== undefined && !isIndexType(bodyType) && !isManifestType(bodyType)) {
    throw invalid(what, `wrong media type "${bodyType}" in the document: expected an image index or manifest`);
  }
  if (bodyType !== undefined && isIndexType(declared) !== isIndexType(bodyType) && !genericTypes.has(declared)) {
    throw invalid(what, `announced as ${declared} but the document says ${bodyType}`);
  }
  let mediaType = bodyType ?? (genericTypes.has(declared) ? '' : declared);
  if (mediaType === '') {
    // OCI allows mediaType to be absent: tell an index from a manifest by shape.
    if (Array.isArray(body.manifests)) mediaType = MediaType.OciIndex;
    else if (body.config && typeof body.config === 'object') {
      const cmt = (body.config as Record<string, unknown>).mediaType;
      mediaType = cmt === MediaType.DockerConfig ? MediaType.DockerManifest : MediaType.OciManifest;
    } else throw invalid(what, 'neither an index (no "manifests") nor a manifest (no "config")');
  }
  if (mediaType.startsWith('application/vnd.docker.') && bodyType === undefined) {
    throw invalid(what, `Docker ${mediaType} must name its mediaType in the document`);
  }
  if (isIndexType(mediaType)) {
    const r = indexSchema.safeParse(body);
    if (!r.success) throw invalid(what, `invalid image index: ${zodMessage(r.error)}`);
    return { kind: 'index', mediaType, index: { ...r.data, mediaType } };
  }
  const r = manifestSchema.safeParse(body);
  if (!r.success) throw invalid(what, `invalid image manifest: ${zodMessage(r.error)}`);
  noDocumentTypes(r.data, what);
  return { kind: 'manifest', mediaType, manifest: { ...r.data, mediaType } };
}

/**
 * A config or layer announced as an index or manifest would be walked as one
 * (by gc, image sizes, push and export) and its bytes parsed as a document:
 * refused where the manifest enters, naming the descriptor.
 */
function noDocumentTypes(m: z.infer<typeof manifestSchema>, what: string): void {
  const isDoc = (mt: string) => isIndexType(mt) || isManifestType(mt);
  if (isDoc(m.config.mediaType))
    throw invalid(what, `config ${m.config.digest} has the media type of an index or manifest (${m.config.mediaType})`);
  m.layers.forEach((l, i) => {
    if (isDoc(l.mediaType))
      throw invalid(what, `layers[${i}] ${l.digest} has the media type of an index or manifest (${l.mediaType})`);
  });
}

export function parseIndex(data: Uint8Array, opts: ParseOptions = {}): ImageIndex {
  const p = parseManifest(data, opts);
  if (p.kind !== 'index') throw invalid(opts.what ?? 'index', `expected an image index, got ${p.mediaType}`);
  return p.index;
}

export function parseImageManifest(data: Uint8Array, opts: ParseOptions = {}): ImageManifest {
  const p = parseManifest(data, opts);
  if (p.kind !== 'manifest') throw invalid(opts.what ?? 'manifest', `expected an image manifest, got ${p.mediaType}`);
  return p.manifest;
}

export function parseImageConfig(data: Uint8Array, opts: { what?: string } = {}): ImageConfig {
  const what = opts.what ?? 'image config';
  const json = parseJson(data, what, MAX_CONFIG_SIZE);
  const r = imageConfigSchema.safeParse(json);
  if (!r.success) throw invalid(what, `invalid image config: ${zodMessage(r.error)}`);
  return r.data;
}

/** Validates one descriptor from untrusted input (API bodies, index.json). */
export function parseDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  const r = descriptorSchema.safeParse(v);
  if (!r.success) throw invalid(what, zodMessage(r.error));
  return r.data;
}

/** The children a content graph walk follows from a parsed index or manifest. */
export function childrenOf(p: Parsed): Descriptor[] {
  if (p.kind === 'index') return p.index.manifests;
  return [p.manifest.config, ...(p.manifest.layers as Descriptor[])];
}

/** The OCI manifest of an image made here (docker load of a `docker save` archive, import, commit). */
export function ociImageManifest(config: { digest: string; size: number }, layers: Descriptor[]): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers,
  };
}

/**
 * A layer of an archive (a `docker save` layer.tar, compressed or not) as an
 * OCI manifest lists it: its media type by its compression, and, when it is
 * uncompressed, its digest checked against the config's diff id (`what`
 * names it in the error).
 */
export function archiveLayer(
  blob: { digest: string; size: number },
  compression: Compression,
  diffId: string | undefined,
  what: string,
): Descriptor {
  if (compression === 'none' && blob.digest !== diffId)
    throw new BerthError(
      'image',
      'digest-mismatch',
      `${what} is ${blob.digest}, but the config says diff id ${diffId}`,
    );
  return { mediaType: layerTypeFor('oci', compression), digest: blob.digest, size: blob.size };
}
