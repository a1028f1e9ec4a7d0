// The networks of one berthd: create, inspect, list, remove and prune bridge
// networks, and attach containers' network namespaces to them. Every change
// is: update the state document and save it, then change the kernel, then
// re-render the firewall; a failed step undoes the ones before it, and a
// crash between steps is repaired by the reconcile that runs at open. A
// container's attach and release change the state in one short critical
// section and make their interfaces outside it (serial.ts), so containers
// starting together do not wait for each other's `ip` processes.

import { access } from 'node:fs/promises';
import { BerthError, messageOf } from '../../common/errors.js';
import { chainNames, forgetUdpFlows, removeAll, type Chains } from './firewall.js';
import { allocate, checkOverlap, makePool, pickSubnet } from './ipam.js';
import { formatIp, macFor, parseCidr, parseIp } from './ipv4.js';
import { attachVeth, deleteLink, ensureBridge, linkExists, loopbackUp, nextIfname } from './links.js';
import { bridgeName, hostRoutes, newId, vethName } from './names.js';
import { allocatePorts, PortHolds, type PortRequest } from './ports.js';
import { OPT_MASQ, OPT_MTU, OPT_NAME, reconcile, type NetworksConfig } from './reconcile.js';
import { StateFile, type EndpointRecord, type NetState, type NetworkRecord } from './state.js';
import { KeyedQueue, Queue, RuleLoads, StateWrites } from './serial.js';

export type { NetworksConfig } from './reconcile.js';

export interface CreateRequest {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export interface AttachRequest {
  containerId: string;
  /** The container's network namespace (e.g. /proc/PID/ns/net or a bind-mounted file). */
  netnsPath: string;
  /** Network name or id; 'bridge' and 'default' mean the default network. */
  network: string;
  ipv4?: string;
  ports?: PortRequest[];
  aliases?: string[];
}

export class Networks {
  /** One change of the state at a time. */
  private readonly queue = new Queue();
  /** One attach or release of a container at a time. */
  private readonly perContainer = new KeyedQueue();
  private readonly rules: RuleLoads;
  private readonly writes: StateWrites;
  private readonly holds = new PortHolds();
  readonly chains: Chains;
  readonly ifPrefix: string;

  private constructor(
    private readonly cfg: NetworksConfig,
    private readonly file: StateFile,
    private state: NetState,
  ) {
    this.chains = chainNames(cfg.chainPrefix ?? 'BERTH');
    this.writes = new StateWrites((durable) => this.file.save(this.state, { durable }));
    this.rules = new RuleLoads(
      {
        chains: this.chains,
        bridges: () => this.bridges(),
        endpoints: () => Object.values(this.state.endpoints),
      },
      cfg.iptables !== false,
    );
    this.ifPrefix = cfg.ifPrefix ?? 'bth';
    if (this.ifPrefix.length > 6 || !/^[a-z][a-z0-9]*$/.test(this.ifPrefix)) {
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `interface prefix "${this.ifPrefix}" must be 1-6 lower-case letters and digits`,
        { field: 'ifPrefix' },
      );
    }
  }

  /** Loads the state, makes the predefined networks, and brings the kernel in line (the clean-up after a crash). */
  static async open(cfg: NetworksConfig): Promise<Networks> {
    const file = new StateFile(cfg.dataDir);
    const n = new Networks(cfg, file, await file.load());
    await n.locked(() => n.reconcile());
    return n;
  }

  /** One change at a time: the state document and the kernel move together. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  /**
   * The state written (serial.ts: StateWrites, several changes in one write).
   * Network changes are fsynced; a container's endpoints coming and going are
   * run state (see StateFile.save).
   */
  private save(durable = true): Promise<void> {
    return this.writes.write(durable);
  }

  /** Milliseconds since `t0` at each step, logged at debug when `done` (where a slow start or exit spends its time). */
  private steps(what: string, containerId: string) {
    const t0 = performance.now();
    const at: Record<string, number> = {};
    return {
      mark: (step: string) => (at[step] = Math.round((performance.now() - t0) * 10) / 10),
      done: () => this.cfg.log?.('debug', `network ${what} steps`, { container: containerId, ms: at }),
    };
  }

  private bridges(): NetworkRecord[] {
    return Object.values(this.state.networks).filter((x) => x.driver === 'bridge');
  }

  /** The rules rendered whole from the state and loaded (serial.ts: RuleLoads). */
  private firewall(opts: { ensureJumps?: boolean; ifChanged?: boolean } = {}): Promise<void> {
    return this.rules.sync(opts);
  }

