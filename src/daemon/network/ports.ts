// Published ports: the requests (docker's `-p`/`-P` forms and the API's
// PortBindings), and the choice of host ports. A host port is taken when
// another Berth mapping holds it or when a host process has it bound; the
// second is found by binding it for an instant, since kernel DNAT holds no
// socket of its own.

import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { BerthError } from '../../common/errors.js';
import { parseIp } from './ipv4.js';
import type { PortMapping, Proto } from './state.js';

export interface PortRequest {
  proto: Proto;
  containerPort: number;
  /** '' or '0.0.0.0': every address of the host. */
  hostIp: string;
  /** First and last acceptable host port; [0, 0] asks for any free port of the ephemeral range. */
  hostPorts: [number, number];
}

function badPort(spec: string, why: string): BerthError {
  return new BerthError('berthd', 'invalid-argument', `invalid port specification: "${spec}": ${why}`, {
    field: 'PortBindings',
  });
}

function parseRange(s: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw badPort(spec, `"${s}" is not a port or a range`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || a > 65535 || b < 1 || b > 65535) throw badPort(spec, 'ports are 1-65535');
  if (b < a) throw badPort(spec, `range ${s} ends before it starts`);
  return [a, b];
}

function parseProto(p: string | undefined, spec: string): Proto {
  const proto = (p ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw badPort(spec, `protocol "${p}" is not tcp or udp`);
  return proto;
}

/** docker run's `-p [hostIP:][hostPort[-end]:]containerPort[-end][/proto]`, one request per container port. */
export function parsePublish(spec: string): PortRequest[] {
  const [main, protoPart, extra] = spec.split('/');
  if (extra !== undefined || main === undefined) throw badPort(spec, 'more than one "/"');
  const proto = parseProto(protoPart, spec);
  const parts = main.split(':');
  if (parts.length > 3) throw badPort(spec, 'too many ":"');
  const containerPart = parts[parts.length - 1] as string;
  const hostPart = parts.length >= 2 ? (parts[parts.length - 2] as string) : '';
  const hostIp = parts.length === 3 ? (parts[0] as string) : '';
  if (hostIp) parseIp(hostIp, 'host IP');
  const c = parseRange(containerPart, spec);
  const count = c[1] - c[0] + 1;
  if (hostPart === '') {
    return range(c).map((p) => ({ proto, containerPort: p, hostIp, hostPorts: [0, 0] }));
  }
  const h = parseRange(hostPart, spec);
  const hcount = h[1] - h[0] + 1;
  if (count === 1) return [{ proto, containerPort: c[0], hostIp, hostPorts: h }];
  if (hcount !== count) throw badPort(spec, 'host and container port ranges differ in size');
  return range(c).map((p, i) => ({ proto, containerPort: p, hostIp, hostPorts: [h[0] + i, h[0] + i] }));
}

function range([a, b]: [number, number]): number[] {
  const out: number[] = [];
  for (let p = a; p <= b; p++) out.push(p);
  return out;
}

/** The API's HostConfig.PortBindings ({"80/tcp": [{HostIp, HostPort}]}) plus -P over ExposedPorts. */
export function fromPortBindings(
  bindings: Record<string, { HostIp?: string; HostPort?: string }[] | null | undefined> | undefined,
  publishAll = false,
  exposed: string[] = [],
): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [port, protoPart] = key.split('/');
    const proto = parseProto(protoPart, key);
    const c = parseRange(port ?? '', key);
    seen.add(`${c[0]}/${proto}`);
    for (const b of list ?? [{}]) {
      const hostIp = b.HostIp ?? '';
      if (hostIp) parseIp(hostIp, 'HostIp');
      const hostPorts: [number, number] = b.HostPort ? parseRange(b.HostPort, key) : [0, 0];
      out.push({ proto, containerPort: c[0], hostIp, hostPorts });
    }
  }
  if (publishAll) {
    for (const key of exposed) {
      const [port, protoPart] = key.split('/');
      const proto = parseProto(protoPart, key);
      const c = parseRange(port ?? '', key);
      if (!seen.has(`${c[0]}/${proto}`)) out.push({ proto, containerPort: c[0], hostIp: '', hostPorts: [0, 0] });
    }
  }
  return out;
}

