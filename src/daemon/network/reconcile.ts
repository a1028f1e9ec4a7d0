// The start of the networks: the predefined networks made, the kernel
// brought back in line with the state document. This is the clean-up after
// a crash: bridges re-made (after a reboot), endpoints whose veth died
// dropped with their leases, interfaces with Berth's names the state does not
// know deleted, published ports held again; the firewall is re-rendered by
// the caller right after.

import { access, readFile, writeFile } from 'node:fs/promises';
import { checkOverlap, makePool, pickSubnet, type AddressPool } from './ipam.js';
import { parseCidr } from './ipv4.js';
import { deleteLink, ensureBridge, linkExists, listLinks } from './links.js';
import { hostRoutes, newId } from './names.js';
import type { PortHolds } from './ports.js';
import type { NetState, NetworkRecord } from './state.js';

export const OPT_NAME = 'com.docker.network.bridge.name';
export const OPT_MTU = 'com.docker.network.driver.mtu';
export const OPT_MASQ = 'com.docker.network.bridge.enable_ip_masquerade';

export interface NetworksConfig {
  /** Where the state document lives (e.g. <data-root>/network). */
  dataDir: string;
  /** The default `bridge` network; null for none (dockerd's --bridge=none). */
  defaultBridge?: { name?: string; subnet?: string; gateway?: string; mtu?: number } | null;
  /** Prefix of Berth's iptables chains (BERTH, BERTH-FORWARD, ...). */
  chainPrefix?: string;
  /** Prefix of the bridges and veths Berth names itself (at most 6 characters). */
  ifPrefix?: string;
  /** dockerd's --default-address-pools: where networks without a subnet (and the default bridge without one) take theirs. */
  addressPools?: AddressPool[];
  /** dockerd's --iptables: false leaves the firewall alone (no chains, no rules: no NAT, no published ports). */
  iptables?: boolean;
  /** dockerd's --ip-forward: false leaves net.ipv4.ip_forward as the host has it. */
  ipForward?: boolean;
  /** Where the repairs made at open are told, and each attach's and release's step timings (debug); silent when absent. */
  log?: (level: 'debug' | 'info' | 'warning', msg: string, fields: Record<string, unknown>) => void;
}

export interface ReconcileCtx {
  state: NetState;
  cfg: NetworksConfig;
  ifPrefix: string;
  holds: PortHolds;
  save(): Promise<void>;
}

export function predefinedNetwork(name: string, driver: NetworkRecord['driver']): NetworkRecord {
  return {
    id: newId(),
    name,
    driver,
    bridge: '',
    subnet: '',
    gateway: '',
    internal: false,
    masquerade: false,
    mtu: 0,
    labels: {},
    options: {},
    created: new Date().toISOString(),
    predefined: true,
  };
}

/** True when the configured default bridge differs from the one the state holds. */
function changedDefault(
  existing: NetworkRecord,
  def: { name?: string; subnet?: string; gateway?: string; mtu?: number },
): boolean {
  if (existing.bridge !== (def.name ?? 'berth0') || existing.mtu !== (def.mtu ?? 1500)) return true;
  // Without a configured subnet, the one picked at the first start stays.
  if (!def.subnet) return false;
  const pool = makePool({ subnet: def.subnet, gateway: def.gateway });
  return existing.subnet !== pool.subnet || existing.gateway !== pool.gateway;
}

