// What a network test could leave on the host: links, iptables rules and
// net.ipv4.ip_forward of the host's own network namespace. Compared before
// and after a test file whose berthd runs in a namespace of its own; only
// Berth's names are looked at, so other suites running at the same time on
// this shared machine (with names of their own) do not disturb it.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function hostNetSnapshot(pattern = /berth|bth|BERTH|extup|extin/): string {
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(':')[1]?.trim() ?? '')
    .filter((l) => pattern.test(l));
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => !l.startsWith('#') && pattern.test(l))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  const forward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  return JSON.stringify({ links: links.sort(), rules: rules.sort(), forward }, null, 1);
}
