// OCI device cgroup rules, checked once and put in one normal form that both
// the v1 writer (devices.allow/devices.deny lines) and the v2 eBPF generator
// read. The OCI semantics, like runc's: rules apply in order and the last rule
// matching a request decides; a rule of type "a" (or without a type) covers
// every device whatever its major, minor and access say, as it does for the
// v1 kernel.

import type { LinuxDeviceCgroup } from '../../spec/types.js';
import { cgroupError } from '../errors.js';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  /** -1 for any. */
  major: number;
  /** -1 for any. */
  minor: number;
  /** Non-empty subset of "rwm", in that order. */
  access: string;
}

const FIELD = 'linux.resources.devices';

function checkNumber(v: number | undefined, field: string): number {
  if (v === undefined || v === -1) return -1;
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not a device number (0..2147483647, or -1 for any)`, field);
  }
  return v;
}

export function normalizeDeviceRules(rules: LinuxDeviceCgroup[]): DeviceRule[] {
  return rules.map((r, i) => {
    const at = `${FIELD}[${i}]`;
    if (typeof r.allow !== 'boolean') throw cgroupError('invalid-argument', 'must be true or false', `${at}.allow`);
    const type = r.type ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') {
      throw cgroupError('invalid-argument', `${JSON.stringify(type)} is not a device type (a, c or b)`, `${at}.type`);
    }
    const accessIn = r.access ?? 'rwm';
    if (accessIn === '' || !/^[rwm]+$/.test(accessIn)) {
      throw cgroupError('invalid-argument', `${JSON.stringify(accessIn)} is not a device access (some of "rwm")`, `${at}.access`);
    }
    const access = ['r', 'w', 'm'].filter((c) => accessIn.includes(c)).join('');
    return { allow: r.allow, type, major: checkNumber(r.major, `${at}.major`), minor: checkNumber(r.minor, `${at}.minor`), access };
  });
}

/** One v1 rule line: "c 1:3 rwm", "b 8:* r", or "a" for all devices. */
export function v1Line(r: DeviceRule): string {
  if (r.type === 'a') return 'a';
  const n = (v: number): string => (v < 0 ? '*' : String(v));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

/**
 * The writes that make a v1 devices cgroup match the rules: deny everything,
 * then replay each rule in order (the kernel keeps the same last-match-wins
 * state as the rules describe).
 */
export function v1DeviceWrites(rules: DeviceRule[]): { file: 'devices.allow' | 'devices.deny'; value: string }[] {
  const out: { file: 'devices.allow' | 'devices.deny'; value: string }[] = [{ file: 'devices.deny', value: 'a' }];
  for (const r of rules) out.push({ file: r.allow ? 'devices.allow' : 'devices.deny', value: v1Line(r) });
  return out;
}

/** A v1 allow-list entry as devices.list shows it: one per type:major:minor, access bits merged. */
function mergedAllowList(rules: DeviceRule[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of rules) {
    const n = (v: number): string => (v < 0 ? '*' : String(v));
    const key = `${r.type} ${n(r.major)}:${n(r.minor)}`;
    const set = out.get(key) ?? new Set<string>();
    for (const c of r.access) set.add(c);
    out.set(key, set);
  }
  return out;
}

const accessString = (s: Set<string>): string => ['r', 'w', 'm'].filter((c) => s.has(c)).join('');

/**
 * For `update` of a running container: the writes that take a v1 devices
 * cgroup from its current allow-list (`devices.list`) to the one the rules
 * describe without the "deny everything" moment of v1DeviceWrites. Only for
 * the usual shape (deny all, then allows) from an allow-list state;
 * undefined otherwise, and the caller rewrites everything.
 */
export function v1DeviceTransition(rules: DeviceRule[], devicesList: string): { file: 'devices.allow' | 'devices.deny'; value: string }[] | undefined {
  const [first, ...rest] = rules;
  if (!first || first.allow || first.type !== 'a') return undefined;
  if (rest.some((r) => !r.allow || r.type === 'a')) return undefined;
  const current = new Map<string, Set<string>>();
  for (const line of devicesList.split('\n')) {
    const m = /^([abc]) (\S+:\S+) ([rwm]+)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'a') return undefined; // the cgroup allows everything: not an allow-list
    current.set(`${m[1]} ${m[2]}`, new Set(m[3]!.split('')));
  }
  const target = mergedAllowList(rest);
  const writes: { file: 'devices.allow' | 'devices.deny'; value: string }[] = [];
  for (const [key, access] of target) {
    const have = current.get(key);
    const missing = [...access].filter((c) => !have?.has(c));
    if (missing.length > 0) writes.push({ file: 'devices.allow', value: `${key} ${accessString(access)}` });
  }
  for (const [key, have] of current) {
    const want = target.get(key);
    const extra = new Set([...have].filter((c) => !want?.has(c)));
    if (extra.size > 0) writes.push({ file: 'devices.deny', value: `${key} ${accessString(extra)}` });
  }
  return writes;
}
