// /networks/*: list (with dockerd's filters), inspect, create, remove,
// prune, connect and disconnect, over the network library. Statuses and
// words are dockerd's: 403 for an overlapping pool, a network with active
// endpoints or a predefined one, 409 for a name taken, 404 for an unknown
// network or container.

import { z } from 'zod';
import { BerthError, messageOf } from '../../common/errors.js';
import type { ContainerManager } from '../containers/manager.js';
import type { Runtime } from '../containers/runtime.js';
import type { ContainerRecord } from '../containers/record.js';
import { filterMatch, labelMatch, parseFilters } from '../containers/views.js';
import { badRequest, HttpError } from '../http/errors.js';
import type { Router } from '../http/router.js';
import { dockerView, type NetworkRecord } from '../network/index.js';
import { checkAddress } from './service.js';

const IpamConfig = z.looseObject({
  Subnet: z.string().nullish(),
  IPRange: z.string().nullish(),
  Gateway: z.string().nullish(),
  AuxiliaryAddresses: z.record(z.string(), z.string()).nullish(),
});

const CreateBody = z.looseObject({
  Name: z.string(),
  CheckDuplicate: z.boolean().nullish(),
  Driver: z.string().nullish(),
  Scope: z.string().nullish(),
  Internal: z.boolean().nullish(),
  Attachable: z.boolean().nullish(),
  Ingress: z.boolean().nullish(),
  ConfigOnly: z.boolean().nullish(),
  ConfigFrom: z.looseObject({ Network: z.string().nullish() }).nullish(),
  EnableIPv4: z.boolean().nullish(),
  EnableIPv6: z.boolean().nullish(),
  IPAM: z
    .looseObject({
      Driver: z.string().nullish(),
      Config: z.array(IpamConfig).nullish(),
      Options: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  Options: z.record(z.string(), z.string()).nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
});

const ConnectBody = z.looseObject({
  Container: z.string(),
  EndpointConfig: z
    .looseObject({
      IPAMConfig: z.looseObject({ IPv4Address: z.string().optional() }).nullish(),
      Aliases: z.array(z.string()).nullish(),
    })
    .nullish(),
});

const DisconnectBody = z.looseObject({ Container: z.string(), Force: z.boolean().optional() });

function parse<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const p = schema.safeParse(raw ?? {});
  if (!p.success) {
    const i = p.error.issues[0]!;
    throw badRequest(`invalid ${what}: ${i.path.join('.') || 'body'}: ${i.message}`, i.path.join('.'));
  }
  return p.data;
}

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];
const builtin = (n: NetworkRecord) => n.predefined;

/** dockerd answers these with 403 Forbidden; the library's kinds say 409 or 403. */
function forbidden(e: unknown): never {
  const msg = messageOf(e);
  if (/Pool overlaps/.test(msg)) throw new HttpError(403, `invalid pool request: ${msg}`);
  if (/has active endpoints/.test(msg)) throw new HttpError(403, msg);
  throw e;
}

