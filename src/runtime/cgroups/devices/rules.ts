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
