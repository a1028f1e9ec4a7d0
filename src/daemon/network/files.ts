// The /etc/hosts and /etc/resolv.conf a container gets. Docker's rules: the
// host's resolv.conf, with loopback nameservers dropped (they would point at
// the container's own loopback, where no resolver runs), Google's public
// servers when none is left; the systemd-resolved upstream file when the host
// uses its 127.0.0.53 stub. Names between containers (an embedded DNS server)
// come later: `extraHosts` and the search/options lines are where they join.

import { readFile } from 'node:fs/promises';

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its first network; absent for none/host modes. */
  ip?: string;
  /** --add-host entries, "name:ip". */
  extraHosts?: string[];
}

export function hostsFile(h: HostsInput): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of h.extraHosts ?? []) {
    const i = e.indexOf(':');
    if (i > 0) lines.push(`${e.slice(i + 1)}\t${e.slice(0, i)}`);
  }
  if (h.ip) {
    const fqdn = h.domainname ? `${h.hostname}.${h.domainname} ` : '';
    lines.push(`${h.ip}\t${fqdn}${h.hostname}`);
  }
  return lines.join('\n') + '\n';
}

export interface ResolvInput {
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Defaults to /etc/resolv.conf (or systemd-resolved's upstream file). */
  hostResolvConf?: string;
}

const defaultDns = ['8.8.8.8', '8.8.4.4'];

function isLoopback(ns: string): boolean {
  return ns.startsWith('127.') || ns === '::1' || ns === '0:0:0:0:0:0:0:1';
}

async function hostResolv(path?: string): Promise<string> {
  if (path) return readFile(path, 'utf8');
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (/^\s*nameserver\s+127\.0\.0\.53\s*$/m.test(text)) {
    const upstream = await readFile('/run/systemd/resolve/resolv.conf', 'utf8').catch(() => '');
    if (upstream) return upstream;
  }
  return text;
}

/** resolv.conf for a container on a bridge network. */
export async function resolvConf(r: ResolvInput = {}): Promise<string> {
  const text = await hostResolv(r.hostResolvConf);
  const lines = text.split('\n');
  const field = (key: string): string[] =>
    lines
      .map((l) => l.trim().split(/\s+/))
      .filter((w) => w[0] === key)
      .flatMap((w) => w.slice(1));
  let ns = r.dns && r.dns.length > 0 ? r.dns : field('nameserver').filter((x) => !isLoopback(x));
  if (ns.length === 0) ns = defaultDns;
  const search = r.dnsSearch && r.dnsSearch.length > 0 ? r.dnsSearch : field('search');
  const options = r.dnsOptions && r.dnsOptions.length > 0 ? r.dnsOptions : field('options');
  const out = ns.map((x) => `nameserver ${x}`);
  if (search.length > 0) out.push(`search ${search.join(' ')}`);
  if (options.length > 0) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}

/** With --network host the container sees the host's file as it is. */
export async function hostModeResolvConf(): Promise<string> {
  return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}
