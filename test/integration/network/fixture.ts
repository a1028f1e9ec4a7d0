// What the network tests share: names and subnets of their own (never one of
// the host's routes), namespaces standing for containers, echo servers run in
// them, and a clean-up that removes all of it even after a failure.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const echo = join(dirname(fileURLToPath(import.meta.url)), 'echo.mjs');

export const isRoot = (): boolean => process.getuid?.() === 0;

export function rand(n: number): string {
  const a = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(n), (b) => a[b % a.length]).join('');
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tryRun(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function routes(): [number, number][] {
  const out: [number, number][] = [];
  for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const le = (h: string): number => {
      const n = parseInt(h, 16);
      return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
    };
    const base = le(f[1] as string);
    const mask = le(f[7] as string);
    if (mask === 0) continue; // the default route
    out.push([base, (base | (~mask >>> 0)) >>> 0]);
  }
  return out;
}

const handed = new Set<string>();
/** A 10.x.y.0/24 that no host route covers and no other subnet of this run uses. */
export function freeSubnet(): { subnet: string; prefix: string } {
  const taken = routes();
  for (let i = 0; i < 1000; i++) {
    const x = 64 + ((randomBytes(1)[0] as number) % 128);
    const y = randomBytes(1)[0] as number;
    const prefix = `10.${x}.${y}`;
    const lo = ((10 << 24) | (x << 16) | (y << 8)) >>> 0;
    const hi = lo + 255;
    if (handed.has(prefix) || taken.some(([a, b]) => a <= hi && lo <= b)) continue;
    handed.add(prefix);
    return { subnet: `${prefix}.0/24`, prefix };
  }
  throw new Error('no free 10.x.y.0/24');
}

export class Fixture {
  readonly id = rand(3);
  /** Interface prefix (tXXX): bridges tXXXb..., veths tXXXv... */
  readonly ifPrefix = `t${this.id}`;
  readonly chainPrefix = `BT${this.id.toUpperCase()}`;
  readonly dir = mkdtempSync(join(tmpdir(), `berth-net-${this.id}-`));
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly procs: ChildProcess[] = [];

  netns(): { name: string; path: string } {
    const name = `berth-t-${this.id}-${rand(4)}`;
    sh('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    return { name, path: `/var/run/netns/${name}` };
  }

  /** A host interface of the test's own, removed at the end. */
  ownLink(name: string): void {
    this.links.push(name);
  }

  /** An echo server inside `ns` (or on the host when ns is null); resolves once it listens. */
  async server(ns: string | null, proto: 'tcp' | 'udp', host: string, port: number): Promise<void> {
    const argv = ['server', proto, host, String(port)];
    const p = ns
      ? spawn('ip', ['netns', 'exec', ns, process.execPath, echo, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [echo, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      p.stderr?.on('data', (d: Buffer) => (err += String(d)));
      p.stdout?.on('data', (d: Buffer) => {
        if (String(d).includes('ready')) resolve();
      });
      p.on('exit', (code) => reject(new Error(`echo server exited ${code}: ${err}`)));
    });
  }

  /** The echo's reply, or null when nothing came back (refused, unreachable, dropped). */
  client(ns: string | null, proto: 'tcp' | 'udp', host: string, port: number, msg = 'hi'): string | null {
    const argv = [echo, 'client', proto, host, String(port), msg];
    const r = ns ? tryRun('ip', ['netns', 'exec', ns, process.execPath, ...argv]) : tryRun(process.execPath, argv);
    return r.status === 0 ? r.stdout.trim() : null;
  }

  /** Host links with this run's prefix. */
  leftLinks(): string[] {
    return tryRun('ip', ['-o', 'link', 'show'])
      .stdout.split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter((n) => n.startsWith(this.ifPrefix));
  }

  leftRules(): string[] {
    const out: string[] = [];
    for (const t of ['filter', 'nat']) {
      for (const l of sh('iptables', ['-w', '-t', t, '-S']).split('\n')) if (l.includes(this.chainPrefix)) out.push(l);
    }
    return out;
  }

  cleanup(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    for (const n of this.namespaces) tryRun('ip', ['netns', 'del', n]);
    for (const l of [...this.links, ...this.leftLinks()]) tryRun('ip', ['link', 'del', 'dev', l]);
    // Jumps first, then flush and delete the chains.
    for (const [t, c, rule] of [
      ['filter', 'INPUT', ['-j', `${this.chainPrefix}-INPUT`]],
      ['filter', 'FORWARD', ['-j', `${this.chainPrefix}-FORWARD`]],
      ['nat', 'PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.chainPrefix]],
      ['nat', 'OUTPUT', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.chainPrefix]],
      ['nat', 'POSTROUTING', ['-j', `${this.chainPrefix}-POSTROUTING`]],
    ] as [string, string, string[]][]) {
      while (tryRun('iptables', ['-w', '-t', t, '-D', c, ...rule]).status === 0);
    }
    for (const t of ['filter', 'nat']) {
      const chains = sh('iptables', ['-w', '-t', t, '-S'])
        .split('\n')
        .filter((l) => l.startsWith(`-N ${this.chainPrefix}`))
        .map((l) => l.slice(3));
      for (const c of chains) tryRun('iptables', ['-w', '-t', t, '-F', c]);
      for (const c of chains) tryRun('iptables', ['-w', '-t', t, '-X', c]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
