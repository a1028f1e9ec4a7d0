// go-units' human sizes and durations, and Go's time formats, as docker's
// columns print them ("4.26MB", "About a minute ago", "Up 3 seconds").

import { CliError } from './errors.js';

/** Go's %.*g, without trailing zeros. */
function gPrec(x: number, p: number): string {
  if (x === 0) return '0';
  const rounded = Number(x.toPrecision(p));
  const rexp = Math.floor(Math.log10(Math.abs(rounded)));
  if (rexp < -4 || rexp >= p) {
    const [m, e] = rounded.toExponential(p - 1).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(rounded);
}

const decimal = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binary = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

export function humanSizeWithPrecision(size: number, precision: number): string {
  let i = 0;
  while (size >= 1000 && i < decimal.length - 1) {
    size /= 1000;
    i++;
  }
  return `${gPrec(size, precision)}${decimal[i]}`;
}

export const humanSize = (size: number): string => humanSizeWithPrecision(size, 4);

export function bytesSize(size: number): string {
  let i = 0;
  while (size >= 1024 && i < binary.length - 1) {
    size /= 1024;
    i++;
  }
  return `${gPrec(size, 4)}${binary[i]}`;
}

export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}

/** Go's time.Time.String() of an RFC 3339 time with nanoseconds ("... 18:22:38.907978398 +0000 UTC"). */
export function goTimeStringRFC3339(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  const frac = (/\.(\d+)/.exec(t)?.[1] ?? '').replace(/0+$/, '');
  const base = goTimeString(Math.floor(d.getTime() / 1000));
  return frac ? base.replace(/^(\S+ \S+)/, `$1.${frac}`) : base;
}

/** Go's time.Time.String() for a Unix time, in the local zone (UTC here unless TZ says otherwise). */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const offMin = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offMin * 60000);
  const p = (n: number) => String(n).padStart(2, '0');
  const date = `${String(local.getUTCFullYear()).padStart(4, '0')}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())} ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}`;
  const sign = offMin >= 0 ? '+' : '-';
  const off = `${sign}${p(Math.floor(Math.abs(offMin) / 60))}${p(Math.abs(offMin) % 60)}`;
  const zone =
    offMin === 0
      ? 'UTC'
      : (Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
          .formatToParts(d)
          .find((x) => x.type === 'timeZoneName')?.value ?? off);
  return `${date} ${off} ${zone}`;
}

/**
 * docker's GetTimestamp for --since/--until: a Go duration before now ("42m"),
 * Unix seconds ("1700000000.5"), or a date/time; as the API's seconds string.
 */
export function apiTimestamp(value: string, flag: string | undefined, now = Date.now()): string {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  if (value !== '0' && /^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(/([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/g))
      ms += Number(m[1] || 0) * units[m[2]!]!;
    return String(Math.floor((now - ms) / 1000));
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const t = Date.parse(value);
  if (!Number.isNaN(t) && /^\d{4}-\d\d-\d\d/.test(value))
    return `${Math.floor(t / 1000)}.${String((t % 1000) * 1e6).padStart(9, '0')}`;
  // logs names the flag in its message, events does not (docker's texts).
  const msg = `failed to parse value as time or duration: "${value}"`;
  throw new CliError(flag ? `invalid value for "${flag}": ${msg}` : msg, 1);
}
