// The Dockerfile instructions `docker import --change` accepts, applied to a
// new image's runtime config: CMD, ENTRYPOINT (JSON or shell form), ENV,
// WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL.

import { BerthError } from '../../common/errors.js';
import type { ContainerConfig } from '../manifest.js';

function bad(change: string, why: string): BerthError {
  return new BerthError('image', 'invalid-argument', `--change "${change}": ${why}`);
}

function execForm(change: string, rest: string): string[] {
  if (rest.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(rest);
    } catch {
      throw bad(change, 'not a valid JSON array');
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
      throw bad(change, 'expected a JSON array of strings');
    return v;
  }
  return ['/bin/sh', '-c', rest];
}

/** Splits `k=v k2="v 2"` pairs (or the legacy `KEY value` form of ENV/LABEL). */
function pairs(change: string, rest: string): [string, string][] {
  if (!rest.includes('=')) {
    const sp = rest.search(/\s/);
    if (sp === -1) throw bad(change, 'expected KEY=VALUE');
    return [[rest.slice(0, sp), rest.slice(sp).trim()]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  let m: RegExpExecArray | null;
  let consumed = '';
  while ((m = re.exec(rest))) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
    consumed += m[0];
  }
  if (consumed.replace(/\s/g, '').length !== rest.replace(/\s/g, '').length)
    throw bad(change, 'expected KEY=VALUE pairs');
  return out;
}

export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  const c: ContainerConfig = { ...base };
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*\S)\s*$/.exec(change);
    if (!m) throw bad(change, 'expected INSTRUCTION ARGUMENTS');
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (instr) {
      case 'CMD':
        c.Cmd = execForm(change, rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execForm(change, rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of pairs(change, rest)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i === -1) env.push(`${k}=${v}`);
          else env[i] = `${k}=${v}`;
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(change, rest)) };
        break;
      case 'WORKDIR':
        c.WorkingDir = rest;
        break;
      case 'USER':
        c.User = rest;
        break;
      case 'STOPSIGNAL':
        c.StopSignal = rest;
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw bad(change, `invalid port "${p}"`);
          ports[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = rest.startsWith('[') ? execForm(change, rest) : rest.split(/\s+/);
        for (const v of list) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      default:
        throw bad(
          change,
          `${instr} cannot be changed on import (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR can)`,
        );
    }
  }
  return c;
}
