// Bridges and veth pairs through iproute2. A bridge is addressed before it is
// brought up and before anything is attached to it, so no packet for its
// subnet can ever take the host's default route. A container's end of a veth
// pair is created directly inside the container's namespace (`peer ... netns
// PATH`), so there is no moment when it sits in the host under a name that
// could clash with a host interface.

import { readFile, writeFile } from 'node:fs/promises';
import { BerthError, messageOf } from '../../common/errors.js';
import { ip, ipBatch, ipJson, run } from './exec.js';

interface IpLink {
  ifname: string;
  linkinfo?: { info_kind?: string };
}
interface IpAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * The interface names of a namespace from /proc/PID/net/dev when the
 * namespace is a process's (`/proc/PID/ns/net`, or undefined for berthd's
 * own): a file read instead of an `ip` process (about 4 ms each on the
 * container's start and exit path). Undefined for any other path.
 */
async function namesFromProc(netns?: string): Promise<string[] | undefined> {
  const pid = netns === undefined ? 'self' : /^\/proc\/(\d+)\/ns\/net$/.exec(netns)?.[1];
  if (!pid) return undefined;
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // two header lines, then "  NAME: counters..."
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.slice(0, l.indexOf(':')).trim())
    .filter(Boolean);
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const names = await namesFromProc(netns);
  if (names) return names.includes(name);
  try {
    await ip(['link', 'show', 'dev', name], netns);
    return true;
  } catch {
    return false;
  }
}

/** Host links whose name starts with `prefix`, with their kind (bridge, veth...). */
export async function listLinks(prefix: string): Promise<{ name: string; kind: string }[]> {
  const links = await ipJson<IpLink>(['-d', 'link', 'show']);
  return links
    .filter((l) => l.ifname.startsWith(prefix))
    .map((l) => ({ name: l.ifname, kind: l.linkinfo?.info_kind ?? '' }));
}

export async function deleteLink(name: string): Promise<void> {
  // Mostly gone already: a container's namespace takes its pair with it when it dies.
  if (!(await linkExists(name))) return;
  try {
    await run('ip', ['link', 'del', 'dev', name]);
  } catch (e) {
    // Gone already (the container's namespace died and took the pair with it).
    if (!(await linkExists(name))) return;
    throw e;
  }
}

export interface BridgeSpec {
  name: string;
  gateway: string;
  bits: number;
  mtu: number;
}

/**
 * Makes the bridge, or brings an existing one (after a restart) back to its
 * spec. Addressed before it is up; route_localnet on it lets DNAT send
 * 127.0.0.1-sourced packets from the host to a published port (see README).
 */
export async function ensureBridge(b: BridgeSpec): Promise<void> {
  const existed = await linkExists(b.name);
  try {
    if (!existed) await ipBatch([`link add name ${b.name} type bridge`]);
    const addrs = await ipJson<IpAddr>(['addr', 'show', 'dev', b.name]);
    const has = (addrs[0]?.addr_info ?? []).some(
      (a) => a.family === 'inet' && a.local === b.gateway && a.prefixlen === b.bits,
    );
    const cmds: string[] = [`link set dev ${b.name} mtu ${b.mtu}`];
    if (!has) cmds.push(`addr add ${b.gateway}/${b.bits} brd + dev ${b.name}`);
    await ipBatch(cmds);
    await writeFile(`/proc/sys/net/ipv4/conf/${b.name}/route_localnet`, '1');
    await ipBatch([`link set dev ${b.name} up`]);
  } catch (e) {
    if (!existed) await deleteLink(b.name).catch(() => undefined);
    throw new BerthError('berthd', 'internal', `cannot set up bridge ${b.name}: ${messageOf(e)}`, { cause: e });
  }
}

export interface VethSpec {
  netns: string;
  hostVeth: string;
  ifname: string;
  bridge: string;
  mtu: number;
  mac: string;
  ip: string;
  bits: number;
  /** The default route through this interface (the container's first network), unless null. */
  gateway: string | null;
}

/** A veth pair from the bridge into the namespace, addressed and up; nothing is left if a step fails. */
export async function attachVeth(v: VethSpec): Promise<void> {
  // One netlink request makes both ends, the container's already in its
  // namespace under its final name: it succeeds whole or not at all. The
  // host end's settings follow in the same `ip` process (ip -batch stops at
  // the first failure and names its line: a pair that was made is deleted).
  try {
    await ipBatch([
      `link add name ${v.hostVeth} mtu ${v.mtu} type veth peer name ${v.ifname} mtu ${v.mtu} address ${v.mac} netns ${v.netns}`,
      `link set dev ${v.hostVeth} master ${v.bridge}`,
      // Hairpin: a container reaching its own published port through the host.
      `link set dev ${v.hostVeth} type bridge_slave hairpin on`,
      `link set dev ${v.hostVeth} up`,
    ]);
  } catch (e) {
    if (!/Command failed -:1\b/.test(messageOf(e))) await deleteLink(v.hostVeth).catch(() => undefined);
    throw e;
  }
  try {
    const inside = [
      `link set dev lo up`,
      `addr add ${v.ip}/${v.bits} brd + dev ${v.ifname}`,
      `link set dev ${v.ifname} up`,
    ];
    if (v.gateway) inside.push(`route add default via ${v.gateway} dev ${v.ifname}`);
    await ipBatch(inside, v.netns);
  } catch (e) {
    await deleteLink(v.hostVeth).catch(() => undefined);
    throw e;
  }
}

/** The loopback of a namespace up: all a `none` container gets. */
export async function loopbackUp(netns: string): Promise<void> {
  await ipBatch(['link set dev lo up'], netns);
}

/** The next free ethN inside the namespace. */
export async function nextIfname(netns: string, taken: string[]): Promise<string> {
  const names = (await namesFromProc(netns)) ?? (await ipJson<IpLink>(['link', 'show'], netns)).map((l) => l.ifname);
  const used = new Set([...taken, ...names]);
  for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}
