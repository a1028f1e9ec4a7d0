// OCI device cgroup rules. They are applied in order, each one changing the
// state the v1 devices controller keeps (the same semantics runc gets from its
// emulator): a default (allow or deny everything) plus exceptions keyed by
// type:major:minor, each with access bits.
//  - a rule of type "a" (or without a type) resets: allow → allow everything,
//    deny → deny everything, with no exceptions (whatever major/minor say);
//  - in deny-by-default state, an allow rule adds its access bits to the
//    exception with its exact key, a deny rule takes them away;
//  - in allow-by-default state, the other way round.
// An access request is allowed, in deny-by-default state, when one exception
// matching its device (wildcards match anything) grants every bit asked; in
// allow-by-default state, unless an exception matching it denies any bit asked.
// Taking bits from a wildcard exception by a narrower rule ("allow c 1:* rwm"
// then "deny c 1:5 rwm") cannot be expressed by v1, whose kernel would keep
// allowing 1:5: such a rule is an invalid-argument error, as in runc.
// The v1 writer replays this state into devices.allow/devices.deny; the v2
// eBPF generator compiles it into a program, so both enforce the same thing.

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

export interface DeviceException {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Subset of "rwm", in that order. */
  access: string;
}

export interface DeviceState {
  defaultAllow: boolean;
  /** Sorted by major, minor, type (wildcards, -1, first): a stable order for programs and writes. */
  exceptions: DeviceException[];
}

const FIELD = 'linux.resources.devices';

function checkNumber(v: number | undefined, field: string): number {
  if (v === undefined || v === -1) return -1;
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw cgroupError(
      'invalid-argument',
      `${JSON.stringify(v)} is not a device number (0..2147483647, or -1 for any)`,
      field,
    );
  }
  return v;
}

const ORDER = ['r', 'w', 'm'];
const accessOf = (s: Iterable<string>): string => {
  const set = new Set(s);
  return ORDER.filter((c) => set.has(c)).join('');
};

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
      throw cgroupError(
        'invalid-argument',
        `${JSON.stringify(accessIn)} is not a device access (some of "rwm")`,
        `${at}.access`,
      );
    }
    return {
      allow: r.allow,
      type,
      major: checkNumber(r.major, `${at}.major`),
      minor: checkNumber(r.minor, `${at}.minor`),
      access: accessOf(accessIn),
    };
  });
}

const n = (v: number): string => (v < 0 ? '*' : String(v));
const keyOf = (e: { type: string; major: number; minor: number }): string => `${e.type} ${n(e.major)}:${n(e.minor)}`;

/** The state after applying `rules` from `start` (deny everything, as a new eBPF program starts). */
export function applyDeviceRules(
  rules: DeviceRule[],
  start: DeviceState = { defaultAllow: false, exceptions: [] },
): DeviceState {
  let defaultAllow = start.defaultAllow;
  const ex = new Map<string, DeviceException>(start.exceptions.map((e) => [keyOf(e), { ...e }]));
  rules.forEach((r, i) => {
    if (r.type === 'a') {
      defaultAllow = r.allow;
      ex.clear();
      return;
    }
    const key = keyOf(r);
    // An allow in deny-by-default state (or a deny in allow-by-default state) adds an exception.
    if (r.allow !== defaultAllow) {
      const have = ex.get(key);
      ex.set(key, {
        type: r.type,
        major: r.major,
        minor: r.minor,
        access: accessOf([...(have?.access ?? ''), ...r.access]),
      });
      return;
    }
    for (const wider of [
      { ...r, major: -1 },
      { ...r, minor: -1 },
      { ...r, major: -1, minor: -1 },
    ]) {
      const w = ex.get(keyOf(wider));
      if (keyOf(wider) !== key && w && [...r.access].some((c) => w.access.includes(c))) {
        throw cgroupError(
          'invalid-argument',
          `${r.allow ? 'allowing' : 'denying'} ${key} ${r.access} would punch a hole in the earlier rule for ${keyOf(w)} ${w.access}, which cgroup v1 cannot express (runc refuses it too); list the devices one by one instead`,
          `${FIELD}[${i}]`,
        );
      }
    }
    const have = ex.get(key);
    if (!have) return;
    const left = [...have.access].filter((c) => !r.access.includes(c));
    if (left.length === 0) ex.delete(key);
    else ex.set(key, { ...have, access: accessOf(left) });
  });
  const exceptions = [...ex.values()].sort(
    (a, b) => a.major - b.major || a.minor - b.minor || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  );
  // (Not localeCompare: its first call loads ICU collation data, tens of ms of a CLI start.)
  return { defaultAllow, exceptions };
}

type V1Write = { file: 'devices.allow' | 'devices.deny'; value: string };

/** One v1 line for an exception: "c 1:3 rwm", "b 8:* r". */
export function v1Line(e: DeviceException): string {
  return `${keyOf(e)} ${e.access}`;
}

/** The writes that put a v1 devices cgroup in `state` from any state: reset, then each exception. */
export function v1DeviceWrites(state: DeviceState): V1Write[] {
  const reset: V1Write = { file: state.defaultAllow ? 'devices.allow' : 'devices.deny', value: 'a' };
  const add: V1Write['file'] = state.defaultAllow ? 'devices.deny' : 'devices.allow';
  return [reset, ...state.exceptions.map((e) => ({ file: add, value: v1Line(e) }))];
}

/** What devices.list shows, as a state ("a *:* rwm" is allow-everything). */
export function parseDevicesList(text: string): DeviceState | undefined {
  const exceptions: DeviceException[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
    if (!m) return undefined;
    if (m[1] === 'a') return { defaultAllow: true, exceptions: [] };
    const num = (s: string): number => (s === '*' ? -1 : Number(s));
    exceptions.push({ type: m[1] as 'c' | 'b', major: num(m[2]!), minor: num(m[3]!), access: accessOf(m[4]!) });
  }
  return { defaultAllow: false, exceptions };
}

/**
 * For `update` of a running container: the writes from the current
 * devices.list to `target` without the "deny everything" moment of a reset,
 * when both deny by default (the list cannot show the exceptions of an
 * allow-by-default cgroup, so that case, and a change of default, reset).
 * Missing access is granted first, extra access taken away after.
 */
export function v1DeviceTransition(target: DeviceState, devicesList: string): V1Write[] {
  const current = parseDevicesList(devicesList);
  if (!current || current.defaultAllow || target.defaultAllow) return v1DeviceWrites(target);
  const have = new Map(current.exceptions.map((e) => [keyOf(e), e]));
  const want = new Map(target.exceptions.map((e) => [keyOf(e), e]));
  const writes: V1Write[] = [];
  for (const [key, e] of want) {
    if ([...e.access].some((c) => !have.get(key)?.access.includes(c)))
      writes.push({ file: 'devices.allow', value: v1Line(e) });
  }
  for (const [key, e] of have) {
    const extra = [...e.access].filter((c) => !want.get(key)?.access.includes(c));
    if (extra.length > 0) writes.push({ file: 'devices.deny', value: `${key} ${accessOf(extra)}` });
  }
  return writes;
}
