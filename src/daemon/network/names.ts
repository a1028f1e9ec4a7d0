// Names of what Berth makes in the host: every bridge and veth of a user
// network starts with the instance's prefix, so a clean-up after a crash can
// tell its own leftovers from the host's interfaces without guessing.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Cidr } from './ipv4.js';

/** Linux interface names are at most 15 bytes. */
const IFNAMSIZ = 15;

export function bridgeName(prefix: string, networkId: string): string {
  return `${prefix}b${networkId}`.slice(0, IFNAMSIZ);
}

export function vethName(prefix: string): string {
  return `${prefix}v${randomBytes(8).toString('hex')}`.slice(0, IFNAMSIZ);
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** The host's IPv4 routes (from /proc/net/route), so a picked subnet never shadows one. */
export async function hostRoutes(): Promise<Cidr[]> {
  const text = await readFile('/proc/net/route', 'utf8').catch(() => '');
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Little-endian hex words.
    const le = (h: string): number => {
      const n = parseInt(h, 16);
      return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | ((n >>> 24) & 255)) >>> 0;
    };
    const dest = le(f[1] as string);
    const mask = le(f[7] as string);
    let bits = 0;
    for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) bits++;
    out.push({ base: dest, bits });
  }
  return out;
}
