// IP addresses against CIDR ranges (insecure-registry ranges, NO_PROXY):
// its own module, as both hosts.ts and proxy.ts need it and transport.ts
// needs proxy.ts.

import { isIP } from 'node:net';

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

function ipv6ToBigInt(ip: string): bigint {
  let s = ip;
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4?.[1]) {
    const n = ipv4ToInt(v4[1]);
    s = s.slice(0, -v4[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

/** True when `ip` is inside `cidr` (IPv4 or IPv6; IPv4-mapped IPv6 counts as IPv4). */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [net, bitsStr] = cidr.split('/') as [string, string | undefined];
  let addr = ip;
  const mapped = addr.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped?.[1]) addr = mapped[1];
  const fam = isIP(addr);
  if (fam === 0 || fam !== isIP(net)) return false;
  const total = fam === 4 ? 32 : 128;
  const bits = bitsStr === undefined ? total : Number(bitsStr);
  if (!Number.isInteger(bits) || bits < 0 || bits > total) return false;
  if (fam === 4) {
    if (bits === 0) return true;
    const mask = (0xffffffff << (32 - bits)) >>> 0;
    return (ipv4ToInt(addr) & mask) >>> 0 === (ipv4ToInt(net) & mask) >>> 0;
  }
  const shift = BigInt(128 - bits);
  return ipv6ToBigInt(addr) >> shift === ipv6ToBigInt(net) >> shift;
}