export function networkRoutes(router: Router, m: ContainerManager, rt: Runtime): void {
  const nets = m.s.nets.nets;
  const events = m.s.events;
  const nameOf = (id: string) => (m.has(id) ? m.get(id).Name.slice(1) : id);
  const view = (n: NetworkRecord) => dockerView(n, nets.endpointsOf(n.id), nameOf);

  router.add('GET', '/networks', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    for (const k of f.keys()) if (!LIST_FILTERS.includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
    let list = nets.list();
    const any = (k: string, pred: (v: string) => boolean) => !f.has(k) || f.get(k)!.some(pred);
    for (const t of f.get('type') ?? [])
      if (t !== 'custom' && t !== 'builtin') throw badRequest(`invalid filter: 'type'='${t}'`, 'filters');
    for (const d of f.get('dangling') ?? [])
      if (!['true', 'false', '1', '0'].includes(d)) throw badRequest(`invalid filter 'dangling=${d}'`, 'filters');
    list = list.filter(
      (n) =>
        any('name', (v) => filterMatch(v, n.name)) &&
        any('id', (v) => filterMatch(v, n.id)) &&
        any('driver', (v) => n.driver === v) &&
        any('scope', (v) => v === 'local') &&
        any('type', (v) => (v === 'builtin') === builtin(n)) &&
        any('dangling', (v) => (v === 'true' || v === '1') === (!builtin(n) && nets.endpointsOf(n.id).length === 0)) &&
        (f.get('label') ?? []).every((l) => labelMatch(n.labels, l)),
    );
    ctx.send(200, list.map(view));
  });

  router.add('GET', '/networks/{id}', async (ctx) => {
    const scope = ctx.query.get('scope');
    const n = nets.find(ctx.params.id!);
    if (scope && scope !== 'local') throw new BerthError('berthd', 'not-found', `network ${ctx.params.id} not found`);
    ctx.send(200, view(n));
  });

  router.add('POST', '/networks/create', async (ctx) => {
    const b = parse(CreateBody, await ctx.json(), 'network config');
    // dockerd's words for the predefined networks and their single-instance drivers
    if (['bridge', 'host', 'none'].includes(b.Name))
      throw new HttpError(403, `operation is not permitted on predefined ${b.Name} network `);
    if (b.Driver === 'host' || b.Driver === 'null')
      throw new HttpError(403, `only one instance of "${b.Driver}" network is allowed`);
    if (b.EnableIPv6) throw new HttpError(501, 'berthd does not support IPv6 networks yet (EnableIPv6)');
    if (b.EnableIPv4 === false) throw badRequest('berthd networks are IPv4 networks: EnableIPv4 cannot be false');
    if (b.Ingress || b.ConfigOnly || b.ConfigFrom?.Network)
      throw new HttpError(501, 'berthd has no ingress, config-only or config-from networks (they are swarm features)');
    if (b.Scope && b.Scope !== 'local') throw badRequest(`invalid scope "${b.Scope}": berthd networks are local`);
    if (b.IPAM?.Driver && b.IPAM.Driver !== 'default')
      throw new BerthError('berthd', 'not-found', `plugin "${b.IPAM.Driver}" not found`);
    const pools = (b.IPAM?.Config ?? []).filter((c) => !c.Subnet?.includes(':'));
    if (pools.length > 1) throw badRequest('berthd networks have one IPv4 pool: IPAM.Config has more', 'IPAM.Config');
    const pool = pools[0];
    if (pool && !pool.Subnet && (pool.Gateway || pool.IPRange))
      throw badRequest('a gateway or an IP range needs a subnet (--subnet)', 'IPAM.Config');
    if (pool?.AuxiliaryAddresses && Object.keys(pool.AuxiliaryAddresses).length)
      throw new HttpError(501, 'berthd does not support auxiliary addresses yet (--aux-address)');
    const net = await nets
      .create({
        name: b.Name,
        driver: b.Driver ?? undefined,
        subnet: pool?.Subnet || undefined,
        gateway: pool?.Gateway || undefined,
        ipRange: pool?.IPRange || undefined,
        internal: b.Internal ?? false,
        labels: b.Labels ?? {},
        options: b.Options ?? {},
      })
      .catch(forbidden);
    events.emit('network', 'create', net.id, { name: net.name, type: net.driver });
    m.s.log.info('network created', { network: net.id, name: net.name, subnet: net.subnet, bridge: net.bridge });
    ctx.send(201, { Id: net.id, Warning: '' });
  });

  router.add('DELETE', '/networks/{id}', async (ctx) => {
    const n = nets.find(ctx.params.id!);
    await nets.remove(n.id).catch(forbidden);
    events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
    m.s.log.info('network removed', { network: n.id, name: n.name });
    ctx.send(204);
  });

  router.add('POST', '/networks/prune', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    for (const k of f.keys())
      if (!['until', 'label', 'label!'].includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
    const until = f.get('until')?.[0];
    const limit = until ? untilTime(until) : undefined;
    const keep = (n: NetworkRecord) =>
      (limit !== undefined && Date.parse(n.created) >= limit) ||
      !(f.get('label') ?? []).every((l) => labelMatch(n.labels, l)) ||
      (f.get('label!') ?? []).some((l) => labelMatch(n.labels, l));
    const byName = new Map(nets.list().map((n) => [n.name, n.id]));
    const gone = await nets.prune(keep);
    for (const name of gone) events.emit('network', 'destroy', byName.get(name) ?? name, { name, type: 'bridge' });
    ctx.send(200, { NetworksDeleted: gone });
  });

  router.add('POST', '/networks/{id}/connect', async (ctx) => {
    const b = parse(ConnectBody, await ctx.json(), 'connect request');
    const net = nets.find(ctx.params.id!);
    const r = m.get(b.Container);
    checkConnectable(r, net, m.s.nets.modeOf(r).kind);
    const w = { Name: net.name } as { Name: string; IPv4Address?: string; Aliases?: string[] };
    const ip = b.EndpointConfig?.IPAMConfig?.IPv4Address;
    if (ip) {
      if (net.predefined)
        throw badRequest('user specified IP address is supported on user defined networks only', 'IPv4Address');
      checkAddress(net, ip);
      w.IPv4Address = ip;
    }
    if (b.EndpointConfig?.Aliases?.length) w.Aliases = b.EndpointConfig.Aliases;
    const attached = nets.endpointsOfContainer(r.Id).some((e) => e.networkId === net.id);
    if (attached || r.NetworkEndpoints?.[net.id])
      throw new HttpError(403, `endpoint with name ${r.Name.slice(1)} already exists in network ${net.name}`);
    if (rt.running(r)) {
      await nets.attach({
        containerId: r.Id,
        netnsPath: `/proc/${r.State.Pid}/ns/net`,
        network: net.id,
        ipv4: w.IPv4Address,
        aliases: w.Aliases,
      });
    }
    r.NetworkEndpoints = { ...(r.NetworkEndpoints ?? {}), [net.id]: w };
    await m.save(r);
    events.emit('network', 'connect', net.id, { container: r.Id, name: net.name, type: net.driver });
    m.s.log.info('container connected', { container: r.Id, network: net.id, running: rt.running(r) });
    ctx.send(200);
  });

  router.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const b = parse(DisconnectBody, await ctx.json(), 'disconnect request');
    const net = nets.find(ctx.params.id!);
    const r = m.get(b.Container);
    // dockerd refuses the host network's own container; any other is simply not on that network
    if (net.driver !== 'bridge' && (r.HostConfig.NetworkMode || 'default') === net.name)
      throw badRequest('container cannot be disconnected from host network or connected to host network');
    if (net.driver !== 'bridge') throw new HttpError(403, `container ${r.Id} is not connected to network ${net.name}`);
    const attached = nets.endpointsOfContainer(r.Id).some((e) => e.networkId === net.id);
    if (!attached && !r.NetworkEndpoints?.[net.id])
      throw new HttpError(403, `container ${r.Id} is not connected to network ${net.name}`);
    if (attached) await nets.detach(r.Id, net.id);
    const rest = { ...(r.NetworkEndpoints ?? {}) };
    delete rest[net.id];
    r.NetworkEndpoints = rest;
    await m.save(r);
    events.emit('network', 'disconnect', net.id, { container: r.Id, name: net.name, type: net.driver });
    m.s.log.info('container disconnected', { container: r.Id, network: net.id });
    ctx.send(200);
  });
}

function checkConnectable(r: ContainerRecord, net: NetworkRecord, mode: string): void {
  if (net.driver !== 'bridge')
    throw badRequest('container cannot be disconnected from host network or connected to host network');
  if (mode === 'host' || mode === 'container')
    throw badRequest(
      'container sharing network namespace with another container or host cannot be connected to any other network',
    );
  if (mode === 'none')
    throw badRequest(
      `container cannot be connected to multiple networks with one of the networks in private (none) mode (container ${r.Id.slice(0, 12)})`,
    );
}

/** `until`: a Unix time, an RFC 3339 date, or a Go duration before now ("24h", "10m"). */
function untilTime(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+)(h|m|s)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { h: 3600_000, m: 60_000, s: 1000 }[d[2] as 'h' | 'm' | 's'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`invalid filter 'until=${v}'`, 'filters');
  return t;
}
