// Manifests that lie about what they point to: an index inside an index
// (the only "loop" content addressing allows is a chain), a descriptor whose
// size or digest is not its document's, and media types that say one kind of
// document where another is expected (config as a manifest, a layer as an
// index). Each pull is refused naming the descriptor, and the store keeps
// nothing it could not use.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pullImage } from '../../../src/image/pull.js';
import { buildImage, hostArch, sha256, type BuiltImage } from '../../helpers/registry.js';
import { scratchStores } from '../../helpers/stores.js';
import { addImage, startFakeRegistry, type FakeRegistry } from './fake-registry.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let fake: FakeRegistry;
let img: BuiltImage;
const { newStore } = scratchStores('berth-hostile-media-');
const opts = { credentials: async () => undefined, retryBaseMs: 5, retries: 2 };

/** Manifests served by tag or digest from `docs` (each with its media type); anything else is the registry's own. */
function serve(docs: Map<string, { body: Buffer; mediaType: string }>): void {
  fake.hooks.manifest = (req: IncomingMessage, res: ServerResponse) => {
    const ref = decodeURIComponent(/\/manifests\/([^/]+)$/.exec(req.url ?? '')?.[1] ?? '');
    const doc = docs.get(ref);
    if (!doc) return false;
    res.writeHead(200, {
      'content-type': doc.mediaType,
      'content-length': doc.body.length,
      'docker-content-digest': sha256(doc.body),
    });
    res.end(req.method === 'HEAD' ? undefined : doc.body);
    return true;
  };
}

/** A document: its bytes, its digest, and a descriptor to it (with `size` when it must lie). */
function doc(value: unknown, mediaType: string, size?: number) {
  const body = Buffer.from(JSON.stringify(value));
  return {
    body,
    mediaType,
    digest: sha256(body),
    desc: { mediaType, digest: sha256(body), size: size ?? body.length },
  };
}

const platform = () => ({ os: 'linux', architecture: hostArch() });

/** The pull of x/app:hostile is refused with `code` and `message`; the store holds nothing but what is listed in `kept`. */
async function refused(code: string, message: RegExp): Promise<void> {
  const store = newStore();
  await assert.rejects(
    pullImage(`${fake.host}/x/app:hostile`, { store, registryOptions: opts }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
  // Nothing an image could be made of: no config, no layer, no image manifest.
  const held = (await store.list()).map((b) => b.digest);
  for (const d of [img.config.digest, ...img.layers.map((l) => l.digest)]) assert.ok(!held.includes(d), d);
}

before(async () => {
  fake = await startFakeRegistry();
  img = buildImage({});
  addImage(fake, 'v1', img);
});
beforeEach(() => fake.reset());
after(async () => {
  await fake?.stop();
});

test('an index whose entry is another index (a chain of indexes) is refused naming the entry', async () => {
  const inner = doc(
    { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...img.manifest, platform: platform() }] },
    OCI_INDEX,
  );
  const outer = doc(
    { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...inner.desc, platform: platform() }] },
    OCI_INDEX,
  );
  serve(
    new Map([
      ['hostile', outer],
      [outer.digest, outer],
      [inner.digest, inner],
    ]),
  );
  await refused('invalid-argument', new RegExp(`index entry ${inner.digest} is another index`));
});

test("an index entry whose size is not its manifest's is refused", async () => {
  const real = { body: img.manifestBytes, mediaType: OCI_MANIFEST };
  for (const size of [img.manifestBytes.length - 10, img.manifestBytes.length + 10]) {
    const idx = doc(
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...img.manifest, size, platform: platform() }],
      },
      OCI_INDEX,
    );
    serve(
      new Map([
        ['hostile', idx],
        [idx.digest, idx],
        [img.manifest.digest, real],
      ]),
    );
    await refused('digest-mismatch', new RegExp(`expected ${size} bytes, got ${img.manifestBytes.length}`));
  }
});

test('media type confusion: a config that says it is a manifest, a layer that says it is an index', async () => {
  const base = JSON.parse(img.manifestBytes.toString()) as {
    config: { mediaType: string };
    layers: { mediaType: string }[];
  };
  const configAsManifest = doc({ ...base, config: { ...base.config, mediaType: OCI_MANIFEST } }, OCI_MANIFEST);
  const only = (d: { body: Buffer; mediaType: string; digest: string }) =>
    serve(
      new Map([
        ['hostile', d],
        [d.digest, d],
      ]),
    );
  only(configAsManifest);
  await refused('invalid-argument', /config sha256:[0-9a-f]+ has the media type of an index or manifest/);

  const layerAsIndex = doc(
    { ...base, layers: base.layers.map((l, i) => (i === 0 ? { ...l, mediaType: OCI_INDEX } : l)) },
    OCI_MANIFEST,
  );
  only(layerAsIndex);
  await refused('invalid-argument', /layers\[0\] sha256:[0-9a-f]+ has the media type of an index or manifest/);

  // A manifest served as an index (its header and its body disagree).
  only({ body: img.manifestBytes, mediaType: OCI_INDEX, digest: img.manifest.digest });
  await refused('invalid-argument', /Content-Type says .*index.* but the manifest says mediaType .*manifest/);
});
