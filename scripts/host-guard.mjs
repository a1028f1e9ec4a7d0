// The suites must never change the host. Before a run this records what a
// stray test would most likely change (the hostname and domainname, the
// core_pattern, the mount table, the top-level cgroups of every hierarchy,
// the network links, iptables rules and ip_forward);
// after it, anything that differs fails the run with the difference named.
// A test that forgot a new UTS namespace once renamed the host `berth-test`;
// a hugetlb test once left the cgroup2 root delegating hugetlb.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function read(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    return `<unreadable: ${e.code ?? e.message}>`;
  }
}

// mountinfo without the fields that change for reasons other than a mount
// (ids, device numbers): mount point, root, options, propagation, type, source.
function mounts() {
  const out = [];
  for (const line of read('/proc/self/mountinfo').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6) continue;
    out.push([f[4], f[3], f[5], f.slice(6, sep).join(' '), f[sep + 1], f[sep + 2], f[sep + 3]].join(' '));
  }
  return out.sort();
}

function topCgroups() {
  const out = [];
  for (const line of read('/proc/self/mountinfo').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6 || (f[sep + 1] !== 'cgroup' && f[sep + 1] !== 'cgroup2')) continue;
    // What the root delegates is host-wide: a runtime that enables a
    // controller there changes every cgroup2 user's tree.
    if (f[sep + 1] === 'cgroup2')
      out.push(`${f[4]}/cgroup.subtree_control: ${read(join(f[4], 'cgroup.subtree_control'))}`);
    try {
      for (const d of readdirSync(f[4], { withFileTypes: true })) if (d.isDirectory()) out.push(join(f[4], d.name));
    } catch {
      /* a hierarchy we cannot read: nothing to compare */
    }
  }
  return out.sort();
}

// The host's network: its links (by name), its iptables rules in every table
// (counters and comment lines left out), and net.ipv4.ip_forward. berthd's
// network tests run berthd in namespaces of their own; a bridge, a rule or a
// forwarding switch left on the host would show here.
function links() {
  try {
    return readdirSync('/sys/class/net').sort();
  } catch (e) {
    return [`<unreadable: ${e.code ?? e.message}>`];
  }
}

function iptablesRules() {
  let text;
  try {
    text = execFileSync('iptables-save', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // no iptables on this host: nothing a test could have changed through it
  }
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[]'));
}

export function snapshot() {
  return {
    hostname: read('/proc/sys/kernel/hostname'),
    domainname: read('/proc/sys/kernel/domainname'),
    core_pattern: read('/proc/sys/kernel/core_pattern'),
    mounts: mounts(),
    cgroups: topCgroups(),
    ip_forward: read('/proc/sys/net/ipv4/ip_forward'),
    links: links(),
    iptables: iptablesRules(),
  };
}

/** What differs between two snapshots, as lines a reader can act on; empty when nothing does. */
export function differences(before, after) {
  const out = [];
  for (const k of ['hostname', 'domainname', 'core_pattern', 'ip_forward']) {
    if (before[k] !== after[k]) out.push(`${k}: was ${JSON.stringify(before[k])}, now ${JSON.stringify(after[k])}`);
  }
  for (const k of ['mounts', 'cgroups', 'links', 'iptables']) {
    const was = new Set(before[k] ?? []);
    const now = new Set(after[k] ?? []);
    for (const x of now) if (!was.has(x)) out.push(`${k}: added ${x}`);
    for (const x of was) if (!now.has(x)) out.push(`${k}: removed ${x}`);
  }
  return out;
}