  private async reconcile(): Promise<void> {
    await reconcile({
      state: this.state,
      cfg: this.cfg,
      ifPrefix: this.ifPrefix,
      holds: this.holds,
      save: () => this.save(),
    });
    await this.firewall({ ensureJumps: true });
  }

  /** A network by id, id prefix or name, as dockerd resolves them. */
  find(idOrName: string): NetworkRecord {
    const all = Object.values(this.state.networks);
    const key = idOrName === 'default' ? 'bridge' : idOrName;
    const hit =
      all.find((x) => x.id === key) ??
      all.find((x) => x.name === key) ??
      (key.length > 0 ? all.filter((x) => x.id.startsWith(key)) : []);
    if (Array.isArray(hit)) {
      if (hit.length === 1) return hit[0] as NetworkRecord;
      if (hit.length > 1)
        throw new BerthError(
          'berthd',
          'invalid-argument',
          `network ${idOrName} is ambiguous (${hit.length} matches found based on ID prefix)`,
        );
      throw new BerthError('berthd', 'not-found', `network ${idOrName} not found`);
    }
    return hit;
  }

  list(): NetworkRecord[] {
    return Object.values(this.state.networks).map((x) => ({ ...x }));
  }

  endpointsOf(networkId: string): EndpointRecord[] {
    return Object.values(this.state.endpoints).filter((e) => e.networkId === networkId);
  }

  endpointsOfContainer(containerId: string): EndpointRecord[] {
    return Object.values(this.state.endpoints).filter((e) => e.containerId === containerId);
  }

