// Address management for a bridge network. The leases are the endpoints in
// the state document, so an address is in use exactly when an endpoint holds
// it, and the document is saved before any interface is made: after a crash
// or restart the same leases are read back and never handed out again.

import { BerthError } from '../../common/errors.js';
import { contains, formatIp, last, overlaps, parseCidr, parseIp, type Cidr } from './ipv4.js';
import type { NetworkRecord } from './state.js';

export interface PoolRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

export interface Pool {
  subnet: string;
  gateway: string;
  ipRange?: string;
}

/** Validates a requested pool as dockerd does; fills the gateway with the subnet's first host. */
export function makePool(req: PoolRequest & { subnet: string }): Pool {
  const sub = parseCidr(req.subnet, 'Subnet');
  if (sub.bits > 30) {
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `invalid subnet ${req.subnet}: too small for a gateway and one container`,
      { field: 'Subnet' },
    );
  }
  let gw = sub.base + 1;
  if (req.gateway) {
    gw = parseIp(req.gateway, 'Gateway');
    if (!contains(sub, gw) || gw === sub.base || gw === last(sub)) {
      throw new BerthError('berthd', 'invalid-argument', `no matching subnet for gateway ${req.gateway}`, {
        field: 'Gateway',
      });
    }
  }
  const pool: Pool = { subnet: req.subnet, gateway: formatIp(gw) };
  if (req.ipRange) {
    const r = parseCidr(req.ipRange, 'IPRange');
    if (!contains(sub, r.base) || !contains(sub, last(r))) {
      throw new BerthError('berthd', 'invalid-argument', `no matching subnet for range ${req.ipRange}`, {
        field: 'IPRange',
      });
    }
    pool.ipRange = req.ipRange;
  }
  return pool;
}

/** The pool dockerd would refuse: one overlapping a network that exists. */
export function checkOverlap(subnet: string, networks: NetworkRecord[]): void {
  const s = parseCidr(subnet);
  for (const n of networks) {
    if (n.driver === 'bridge' && overlaps(s, parseCidr(n.subnet))) {
      throw new BerthError('berthd', 'already-exists', 'Pool overlaps with other one on this address space', {
        field: 'Subnet',
      });
    }
  }
}

/** A pool of subnets: `base` cut into subnets of prefix length `size` (dockerd's --default-address-pools). */
export interface AddressPool {
  base: string;
  size: number;
}

/** Checks a pool as dockerd does: a CIDR base, and a size between its prefix length and /30. */
export function checkAddressPool(p: AddressPool): void {
  const base = parseCidr(p.base, 'default-address-pools');
  if (!Number.isInteger(p.size) || p.size < base.bits || p.size > 30) {
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `default-address-pools: size ${p.size} of ${p.base} must be between ${base.bits} and 30`,
      { field: 'default-address-pools' },
    );
  }
}

/** The configured pools' subnets in order, or Docker's defaults: 172.17-31.0.0/16, then 192.168.0.0/20 steps. */
export function* candidatePools(pools?: AddressPool[]): Generator<string> {
  if (pools?.length) {
    for (const p of pools) {
      const base = parseCidr(p.base);
      const step = 2 ** (32 - p.size);
      for (let n = base.base; n <= last(base); n += step) yield `${formatIp(n)}/${p.size}`;
    }
    return;
  }
  for (let b = 17; b <= 31; b++) yield `172.${b}.0.0/16`;
  for (let c = 0; c < 256; c += 16) yield `192.168.${c}.0/20`;
}

/** The first pool subnet free of Berth's networks and of the host's routes. */
export function pickSubnet(networks: NetworkRecord[], hostRoutes: Cidr[], pools?: AddressPool[]): string {
  for (const cand of candidatePools(pools)) {
    const c = parseCidr(cand);
    if (hostRoutes.some((r) => r.bits > 0 && overlaps(r, c))) continue;
    if (networks.some((n) => n.driver === 'bridge' && overlaps(c, parseCidr(n.subnet)))) continue;
    return cand;
  }
  throw new BerthError(
    'berthd',
    'unavailable',
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
  );
}

/**
 * An address for a new endpoint: the requested one if it is free and in the
 * pool, else the next free one after the last handed out (round the range),
 * so a just-released address is not reused at once.
 */
export function allocate(net: NetworkRecord, used: Set<string>, requested?: string): string {
  const sub = parseCidr(net.subnet);
  const range = net.ipRange ? parseCidr(net.ipRange) : sub;
  const taken = (n: number): boolean =>
    n === sub.base || n === last(sub) || formatIp(n) === net.gateway || used.has(formatIp(n));
  if (requested) {
    const n = parseIp(requested, 'IPv4Address');
    if (!contains(sub, n)) {
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `requested address ${requested} is outside the subnet ${net.subnet}`,
        { field: 'IPv4Address' },
      );
    }
    if (taken(n))
      throw new BerthError('berthd', 'already-exists', `Address already in use: ${requested}`, {
        field: 'IPv4Address',
      });
    return requested;
  }
  const lo = range.base;
  const hi = last(range);
  let start = net.nextIp ? parseIp(net.nextIp) : lo;
  if (start < lo || start > hi) start = lo;
  const count = hi - lo + 1;
  for (let i = 0; i < count; i++) {
    const n = lo + ((start - lo + i) % count);
    if (!taken(n)) return formatIp(n);
  }
  throw new BerthError('berthd', 'unavailable', `no available IPv4 addresses on network ${net.name}`);
}
