// Platforms (os/architecture/variant): the host's, normalised the way
// containerd normalises them (x86_64 is amd64, aarch64 is arm64, arm64's
// default variant v8 is the same as none, plain arm means arm/v7), and the
// choice of one manifest from an index for a wanted platform.

import { arch as hostArch } from 'node:os';
import { BerthError } from '../common/errors.js';
import type { Descriptor, Platform } from './content/types.js';

export interface NormalPlatform {
  os: string;
  architecture: string;
  variant: string; // '' when none
}

export function normalizeOs(os: string): string {
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

export function normalizeArch(architecture: string, variant = ''): { architecture: string; variant: string } {
  const a = architecture.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
    case 'i686':
    case '386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      return { architecture: 'arm64', variant: v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (/^[5-8]$/.test(v)) v = `v${v}`;
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: a, variant: v };
  }
}

export function normalizePlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): NormalPlatform {
  return { os: normalizeOs(p.os), ...normalizeArch(p.architecture, p.variant ?? '') };
}

function nodeArch(): { architecture: string; variant: string } {
  const a = hostArch();
  switch (a) {
    case 'x64':
      return { architecture: 'amd64', variant: '' };
    case 'ia32':
      return { architecture: '386', variant: '' };
    case 'arm64':
      return { architecture: 'arm64', variant: '' };
    case 'arm': {
      const v = (process.config.variables as Record<string, unknown>).arm_version;
      return normalizeArch('arm', typeof v === 'string' || typeof v === 'number' ? String(v) : '7');
    }
    case 'ppc64':
      return { architecture: 'ppc64le', variant: '' };
    default:
      return { architecture: a, variant: '' };
  }
}

/** The platform of this host, normalised. */
export function hostPlatform(): NormalPlatform {
  return { os: normalizeOs(process.platform === 'linux' ? 'linux' : process.platform), ...nodeArch() };
}

/** "linux/arm64/v8" style; the variant is shown as written when given. */
export function formatPlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/** Parses "linux/amd64", "linux/arm/v7", "arm64" (os defaults to the host's). */
export function parsePlatform(s: string): NormalPlatform {
  const parts = s.split('/');
  if (parts.length > 3 || parts.some((x) => x === '')) {
    throw new BerthError('image', 'invalid-argument', `invalid platform "${s}": expected os/arch[/variant]`);
  }
  if (parts.length === 1) {
    const known = new Set(['linux', 'windows', 'darwin', 'freebsd']);
    if (known.has(parts[0]!.toLowerCase())) return { ...hostPlatform(), os: normalizeOs(parts[0]!) };
    return { os: hostPlatform().os, ...normalizeArch(parts[0]!) };
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

const armVariants = ['v8', 'v7', 'v6', 'v5'];

/**
 * How well `have` fits `want`: 0 is exact, larger numbers are compatible but
 * worse (an arm/v7 host can run arm/v6 images), undefined is no match.
 */
export function platformScore(
  want: NormalPlatform,
  have: Pick<Platform, 'os' | 'architecture' | 'variant'>,
): number | undefined {
  const h = normalizePlatform(have);
  if (h.os !== want.os) return undefined;
  if (want.architecture === 'arm64' && h.architecture === 'arm64') {
    if (h.variant === want.variant) return 0;
    // A generic arm64 image runs on any arm64; a v9 host runs v8 images.
    if (h.variant === '') return 1;
    return undefined;
  }
  if (h.architecture !== want.architecture) {
    // An arm64 host runs 32-bit arm images where the CPU supports them.
    if (want.architecture === 'arm64' && h.architecture === 'arm') {
      const i = armVariants.indexOf(h.variant);
      return i === -1 ? undefined : 10 + i;
    }
    return undefined;
  }
  if (h.variant === want.variant) return 0;
  if (want.architecture === 'arm') {
    const wi = armVariants.indexOf(want.variant);
    const hi = armVariants.indexOf(h.variant);
    if (wi !== -1 && hi > wi) return hi - wi;
    return undefined;
  }
  if (want.architecture === 'amd64') {
    // amd64 micro-architecture levels: v1 (none) runs anywhere, higher ones only on hosts that have them.
    const level = (v: string) => (v === '' ? 1 : Number(v.slice(1)) || 1);
    const d = level(want.variant) - level(h.variant);
    return d >= 0 ? d : undefined;
  }
  if (h.variant === '') return 1;
  return undefined;
}

/**
 * Picks the manifest for `want` from an index's entries: the best score, the
 * first entry on a tie (the order the image author chose). Throws not-found
 * listing the platforms on offer.
 */
export function selectManifest(manifests: Descriptor[], want: NormalPlatform, what = 'image'): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = Infinity;
  for (const m of manifests) {
    if (!m.platform) continue;
    const s = platformScore(want, m.platform);
    if (s !== undefined && s < bestScore) {
      best = m;
      bestScore = s;
    }
  }
  if (!best) {
    const offered = manifests
      .filter((m) => m.platform && m.platform.os !== 'unknown')
      .map((m) => formatPlatform(m.platform!));
    throw new BerthError(
      'image',
      'not-found',
      `${what}: no manifest for platform ${formatPlatform(want)} (available: ${offered.length ? offered.join(', ') : 'none'})`,
    );
  }
  return best;
}