  create(req: CreateRequest): Promise<NetworkRecord> {
    return this.locked(async () => {
      const driver = req.driver || 'bridge';
      if (driver !== 'bridge') {
        throw new BerthError('berthd', 'not-found', `plugin "${driver}" not found`, { field: 'Driver' });
      }
      if (!req.name)
        throw new BerthError('berthd', 'invalid-argument', 'network name cannot be empty', { field: 'Name' });
      if (Object.values(this.state.networks).some((x) => x.name === req.name)) {
        throw new BerthError('berthd', 'already-exists', `network with name ${req.name} already exists`, {
          field: 'Name',
        });
      }
      const opts = req.options ?? {};
      const subnet = req.subnet ?? pickSubnet(this.bridges(), await hostRoutes(), this.cfg.addressPools);
      const pool = makePool({ subnet, gateway: req.gateway, ipRange: req.ipRange });
      checkOverlap(pool.subnet, this.bridges());
      const id = newId();
      const bridge = opts[OPT_NAME] ?? bridgeName(this.ifPrefix, id);
      if (bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(bridge)) {
        throw new BerthError('berthd', 'invalid-argument', `invalid bridge name "${bridge}"`, { field: OPT_NAME });
      }
      if (this.bridges().some((x) => x.bridge === bridge) || (await linkExists(bridge))) {
        throw new BerthError('berthd', 'already-exists', `bridge name ${bridge} is already in use`, {
          field: OPT_NAME,
        });
      }
      const mtu = opts[OPT_MTU] ? Number(opts[OPT_MTU]) : 1500;
      if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
        throw new BerthError('berthd', 'invalid-argument', `invalid MTU "${opts[OPT_MTU]}"`, { field: OPT_MTU });
      }
      const rec: NetworkRecord = {
        id,
        name: req.name,
        driver: 'bridge',
        bridge,
        subnet: pool.subnet,
        gateway: pool.gateway,
        internal: req.internal ?? false,
        masquerade: opts[OPT_MASQ] !== 'false',
        mtu,
        labels: req.labels ?? {},
        options: opts,
        created: new Date().toISOString(),
        predefined: false,
      };
      if (pool.ipRange) rec.ipRange = pool.ipRange;
      this.state.networks[id] = rec;
      await this.save();
      try {
        await ensureBridge({ name: bridge, gateway: rec.gateway, bits: parseCidr(rec.subnet).bits, mtu });
        await this.firewall();
      } catch (e) {
        delete this.state.networks[id];
        await this.save();
        await deleteLink(bridge).catch(() => undefined);
        await this.firewall().catch(() => undefined);
        throw e;
      }
      return { ...rec };
    });
  }

  remove(idOrName: string): Promise<void> {
    return this.locked(async () => {
      const net = this.find(idOrName);
      if (net.predefined) {
        throw new BerthError(
          'berthd',
          'permission-denied',
          `${net.name} is a pre-defined network and cannot be removed`,
        );
      }
      if (this.endpointsOf(net.id).length > 0) {
        throw new BerthError(
          'berthd',
          'failed-precondition',
          `error while removing network: network ${net.name} id ${net.id} has active endpoints`,
        );
      }
      delete this.state.networks[net.id];
      await this.save();
      await this.firewall();
      await deleteLink(net.bridge);
    });
  }

  /** Removes every user network with no container attached (and matching `keep` false); returns their names. */
  async prune(keep: (n: NetworkRecord) => boolean = () => false): Promise<string[]> {
    const out: string[] = [];
    for (const net of this.list()) {
      if (net.predefined || keep(net) || this.endpointsOf(net.id).length > 0) continue;
      try {
        await this.remove(net.id);
        out.push(net.name);
      } catch (e) {
        // A container attached in between: that network stays, as in dockerd.
        if (!(e instanceof BerthError && e.code === 'failed-precondition')) throw e;
      }
    }
    return out;
  }

  /** Attaches a running (or starting) container's namespace: the start of a container and `network connect` alike. */
  attach(req: AttachRequest): Promise<EndpointRecord> {
    return this.perContainer.run(req.containerId, async () => {
      const steps = this.steps('attach', req.containerId);
      const lease = await this.locked(() => this.lease(req));
      steps.mark('leased');
      const { net, ep } = lease;
      try {
        // the lease is in the document before the interface exists
        await this.save(false);
        steps.mark('saved');
        // The interfaces and the rules at once (both in place before the container runs); both
        // settle before any undo, so the undo's rules load after this one.
        await settled([
          attachVeth({
            netns: req.netnsPath,
            hostVeth: ep.hostVeth,
            ifname: ep.ifname,
            bridge: net.bridge,
            mtu: net.mtu,
            mac: ep.mac,
            ip: ep.ip,
            bits: parseCidr(net.subnet).bits,
            gateway: ep.gatewayRoute ? net.gateway : null,
          }).then(() => steps.mark('veth')),
          this.firewall().then(() => steps.mark('firewall')),
        ]);
        steps.done();
      } catch (e) {
        await this.locked(async () => {
          delete this.state.endpoints[lease.key];
          for (const m of ep.ports) await this.holds.release(m);
          // the next address goes back unless another attach moved it meanwhile
          if (net.nextIp === lease.nextIp) net.nextIp = lease.prevNext;
          if (!this.endpointsOfContainer(req.containerId).length) delete this.state.sandboxes[req.containerId];
          await this.save(false);
        });
        await deleteLink(ep.hostVeth).catch(() => undefined);
        await this.firewall().catch(() => undefined);
        throw new BerthError(
          'berthd',
          e instanceof BerthError ? e.code : 'internal',
          `failed to set up container networking on network ${net.name} for ${req.containerId}: ${messageOf(e)}`,
          { cause: e },
        );
      }
      return { ...ep };
    });
  }

  /**
   * An attach's checks and its lease (address, ports, interface names) in
   * the state; the caller writes it before any interface exists, so a crash
   * cannot hand this address out twice.
   */
  private async lease(req: AttachRequest) {
    const net = this.find(req.network);
    if (net.driver !== 'bridge') {
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `container cannot be connected to network ${net.name} (driver ${net.driver}): use the network mode`,
      );
    }
    const key = `${net.id}/${req.containerId}`;
    if (this.state.endpoints[key]) {
      throw new BerthError(
        'berthd',
        'already-exists',
        `endpoint with name ${req.containerId} already exists in network ${net.name}`,
      );
    }
    const mine = this.endpointsOfContainer(req.containerId);
    if (
      !(await access(req.netnsPath).then(
        () => true,
        () => false,
      ))
    ) {
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `network namespace ${req.netnsPath} of container ${req.containerId} does not exist`,
        { field: 'netnsPath' },
      );
    }
    const ifname = await nextIfname(
      req.netnsPath,
      mine.map((e) => e.ifname),
    );
    const used = new Set(this.endpointsOf(net.id).map((e) => e.ip));
    const ip = allocate(net, used, req.ipv4);
    const held = Object.values(this.state.endpoints).flatMap((e) => e.ports);
    // Last of the checks: from here on the ports are held, and every failure lets them go.
    const ports = await allocatePorts(req.ports ?? [], held, this.holds);
    const ep: EndpointRecord = {
      id: newId(),
      containerId: req.containerId,
      networkId: net.id,
      ifname,
      hostVeth: vethName(this.ifPrefix),
      ip,
      mac: macFor(parseIp(ip)),
      gatewayRoute: !net.internal && !mine.some((e) => e.gatewayRoute),
      ports,
      aliases: req.aliases ?? [],
    };
    this.state.endpoints[key] = ep;
    const prevNext = net.nextIp;
    net.nextIp = formatIp((parseIp(ip) + 1) >>> 0);
    this.state.sandboxes[req.containerId] ??= {
      containerId: req.containerId,
      netnsPath: req.netnsPath,
      mode: net.name,
    };
    return { net, ep, key, prevNext, nextIp: net.nextIp };
  }

  /** Removes the container's interface on that network (`network disconnect`, or a container that stopped). */
  detach(containerId: string, network: string): Promise<void> {
    return this.perContainer.run(containerId, () => this.detachLocked(containerId, network));
  }

  private detachLocked(containerId: string, network: string): Promise<void> {
    return this.locked(async () => {
      const net = this.find(network);
      const key = `${net.id}/${containerId}`;
      const ep = this.state.endpoints[key];
      if (!ep)
        throw new BerthError('berthd', 'not-found', `container ${containerId} is not connected to network ${net.name}`);
      delete this.state.endpoints[key];
      await this.save(false);
      await this.firewall();
      for (const m of ep.ports) await this.holds.release(m);
      await Promise.all([deleteLink(ep.hostVeth), forgetUdpFlows(ep.ip)]);
    });
  }

  /** The namespace of a container with `none`: only its loopback, up. */
  isolate(containerId: string, netnsPath: string): Promise<void> {
    return this.locked(async () => {
      await loopbackUp(netnsPath);
      this.state.sandboxes[containerId] = { containerId, netnsPath, mode: 'none' };
      await this.save(false);
    });
  }

  /** The namespace recorded for a container (its SandboxKey), if it has one. */
  sandboxOf(containerId: string): { containerId: string; netnsPath: string } | undefined {
    const sb = this.state.sandboxes[containerId];
    return sb ? { ...sb } : undefined;
  }

  /** `container:<id>`: the namespace to join, the other container's. */
  joinPath(containerId: string): string {
    const sb = this.state.sandboxes[containerId];
    if (!sb)
      throw new BerthError(
        'berthd',
        'not-found',
        `cannot join network of container ${containerId}: it has no network namespace known to berthd`,
      );
    return sb.netnsPath;
  }

  /** Everything of a container's networking goes (on stop or removal): interfaces, ports, rules, leases. */
  release(containerId: string): Promise<void> {
    return this.perContainer.run(containerId, async () => {
      const steps = this.steps('release', containerId);
      const eps = await this.locked(async () => {
        const mine = Object.entries(this.state.endpoints).filter(([, e]) => e.containerId === containerId);
        for (const [k] of mine) delete this.state.endpoints[k];
        delete this.state.sandboxes[containerId];
        // the rules still DNAT to the old address until the load below: a new holder of the port
        // has its own load to wait for before its container runs
        for (const [, e] of mine) for (const m of e.ports) await this.holds.release(m);
        return mine.map(([, e]) => e);
      });
      steps.mark('released');
      // A veth's deletion waits for the kernel (RCU grace periods, 15-25 ms): it goes while the
      // document is written and the rules change; the UDP flows are forgotten once no DNAT rule
      // can make them again.
      const links = settled(eps.map((e) => deleteLink(e.hostVeth)));
      try {
        await this.save(false);
        steps.mark('saved');
        await this.firewall({ ifChanged: true });
        steps.mark('firewall');
        await Promise.all(eps.map((e) => forgetUdpFlows(e.ip)));
      } finally {
        await links.catch(() => undefined);
      }
      await links;
      steps.mark('links');
      steps.done();
    });
  }

  /** Takes down everything this instance made, rules and bridges; the state is kept (a later open rebuilds). */
  shutdownAll(): Promise<void> {
    return this.locked(async () => {
      for (const e of Object.values(this.state.endpoints)) await deleteLink(e.hostVeth);
      for (const n of this.bridges()) await deleteLink(n.bridge);
      await this.rules.exclusive(() => removeAll(this.chains));
      await this.holds.releaseAll();
    });
  }

  /** berthd stops: the kernel keeps bridges, veths and rules (live-restore); only the port-holding sockets close. */
  close(): Promise<void> {
    return this.locked(() => this.holds.releaseAll());
  }
}

/** Waits for every promise, then fails with the first failure, if any. */
async function settled(ps: Promise<unknown>[]): Promise<void> {
  const out = await Promise.allSettled(ps);
  const bad = out.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}
