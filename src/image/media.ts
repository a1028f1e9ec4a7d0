// Media types of the OCI image spec and of Docker's image manifest v2 schema 2,
// and what each one means to Berth: is it an index, a manifest, a config, a
// layer (how compressed, may it be redistributed), or something refused.

import type { Compression } from '../common/compression.js';

export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  // Deprecated by image-spec 1.1 but still found in the wild.
  OciLayerNonDist: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNonDistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNonDistZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',

  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',

  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type { Compression } from '../common/compression.js';

const indexTypes = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
const manifestTypes = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const configTypes = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);
const schema1Types = new Set<string>([MediaType.DockerSchema1, MediaType.DockerSchema1Signed]);

const layerTypes: Record<string, { compression: Compression; nonDistributable: boolean }> = {
  [MediaType.OciLayer]: { compression: 'none', nonDistributable: false },
  [MediaType.OciLayerGzip]: { compression: 'gzip', nonDistributable: false },
  [MediaType.OciLayerZstd]: { compression: 'zstd', nonDistributable: false },
  [MediaType.OciLayerNonDist]: { compression: 'none', nonDistributable: true },
  [MediaType.OciLayerNonDistGzip]: { compression: 'gzip', nonDistributable: true },
  [MediaType.OciLayerNonDistZstd]: { compression: 'zstd', nonDistributable: true },
  [MediaType.DockerLayer]: { compression: 'none', nonDistributable: false },
  [MediaType.DockerLayerGzip]: { compression: 'gzip', nonDistributable: false },
  [MediaType.DockerLayerZstd]: { compression: 'zstd', nonDistributable: false },
  [MediaType.DockerLayerForeign]: { compression: 'none', nonDistributable: true },
  [MediaType.DockerLayerForeignGzip]: { compression: 'gzip', nonDistributable: true },
};

export function isIndexType(mt: string): boolean {
  return indexTypes.has(mt);
}

export function isManifestType(mt: string): boolean {
  return manifestTypes.has(mt);
}

export function isConfigType(mt: string): boolean {
  return configTypes.has(mt);
}

export function isSchema1Type(mt: string): boolean {
  return schema1Types.has(mt);
}

/** True for every layer media type Berth can unpack. */
export function isLayerType(mt: string): boolean {
  return layerTypes[mt] !== undefined;
}

/** The compression of a layer media type; throws for a type that is not a known layer. */
export function layerCompression(mt: string): Compression {
  const l = layerTypes[mt];
  if (!l) throw new Error(`not a layer media type: ${mt}`);
  return l.compression;
}

/**
 * Foreign (Docker) and non-distributable (OCI) layers: fetched from their
 * descriptor's `urls` rather than the registry, and never pushed to one
 * (distribution-spec and image-spec both say so).
 */
export function isNonDistributable(mt: string): boolean {
  return layerTypes[mt]?.nonDistributable ?? false;
}

/** The layer media type matching a manifest's family and a compression. */
export function layerTypeFor(family: 'oci' | 'docker', compression: Compression): string {
  if (family === 'oci') {
    return compression === 'gzip'
      ? MediaType.OciLayerGzip
      : compression === 'zstd'
        ? MediaType.OciLayerZstd
        : MediaType.OciLayer;
  }
  return compression === 'gzip'
    ? MediaType.DockerLayerGzip
    : compression === 'zstd'
      ? MediaType.DockerLayerZstd
      : MediaType.DockerLayer;
}

/** Sniffs a compression from the first bytes of a blob. */

/** The Accept header a registry client sends to get any manifest Berth reads. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
];
