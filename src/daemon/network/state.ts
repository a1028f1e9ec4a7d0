// The networks' state: one JSON document in the data root, replaced by an
// atomic rename on every change, so a kill -9 at any instant leaves the old or
// the new document and never a torn one. The document is the truth: at start
// the kernel (bridges, veths, firewall rules) is brought back in line with it.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic.js';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';

export type Proto = 'tcp' | 'udp';

export interface NetworkRecord {
  id: string;
  name: string;
  /** 'bridge' for the networks Berth builds; 'host' and 'null' for the predefined ones. */
  driver: 'bridge' | 'host' | 'null';
  /** The Linux bridge (bridge driver only). */
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange?: string;
  internal: boolean;
  /** Outbound NAT (com.docker.network.bridge.enable_ip_masquerade). */
  masquerade: boolean;
  mtu: number;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;
  /** Predefined networks (bridge, host, none) cannot be removed. */
  predefined: boolean;
  /** The next address the IPAM tries: addresses go round the range before one is reused, as Docker's do. */
  nextIp?: string;
}

export interface PortMapping {
  proto: Proto;
  /** '0.0.0.0' means every address of the host. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

export interface EndpointRecord {
  id: string;
  containerId: string;
  networkId: string;
  /** eth0, eth1... inside the container. */
  ifname: string;
  /** The host end of the veth pair, attached to the bridge. */
  hostVeth: string;
  ip: string;
  mac: string;
  /** True on the endpoint that carries the container's default route. */
  gatewayRoute: boolean;
  ports: PortMapping[];
  aliases: string[];
}

export interface SandboxRecord {
  containerId: string;
  netnsPath: string;
  mode: string;
}

export interface NetState {
  version: 1;
  networks: Record<string, NetworkRecord>;
  endpoints: Record<string, EndpointRecord>;
  sandboxes: Record<string, SandboxRecord>;
}

export function emptyState(): NetState {
  return { version: 1, networks: {}, endpoints: {}, sandboxes: {} };
}

export class StateFile {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, 'networks.json');
  }

  async load(): Promise<NetState> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return emptyState();
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new BerthError('berthd', 'internal', `network state ${this.path} is not JSON: ${messageOf(e)}`);
    }
    const s = doc as Partial<NetState>;
    if (s.version !== 1 || typeof s.networks !== 'object' || typeof s.endpoints !== 'object') {
      throw new BerthError('berthd', 'internal', `network state ${this.path} has an unknown layout`);
    }
    return { version: 1, networks: s.networks ?? {}, endpoints: s.endpoints ?? {}, sandboxes: s.sandboxes ?? {} };
  }

  /**
   * `durable: false` for a container's endpoints coming and going: run state,
   * as a container record's start and exit are (src/daemon/README.md): the
   * rename is atomic, a kill -9 leaves the old or the new document, and after
   * a host crash no container of the lost leases runs any more.
   */
  async save(s: NetState, opts: { durable?: boolean } = {}): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(s, null, 1) + '\n', 0o600, opts);
  }
}
