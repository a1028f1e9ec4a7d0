import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseManifest,
  parseImageConfig,
  parseIndex,
  parseImageManifest,
  MAX_MANIFEST_SIZE,
} from '../../../src/image/manifest.js';
import { MediaType, isNonDistributable, layerCompression, isLayerType } from '../../../src/image/media.js';
import { compressionOf as detectCompression } from '../../../src/common/compression.js';
import { BerthError } from '../../../src/common/errors.js';

const D = (c: string) => 'sha256:' + c.repeat(64);
const enc = (v: unknown) => Buffer.from(JSON.stringify(v));

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: D('a'), size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: D('b'), size: 20 }],
};
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifest,
  config: { mediaType: MediaType.DockerConfig, digest: D('a'), size: 10 },
  layers: [{ mediaType: MediaType.DockerLayerGzip, digest: D('b'), size: 20 }],
};
const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    { mediaType: MediaType.DockerManifest, digest: D('c'), size: 5, platform: { architecture: 'amd64', os: 'linux' } },
    {
      mediaType: MediaType.DockerManifest,
      digest: D('d'),
      size: 5,
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
    },
  ],
};

function failsWith(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  });
}

test('parses OCI and Docker manifests, lists and indexes', () => {
  const m = parseManifest(enc(ociManifest), { mediaType: MediaType.OciManifest });
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MediaType.OciManifest);
  const d = parseImageManifest(enc(dockerManifest), { mediaType: MediaType.DockerManifest });
  assert.equal(d.layers[0]!.mediaType, MediaType.DockerLayerGzip);
  const l = parseIndex(enc(dockerList), { mediaType: MediaType.DockerManifestList });
  assert.equal(l.manifests.length, 2);
  assert.equal(l.manifests[1]!.platform!.variant, 'v8');
  // Registries often answer application/json or octet-stream; the document decides.
  assert.equal(parseManifest(enc(dockerList), { mediaType: 'application/json' }).kind, 'index');
  assert.equal(
    parseManifest(enc(ociManifest), { mediaType: 'application/vnd.oci.image.manifest.v1+json; charset=utf-8' }).kind,
    'manifest',
  );
});

test('OCI documents without mediaType are told apart by shape', () => {
  const { mediaType: _m, ...noType } = ociManifest;
  assert.equal(parseManifest(enc(noType)).mediaType, MediaType.OciManifest);
  const idx = { schemaVersion: 2, manifests: [] };
  assert.equal(parseManifest(enc(idx)).mediaType, MediaType.OciIndex);
  failsWith(() => parseManifest(enc({ schemaVersion: 2 })), 'invalid-argument', /neither an index/);
});

test('schema 1 is refused with a clear message', () => {
  const s1 = { schemaVersion: 1, name: 'library/busybox', tag: 'latest', fsLayers: [], history: [] };
  failsWith(() => parseManifest(enc(s1)), 'failed-precondition', /schema 1 .*not supported.*push it again/);
  failsWith(
    () => parseManifest(enc(s1), { mediaType: MediaType.DockerSchema1Signed }),
    'failed-precondition',
    /schema 1/,
  );
  failsWith(
    () => parseManifest(enc({ ...ociManifest, mediaType: MediaType.DockerSchema1 })),
    'failed-precondition',
    /schema 1/,
  );
});

test('absurd sizes are refused before parsing', () => {
  const big = Buffer.alloc(MAX_MANIFEST_SIZE + 1, 0x20);
  failsWith(() => parseManifest(big), 'invalid-argument', /over the 4194304-byte limit/);
  // A valid document just under the limit is fine.
  const pad = JSON.stringify(ociManifest).length;
  const ok = Buffer.from(
    JSON.stringify({ ...ociManifest, annotations: { x: 'y'.repeat(MAX_MANIFEST_SIZE - pad - 40) } }),
  );
  assert.ok(ok.length <= MAX_MANIFEST_SIZE);
  assert.equal(parseManifest(ok).kind, 'manifest');
});

test('wrong media types are refused', () => {
  failsWith(
    () => parseManifest(enc(ociManifest), { mediaType: MediaType.OciLayerGzip }),
    'invalid-argument',
    /wrong media type/,
  );
  failsWith(
    () => parseManifest(enc({ ...ociManifest, mediaType: MediaType.OciConfig })),
    'invalid-argument',
    /wrong media type/,
  );
  failsWith(
    () => parseManifest(enc(dockerList), { mediaType: MediaType.OciManifest }),
    'invalid-argument',
    /announced as/,
  );
  failsWith(() => parseIndex(enc(ociManifest)), 'invalid-argument', /expected an image index/);
});

test('malformed documents name the bad field', () => {
  failsWith(() => parseManifest(Buffer.from('{not json')), 'invalid-argument', /not valid JSON/);
  failsWith(() => parseManifest(Buffer.from('[]')), 'invalid-argument', /not a JSON object/);
  failsWith(() => parseManifest(enc({ ...ociManifest, schemaVersion: 3 })), 'invalid-argument', /schemaVersion/);
  failsWith(
    () =>
      parseManifest(
        enc({ ...ociManifest, layers: [{ mediaType: MediaType.OciLayer, digest: 'sha256:xyz', size: 1 }] }),
      ),
    'invalid-argument',
    /layers\.0\.digest/,
  );
  failsWith(
    () => parseManifest(enc({ ...ociManifest, config: { ...ociManifest.config, size: -1 } })),
    'invalid-argument',
    /config\.size/,
  );
  failsWith(
    () => parseManifest(enc({ ...ociManifest, config: { ...ociManifest.config, size: 1.5 } })),
    'invalid-argument',
    /config\.size/,
  );
  const { mediaType: _m, ...dockerNoType } = dockerManifest;
  failsWith(
    () => parseManifest(enc(dockerNoType), { mediaType: MediaType.DockerManifest }),
    'invalid-argument',
    /must name its mediaType/,
  );
});

test('image configs', () => {
  const cfg = {
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], Labels: null, Custom: 1 },
    rootfs: { type: 'layers', diff_ids: [D('e')] },
    history: [{ created_by: 'x' }],
    extra: true,
  };
  const c = parseImageConfig(enc(cfg));
  assert.deepEqual(c.config?.Cmd, ['/bin/sh']);
  assert.equal((c as Record<string, unknown>).extra, true, 'unknown fields are kept');
  failsWith(
    () => parseImageConfig(enc({ ...cfg, rootfs: { type: 'layers', diff_ids: ['nope'] } })),
    'invalid-argument',
    /diff_ids/,
  );
  failsWith(() => parseImageConfig(enc({ ...cfg, os: undefined })), 'invalid-argument', /os/);
});

test('layer media types: compression and non-distributable', () => {
  assert.equal(layerCompression(MediaType.OciLayer), 'none');
  assert.equal(layerCompression(MediaType.OciLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
  assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.DockerLayerForeignGzip), 'gzip');
  assert.ok(isNonDistributable(MediaType.DockerLayerForeignGzip));
  assert.ok(isNonDistributable(MediaType.OciLayerNonDistZstd));
  assert.ok(!isNonDistributable(MediaType.OciLayerGzip));
  assert.ok(!isLayerType(MediaType.OciConfig));
  assert.throws(() => layerCompression('application/x-tar'));
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from('bin/')), 'none');
});