/** The kernel's ephemeral range, from which -P picks (Docker does the same). */
export async function ephemeralRange(): Promise<[number, number]> {
  try {
    const [a, b] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (a && b && a <= b) return [a, b];
  } catch {
    /* fall through to Docker's default */
  }
  return [49153, 65535];
}

type Held = { close(cb: () => void): void };

function bindHold(proto: Proto, ip: string, port: number): Promise<Held | null> {
  return new Promise((resolve) => {
    if (proto === 'tcp') {
      // Connections never reach it (DNAT rewrites them first); one that
      // slips in before the rules are loaded is closed.
      const s = createServer((c) => c.destroy());
      s.once('error', () => resolve(null));
      s.listen({ host: ip, port, exclusive: true }, () => {
        s.unref();
        resolve(s);
      });
    } else {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(null);
      });
      s.bind({ address: ip, port, exclusive: true }, () => {
        s.unref();
        resolve(s);
      });
    }
  });
}

/** True when a host socket could bind the port now. */
export async function canBind(proto: Proto, ip: string, port: number): Promise<boolean> {
  const h = await bindHold(proto, ip, port);
  if (!h) return false;
  await new Promise<void>((r) => h.close(() => r()));
  return true;
}

/**
 * Sockets that hold the published host ports, as dockerd holds them: kernel
 * DNAT binds nothing, and without a holder a host process could bind the
 * port later and be shadowed by the rule without knowing it. The held sockets
 * never see a packet: DNAT sends every one to the container first.
 */
export class PortHolds {
  private readonly held = new Map<string, Held>();

  private key(m: PortMapping): string {
    return `${m.proto}/${m.hostIp}/${m.hostPort}`;
  }

  /** Binds and keeps the port; false when something else holds it. */
  async hold(m: PortMapping): Promise<boolean> {
    if (this.held.has(this.key(m))) return true;
    const h = await bindHold(m.proto, m.hostIp, m.hostPort);
    if (!h) return false;
    this.held.set(this.key(m), h);
    return true;
  }

  async release(m: PortMapping): Promise<void> {
    const h = this.held.get(this.key(m));
    if (!h) return;
    this.held.delete(this.key(m));
    await new Promise<void>((r) => h.close(() => r()));
  }

  async releaseAll(): Promise<void> {
    for (const h of this.held.values()) await new Promise<void>((r) => h.close(() => r()));
    this.held.clear();
  }
}

function clash(a: { proto: Proto; hostIp: string; hostPort: number }, b: PortMapping): boolean {
  return (
    a.proto === b.proto &&
    a.hostPort === b.hostPort &&
    (a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0')
  );
}

/**
 * Host ports for the requests, none of them held by `held` (every Berth
 * mapping) or by a host socket, each bound in `holds` on return. Fails with
 * dockerd's message naming the port, holding none of them.
 */
export async function allocatePorts(
  reqs: PortRequest[],
  held: PortMapping[],
  holds: PortHolds,
): Promise<PortMapping[]> {
  const taken = [...held];
  const out: PortMapping[] = [];
  const [ephLo, ephHi] = await ephemeralRange();
  for (const r of reqs) {
    const hostIp = r.hostIp === '' ? '0.0.0.0' : r.hostIp;
    const any = r.hostPorts[0] === 0;
    const [lo, hi] = any ? [ephLo, ephHi] : r.hostPorts;
    let chosen = 0;
    for (let p = lo; p <= hi; p++) {
      if (taken.some((t) => clash({ proto: r.proto, hostIp, hostPort: p }, t))) continue;
      if (!(await holds.hold({ proto: r.proto, hostIp, hostPort: p, containerPort: r.containerPort }))) continue;
      chosen = p;
      break;
    }
    if (chosen === 0) {
      for (const m of out) await holds.release(m);
      const what = lo === hi ? `${hostIp}:${lo}` : `${hostIp}:${lo}-${hi}`;
      throw new BerthError('berthd', 'already-exists', `Bind for ${what} failed: port is already allocated`, {
        field: 'PortBindings',
      });
    }
    const m: PortMapping = { proto: r.proto, hostIp, hostPort: chosen, containerPort: r.containerPort };
    taken.push(m);
    out.push(m);
  }
  return out;
}
