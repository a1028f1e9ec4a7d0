// Firewall rules through iptables (this host's iptables is the nf_tables
// backend; see README for why not nft). Every rule lives in chains of Berth's
// own, reached by one jump from each built-in chain, so nothing of the host's
// is edited. The chains are rendered whole from the state on every change and
// loaded with one iptables-restore per table: the load is one transaction,
// a chain declared in it is flushed first, so a rule of a removed container,
// port or network cannot survive and a crash between two rules cannot leave
// half a set.

import { run } from './exec.js';
import type { EndpointRecord, NetworkRecord } from './state.js';

export interface Chains {
  input: string;
  forward: string;
  iso1: string;
  iso2: string;
  ports: string;
  dnat: string;
  post: string;
}

export function chainNames(prefix: string): Chains {
  return {
    input: `${prefix}-INPUT`,
    forward: `${prefix}-FORWARD`,
    iso1: `${prefix}-ISOLATION-1`,
    iso2: `${prefix}-ISOLATION-2`,
    ports: prefix,
    dnat: prefix,
    post: `${prefix}-POSTROUTING`,
  };
}

interface Jump {
  table: 'filter' | 'nat';
  chain: string;
  rule: string[];
}

function jumps(c: Chains): Jump[] {
  return [
    { table: 'filter', chain: 'INPUT', rule: ['-j', c.input] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', c.forward] },
    { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
    // From the host itself, 127.0.0.1 included: published ports answer on the
    // loopback without a userland proxy (route_localnet on the bridges).
    { table: 'nat', chain: 'OUTPUT', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', c.post] },
  ];
}

export interface RuleSet {
  filter: string;
  nat: string;
}

/** The whole of Berth's rules for these networks and endpoints, as iptables-restore input. */
export function render(c: Chains, networks: NetworkRecord[], endpoints: EndpointRecord[]): RuleSet {
  const f: string[] = [
    '*filter',
    `:${c.input} - [0:0]`,
    `:${c.forward} - [0:0]`,
    `:${c.iso1} - [0:0]`,
    `:${c.iso2} - [0:0]`,
    `:${c.ports} - [0:0]`,
  ];
  const n: string[] = ['*nat', `:${c.dnat} - [0:0]`, `:${c.post} - [0:0]`];
  const bridges = networks.filter((x) => x.driver === 'bridge');
  const byId = new Map(bridges.map((x) => [x.id, x]));

  f.push(`-A ${c.forward} -j ${c.iso1}`);
  for (const net of bridges) {
    const br = net.bridge;
    // route_localnet lets 127.0.0.0/8 through the bridge for the DNAT of
    // published ports; a container must not use it to reach the host's
    // loopback services (the kube-proxy lesson, CVE-2020-8558): only replies
    // and DNATed flows may come in from the bridge to a loopback address.
    f.push(`-A ${c.input} -i ${br} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`);
    // Isolation: nothing crosses from one Berth network into another.
    f.push(`-A ${c.iso1} -i ${br} ! -o ${br} -j ${c.iso2}`);
    f.push(`-A ${c.iso2} -o ${br} -j DROP`);
    if (net.internal) {
      f.push(`-A ${c.iso1} -i ${br} ! -d ${net.subnet} -j DROP`);
      f.push(`-A ${c.iso1} -o ${br} ! -s ${net.subnet} -j DROP`);
    }
    f.push(`-A ${c.forward} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    f.push(`-A ${c.forward} -o ${br} -j ${c.ports}`);
    f.push(`-A ${c.forward} -i ${br} -o ${br} -j ACCEPT`);
    if (!net.internal) f.push(`-A ${c.forward} -i ${br} ! -o ${br} -j ACCEPT`);
    // Whatever else heads for a container (an unpublished port reached from
    // outside) is dropped even when the host's FORWARD policy accepts.
    f.push(`-A ${c.forward} -o ${br} -j DROP`);
    if (net.internal) f.push(`-A ${c.forward} -i ${br} -j DROP`);

    if (net.masquerade && !net.internal) n.push(`-A ${c.post} -s ${net.subnet} ! -o ${br} -j MASQUERADE`);
    // Host-sourced packets (127.0.0.1 after DNAT) must leave with an address the container can answer.
    n.push(`-A ${c.post} -o ${br} -m addrtype --src-type LOCAL -j MASQUERADE`);
  }
  f.push(`-A ${c.iso1} -j RETURN`, `-A ${c.iso2} -j RETURN`);

  for (const ep of endpoints) {
    const net = byId.get(ep.networkId);
    if (!net) continue;
    for (const p of ep.ports) {
      const dst = p.hostIp === '0.0.0.0' ? '' : `-d ${p.hostIp}/32 `;
      n.push(
        `-A ${c.dnat} ${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${ep.ip}:${p.containerPort}`,
      );
      f.push(
        `-A ${c.ports} -d ${ep.ip}/32 -o ${net.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j ACCEPT`,
      );
      // Hairpin: the container reaching its own published port.
      n.push(
        `-A ${c.post} -s ${ep.ip}/32 -d ${ep.ip}/32 -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j MASQUERADE`,
      );
    }
  }
  f.push('COMMIT');
  n.push('COMMIT');
  return { filter: f.join('\n') + '\n', nat: n.join('\n') + '\n' };
}

async function has(j: Jump): Promise<boolean> {
  try {
    await run('iptables', ['-w', '-t', j.table, '-C', j.chain, ...j.rule]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads the rules. With `ensureJumps` (at open) the jumps from the built-in
 * chains are checked and added, first in their chain; a change later in the
 * daemon's life only needs the one iptables-restore.
 */
export async function apply(c: Chains, rules: RuleSet, ensureJumps = false): Promise<void> {
  await run('iptables-restore', ['-w', '--noflush'], rules.filter + rules.nat);
  if (!ensureJumps) return;
  for (const j of jumps(c)) {
    if (!(await has(j))) await run('iptables', ['-w', '-t', j.table, '-I', j.chain, '1', ...j.rule]);
  }
}

/** Removes the jumps and Berth's chains: the host's tables as they were before Berth. */
export async function removeAll(c: Chains): Promise<void> {
  for (const j of jumps(c)) {
    while (await has(j)) await run('iptables', ['-w', '-t', j.table, '-D', j.chain, ...j.rule]);
  }
  const tables: [string, string[]][] = [
    ['filter', [c.input, c.forward, c.iso1, c.iso2, c.ports]],
    ['nat', [c.dnat, c.post]],
  ];
  for (const [table, chains] of tables) {
    const existing = await listChains(table);
    const mine = chains.filter((x) => existing.includes(x));
    if (mine.length === 0) continue;
    // Flush all first: the chains jump to each other, and a referenced chain cannot be deleted.
    await run(
      'iptables-restore',
      ['-w', '--noflush'],
      [`*${table}`, ...mine.map((x) => `:${x} - [0:0]`), 'COMMIT', ''].join('\n'),
    );
    for (const x of mine) await run('iptables', ['-w', '-t', table, '-X', x]);
  }
}

export async function listChains(table: string): Promise<string[]> {
  const { stdout } = await run('iptables', ['-w', '-t', table, '-S']);
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('-N '))
    .map((l) => l.slice(3).trim());
}

/** Every rule line mentioning the prefix's chains, in both tables (for tests and diagnostics). */
export async function listRules(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const table of ['filter', 'nat']) {
    const { stdout } = await run('iptables', ['-w', '-t', table, '-S']);
    for (const l of stdout.split('\n')) if (l.includes(prefix)) out.push(`${table}: ${l}`);
  }
  return out;
}

/**
 * Forgets the UDP flows of an address that leaves (a container gone or
 * disconnected), as dockerd does: a UDP sender that never pauses would keep
 * its conntrack entry, and so its old NAT, forever. TCP flows end by
 * themselves. Best effort: without the conntrack tool (Debian package
 * `conntrack`) the entries time out on their own.
 */
export async function forgetUdpFlows(ip: string): Promise<void> {
  await run('conntrack', ['-D', '-p', 'udp', '--reply-src', ip]).catch(() => undefined);
}
