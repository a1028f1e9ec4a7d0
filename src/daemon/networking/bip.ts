// dockerd's --bridge and --bip turned into the network library's default
// bridge: --bridge none turns it off, --bip a.b.c.d/n is the gateway's
// address with the subnet's prefix length.

import { BerthError } from '../../common/errors.js';
import type { NetworksConfig } from '../network/index.js';
import { formatIp, parseIp } from '../network/ipv4.js';

function bad(field: string, msg: string): BerthError {
  return new BerthError('berthd', 'invalid-argument', `${field}: ${msg}`, { field });
}

/** `cfg`: berthd's settings (config.ts's DaemonConfig; named by shape, config.ts calls this). */
export function defaultBridgeOf(cfg: { bridge?: string; bip?: string }): NetworksConfig['defaultBridge'] {
  if (cfg.bridge === 'none') return null;
  const out: { name?: string; subnet?: string; gateway?: string } = {};
  if (cfg.bridge) {
    if (cfg.bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(cfg.bridge))
      throw bad('bridge', `invalid interface name "${cfg.bridge}"`);
    out.name = cfg.bridge;
  }
  if (cfg.bip) {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(cfg.bip);
    const bits = m ? Number(m[2]) : -1;
    let ip = -1;
    try {
      if (m) ip = parseIp(m[1]!, 'bip');
    } catch {
      ip = -1;
    }
    if (ip < 0 || bits < 1 || bits > 30)
      throw bad('bip', `"${cfg.bip}" is not an IPv4 address with a prefix (a.b.c.d/n, n ≤ 30)`);
    const mask = (0xffffffff << (32 - bits)) >>> 0;
    const base = (ip & mask) >>> 0;
    if (ip === base || ip === (base | (~mask >>> 0)) >>> 0)
      throw bad('bip', `${cfg.bip} is the network's or the broadcast address`);
    out.subnet = `${formatIp(base)}/${bits}`;
    out.gateway = formatIp(ip);
  }
  return out;
}
