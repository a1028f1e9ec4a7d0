import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { bytes, requireId, str } from '../args.js';
import { BerthError, messageOf } from '../../../common/errors.js';
import { parseSpec } from '../../../runtime/index.js';
import type { LinuxResources } from '../../../runtime/index.js';

function num(v: string | undefined, flag: string, size = false): number | undefined {
  if (v === undefined) return undefined;
  if (size) return v === '-1' ? -1 : bytes(v, `--${flag}`);
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new BerthError('berth-runc', 'invalid-argument', `--${flag}: "${v}" is not an integer`);
  return n;
}

function prune<T extends object>(o: T): T | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return Object.keys(out).length ? (out as T) : undefined;
}

export const update: Command = {
  name: 'update',
  summary: "change a running container's resource limits (flags, or --resources FILE|- as OCI linux.resources JSON)",
  usage: 'update [flags] <container-id>',
  flags: {
    resources: { kind: 'string', alias: 'r' },
    'blkio-weight': { kind: 'string' },
    'cpu-period': { kind: 'string' },
    'cpu-quota': { kind: 'string' },
    'cpu-burst': { kind: 'string' },
    'cpu-share': { kind: 'string' },
    'cpu-rt-period': { kind: 'string' },
    'cpu-rt-runtime': { kind: 'string' },
    'cpuset-cpus': { kind: 'string' },
    'cpuset-mems': { kind: 'string' },
    'cpu-idle': { kind: 'string' },
    'kernel-memory': { kind: 'string' },
    'kernel-memory-tcp': { kind: 'string' },
    memory: { kind: 'string' },
    'memory-reservation': { kind: 'string' },
    'memory-swap': { kind: 'string' },
    'pids-limit': { kind: 'string' },
  },
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'update');
    const rt = ctx.runtime();
    let resources: LinuxResources;
    const file = str(flags, 'resources');
    if (file) {
      let json: unknown;
      try {
        json = JSON.parse(file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8'));
      } catch (e) {
        throw new BerthError('berth-runc', 'invalid-argument', `--resources ${file}: ${messageOf(e)}`);
      }
      const config = rt.record(id).config;
      try {
        resources =
          parseSpec({ ...config, linux: { ...(config.linux ?? {}), resources: json } }).linux!.resources ?? {};
      } catch (e) {
        if (e instanceof BerthError)
          throw new BerthError(
            'berth-runc',
            e.code,
            e.message.replace(/^config\.json: linux\.resources/, `--resources ${file}`),
          );
        throw e;
      }
    } else {
      const f = (n: string) => str(flags, n);
      resources = {};
      const memory = prune({
        limit: num(f('memory'), 'memory', true),
        reservation: num(f('memory-reservation'), 'memory-reservation', true),
        swap: num(f('memory-swap'), 'memory-swap', true),
        kernel: num(f('kernel-memory'), 'kernel-memory', true),
        kernelTCP: num(f('kernel-memory-tcp'), 'kernel-memory-tcp', true),
      });
      if (memory) resources.memory = memory;
      const cpu = prune({
        shares: num(f('cpu-share'), 'cpu-share'),
        quota: num(f('cpu-quota'), 'cpu-quota'),
        period: num(f('cpu-period'), 'cpu-period'),
        burst: num(f('cpu-burst'), 'cpu-burst'),
        realtimePeriod: num(f('cpu-rt-period'), 'cpu-rt-period'),
        realtimeRuntime: num(f('cpu-rt-runtime'), 'cpu-rt-runtime'),
        cpus: f('cpuset-cpus'),
        mems: f('cpuset-mems'),
        idle: num(f('cpu-idle'), 'cpu-idle'),
      });
      if (cpu) resources.cpu = cpu;
      const w = num(f('blkio-weight'), 'blkio-weight');
      if (w !== undefined) resources.blockIO = { weight: w };
      const pids = num(f('pids-limit'), 'pids-limit');
      if (pids !== undefined) resources.pids = { limit: pids };
    }
    await rt.update(id, resources);
    return 0;
  },
};
