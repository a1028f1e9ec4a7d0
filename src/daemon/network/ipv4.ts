// IPv4 addresses and prefixes as numbers: the IPAM, the overlap checks and the
// MAC derivation all reason about ranges, which is integer arithmetic.

import { BerthError } from '../../common/errors.js';

export interface Cidr {
  /** The network address (host bits cleared). */
  base: number;
  bits: number;
}

function bad(field: string, value: string, why: string): BerthError {
  return new BerthError('berthd', 'invalid-argument', `invalid ${field} ${JSON.stringify(value)}: ${why}`, { field });
}

export function parseIp(s: string, field = 'address'): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw bad(field, s, 'not an IPv4 address');
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw bad(field, s, 'not an IPv4 address');
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** "10.1.2.0/24"; host bits set ("10.1.2.5/24") are refused as dockerd refuses them. */
export function parseCidr(s: string, field = 'subnet'): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) throw bad(field, s, 'not a CIDR (a.b.c.d/n)');
  const bits = Number(m[2]);
  if (bits > 32) throw bad(field, s, 'prefix length over 32');
  const ip = parseIp(m[1] as string, field);
  const base = (ip & mask(bits)) >>> 0;
  if (base !== ip) throw bad(field, s, `host bits are set (the network is ${formatIp(base)}/${bits})`);
  return { base, bits };
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function last(c: Cidr): number {
  return c.base + size(c) - 1;
}

export function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip <= last(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= last(b) && b.base <= last(a);
}

/** Docker's MAC for an address: 02:42 followed by the four bytes of the IPv4 address. */
export function macFor(ip: number): string {
  const bytes = [0x02, 0x42, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
