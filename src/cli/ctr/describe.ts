// What berth-ctr prints about an image, read through any ContentStore: the
// local store (daemonless) or an engine's content service (--address).

import {
  formatPlatform,
  hostPlatform,
  parseImageConfig,
  parsePlatform,
  readParsed,
  type ContentStore,
  type Descriptor,
  type NormalPlatform,
} from '../../image/storeless.js';

export function platformFlag(v: string | undefined): NormalPlatform {
  return v ? parsePlatform(v) : hostPlatform();
}

/** The platforms an image offers (an index's entries, or a manifest's config); [] when unreadable. */
export async function platformsOf(store: ContentStore, target: Descriptor): Promise<string[]> {
  try {
    const p = await readParsed(store, target);
    if (p.kind === 'index') {
      return p.index.manifests
        .filter((m) => m.platform && m.platform.os !== 'unknown')
        .map((m) => formatPlatform(m.platform!));
    }
    const cfg = parseImageConfig(await store.readBytes(p.manifest.config.digest));
    return [formatPlatform(cfg)];
  } catch {
    return [];
  }
}