export async function reconcile(ctx: ReconcileCtx): Promise<void> {
  const s = ctx.state;
  const log = ctx.cfg.log ?? (() => undefined);
  const bridges = (): NetworkRecord[] => Object.values(s.networks).filter((x) => x.driver === 'bridge');
  const byName = new Map(Object.values(s.networks).map((x) => [x.name, x]));
  for (const [name, driver] of [
    ['host', 'host'],
    ['none', 'null'],
  ] as const) {
    if (!byName.has(name)) {
      const rec = predefinedNetwork(name, driver);
      s.networks[rec.id] = rec;
    }
  }
  const def = ctx.cfg.defaultBridge === undefined ? {} : ctx.cfg.defaultBridge;
  const existingDef = byName.get('bridge');
  if (def && !existingDef) {
    // No subnet configured: dockerd's first default pool that no host route covers (172.17.0.0/16 on most
    // hosts; 172.18... where a docker0 already has it), so a host's own route is never shadowed.
    const subnet = def.subnet ?? pickSubnet(bridges(), await hostRoutes(), ctx.cfg.addressPools);
    const pool = makePool({ subnet, gateway: def.subnet ? def.gateway : undefined });
    checkOverlap(pool.subnet, bridges());
    const rec = predefinedNetwork('bridge', 'bridge');
    Object.assign(rec, {
      bridge: def.name ?? 'berth0',
      subnet: pool.subnet,
      gateway: pool.gateway,
      masquerade: true,
      mtu: def.mtu ?? 1500,
    });
    // The options dockerd shows on its default network.
    rec.options = {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': 'true',
      [OPT_MASQ]: 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      [OPT_NAME]: rec.bridge,
      [OPT_MTU]: String(rec.mtu),
    };
    s.networks[rec.id] = rec;
  } else if (existingDef && (!def || changedDefault(existingDef, def))) {
    // The default network was turned off or given another bridge or subnet
    // (--bridge, --bip): its containers lose it, and it is made anew below.
    for (const [k, ep] of Object.entries(s.endpoints)) if (ep.networkId === existingDef.id) delete s.endpoints[k];
    delete s.networks[existingDef.id];
    await ctx.save();
    await deleteLink(existingDef.bridge);
    log('info', 'default bridge network changed by the configuration: made anew', { network: existingDef.id });
    if (def) return reconcile(ctx);
  }
  await ctx.save();
  if (
    ctx.cfg.ipForward !== false &&
    (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8').then(
      (t) => t.trim() !== '1',
      () => false,
    ))
  ) {
    // Routing between the bridges and the host's uplink, as dockerd turns it on.
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
  }
  for (const net of bridges()) {
    await ensureBridge({ name: net.bridge, gateway: net.gateway, bits: parseCidr(net.subnet).bits, mtu: net.mtu });
  }
  // An endpoint whose veth is gone lost its container (the namespace died, or the host rebooted).
  for (const [k, ep] of Object.entries(s.endpoints)) {
    if (!(await linkExists(ep.hostVeth))) {
      delete s.endpoints[k];
      log('info', 'endpoint dropped: its veth is gone', {
        container: ep.containerId,
        network: ep.networkId,
        ip: ep.ip,
      });
    }
  }
  for (const [id, sb] of Object.entries(s.sandboxes)) {
    const hasEp = Object.values(s.endpoints).some((e) => e.containerId === id);
    const alive = await access(sb.netnsPath).then(
      () => true,
      () => false,
    );
    if (!hasEp && !alive) delete s.sandboxes[id];
  }
  await ctx.save();
  // The published ports are held again. One a host process took while no
  // berthd held it stays mapped (the rule still wins for its packets).
  for (const e of Object.values(s.endpoints)) {
    for (const m of e.ports) {
      if (!(await ctx.holds.hold(m))) {
        log('warning', 'published port is bound by another process; the mapping stays', {
          container: e.containerId,
          port: `${m.hostIp}:${m.hostPort}/${m.proto}`,
        });
      }
    }
  }
  // Leftovers of a crash: interfaces with Berth's names that the state does not know.
  const known = new Set([...bridges().map((x) => x.bridge), ...Object.values(s.endpoints).map((e) => e.hostVeth)]);
  for (const l of await listLinks(ctx.ifPrefix)) {
    const ours = l.name.startsWith(`${ctx.ifPrefix}b`) || l.name.startsWith(`${ctx.ifPrefix}v`);
    if (ours && !known.has(l.name) && (l.kind === 'bridge' || l.kind === 'veth')) {
      await deleteLink(l.name);
      log('info', 'stale interface removed', { link: l.name, kind: l.kind });
    }
  }
}
