// dockerd's --bridge and --bip turned into the network library's default
// bridge: --bridge none turns it off, --bip a.b.c.d/n is the gateway's
// address with the subnet's prefix length.

import { BerthError } from '../../common/errors.js';
import type { NetworksConfig } from '../network/index.js';

/** `cfg`: berthd's settings (config.ts's DaemonConfig; named by shape, config.ts calls this). */
export function defaultBridgeOf(cfg: { bridge?: string; bip?: string }): NetworksConfig['defaultBridge'] {
  if (cfg.bridge === 'none') return null;
  const out: { name?: string; subnet?: string; gateway?: string } = {};
  if (cfg.bridge) {
    if (cfg.bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(cfg.bridge))
      throw new BerthError('berthd', 'invalid-argument', `bridge: invalid interface name "${cfg.bridge}"`, {
        field: 'bridge',
      });
    out.name = cfg.bridge;
  }
  if (cfg.bip) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cfg.bip);
    const octets = m ? m.slice(1, 5).map(Number) : [];
    const bits = m ? Number(m[5]) : -1;
    if (!m || octets.some((o) => o > 255) || bits < 1 || bits > 30)
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `bip: "${cfg.bip}" is not an IPv4 address with a prefix (a.b.c.d/n, n ≤ 30)`,
        {
          field: 'bip',
        },
      );
    const ip = octets.reduce((a, o) => a * 256 + o, 0);
    const mask = (0xffffffff << (32 - bits)) >>> 0;
    const base = (ip & mask) >>> 0;
    if (ip === base || ip === (base | (~mask >>> 0)) >>> 0)
      throw new BerthError('berthd', 'invalid-argument', `bip: ${cfg.bip} is the network's or the broadcast address`, {
        field: 'bip',
      });
    const fmt = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    out.subnet = `${fmt(base)}/${bits}`;
    out.gateway = fmt(ip);
  }
  return out;
}
