// What the berthd network tests share: a berthd in a network namespace the
// helper made (its bridges, iptables rules and ip_forward live and die
// there), on a containerd or berth-engine the caller started, with the
// test registry relayed into that namespace and the image pulled; the tools
// that look at what the kernel shows (iptables-save and links of berthd's
// namespace, commands in a container's namespace with the host's tools);
// and the host's links, rules and ip_forward compared at the end. Packets go
// only to 127.0.0.1 of berthd's namespace and to the containers.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { which } from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, rawRequest, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { hostNetSnapshot } from '../../helpers/hostnet.js';

export const netSkip: string | false =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('iptables') ? 'iptables is not installed' : false) ||
      (!which('curl') ? 'curl is not installed' : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

/** busybox httpd serving `text` on port 80. */
export const WEB = (text: string): string[] => [
  'sh',
  '-c',
  `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`,
];

export class NetFixture {
  private hostBefore = '';
  private reg?: RegistryInstance;
  b!: Berthd;
  img = '';

  /** Registry, berthd in its namespace on `sock`, the image pulled. */
  async start(sock: string, namespace: string): Promise<void> {
    this.hostBefore = hostNetSnapshot();
    this.reg = await startRegistry();
    seedImage(this.reg.host, 'berth/busybox:latest');
    this.img = `${this.reg.host}/berth/busybox:latest`;
    this.b = await startBerthd(sock, { netns: true, relayPorts: [this.reg.port], namespace });
    this.b.ok(['pull', '-q', this.img]);
  }

  get regPort(): number {
    return this.reg!.port;
  }

  /** berthd and the registry stopped; the host's network as it was before. */
  async stop(): Promise<void> {
    await this.b?.stop();
    await this.reg?.stop();
    if (this.hostBefore)
      assert.equal(hostNetSnapshot(), this.hostBefore, "the host's links, iptables rules or ip_forward changed");
  }

  /** A command in berthd's network namespace. */
  inNs(cmd: string, args: string[]) {
    return spawnSync('nsenter', [`--net=${this.b.netns!.path}`, cmd, ...args], { encoding: 'utf8', timeout: 20000 });
  }

  curl(url: string) {
    return this.inNs('curl', ['-s', '--max-time', '5', url]);
  }

  /** iptables-save of berthd's namespace, without comment lines and counters. */
  rules(): string {
    return this.inNs('iptables-save', [])
      .stdout.split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
      .join('\n');
  }

  links(): string[] {
    return this.inNs('ip', ['-o', 'link', 'show'])
      .stdout.split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter(Boolean);
  }

  /** The host ends of containers' veth pairs (berthd's default prefix). */
  veths(): string[] {
    return this.links().filter((l) => l.startsWith('bthv'));
  }

  pidOf(c: string): number {
    return Number(this.b.ok(['inspect', '-f', '{{.State.Pid}}', c]).trim());
  }

  /** A command in a container's network namespace, with the host's tools: what the kernel shows. */
  inCtr(c: string, cmd: string, args: string[]): string {
    return spawnSync('nsenter', ['-t', String(this.pidOf(c)), '-n', cmd, ...args], { encoding: 'utf8' }).stdout;
  }

  /** One ICMP echo from a container (busybox's ping, run in its namespace). */
  ping(from: string, ip: string): boolean {
    return /1 packets received/.test(this.inCtr(from, '/bin/busybox', ['ping', '-c1', '-W1', ip]));
  }

  /** A raw API call: status and dockerd's message. */
  async status(method: string, path: string, body?: unknown): Promise<{ status: number; message?: string }> {
    const r = await rawRequest(this.b.sock, method, path, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, message: r.body ? (JSON.parse(r.body) as { message?: string }).message : undefined };
  }
}
