import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { bool, int, multi, requireId, str } from '../args.js';
import { BerthError, messageOf } from '../../../common/errors.js';
import { parseProcess } from '../../../runtime/index.js';
import type { Capability, Process, Spec } from '../../../runtime/index.js';

/** --process FILE, validated by the same rules as config.json's process. */
function processFromFile(file: string): Process {
  let json: unknown;
  try {
    json = JSON.parse(file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BerthError('berth-runc', 'invalid-argument', `--process ${file}: ${messageOf(e)}`);
  }
  return parseProcess(json, `--process ${file}`);
}

/** The container's own process, changed by exec's flags, as runc builds it. */
function processFromFlags(args: string[], flags: Record<string, unknown>, config: Spec): Process {
  const f = flags as Parameters<typeof str>[0];
  const base = config.process!;
  if (args.length === 0) throw new BerthError('berth-runc', 'invalid-argument', 'exec: args must not be empty');
  const p: Process = {
    ...base,
    args,
    terminal: bool(f, 'tty'),
    env: [...(base.env ?? [])],
    user: { ...base.user },
    capabilities: base.capabilities ? { ...base.capabilities } : undefined,
  };
  delete p.consoleSize;
  const cwd = str(f, 'cwd');
  if (cwd) p.cwd = cwd;
  for (const e of multi(f, 'env')) {
    const key = e.split('=')[0];
    p.env = [...(p.env ?? []).filter((x) => x.split('=')[0] !== key), e];
  }
  const user = str(f, 'user');
  if (user) {
    const [u, g] = user.split(':');
    const uid = Number(u);
    if (!Number.isInteger(uid) || uid < 0)
      throw new BerthError('berth-runc', 'invalid-argument', `--user: "${user}" is not uid[:gid]`);
    p.user.uid = uid;
    if (g !== undefined) {
      const gid = Number(g);
      if (!Number.isInteger(gid) || gid < 0)
        throw new BerthError('berth-runc', 'invalid-argument', `--user: "${user}" is not uid[:gid]`);
      p.user.gid = gid;
    }
  }
  const gids = multi(f, 'additional-gids').map(Number);
  if (gids.length) p.user.additionalGids = gids;
  const caps = multi(f, 'cap') as Capability[];
  if (caps.length) {
    const c = { ...(p.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted'] as const)
      c[set] = [...new Set([...(c[set] ?? []), ...caps])];
    p.capabilities = c;
  }
  if (bool(f, 'no-new-privs')) p.noNewPrivileges = true;
  const aa = str(f, 'apparmor');
  if (aa) p.apparmorProfile = aa;
  const label = str(f, 'process-label');
  if (label) p.selinuxLabel = label;
  // Same validation as a config.json process.
  return parseProcess(p, 'exec');
}

export const exec: Command = {
  name: 'exec',
  summary: 'run a new process inside a running container',
  usage: 'exec [flags] <container-id> <command> [args...]  |  exec --process FILE <container-id>',
  flags: {
    process: { kind: 'string', alias: 'p' },
    tty: { kind: 'bool', alias: 't' },
    'console-socket': { kind: 'string' },
    cwd: { kind: 'string' },
    env: { kind: 'multi', alias: 'e' },
    user: { kind: 'string', alias: 'u' },
    'additional-gids': { kind: 'multi', alias: 'g' },
    cap: { kind: 'multi', alias: 'c' },
    detach: { kind: 'bool', alias: 'd' },
    'pid-file': { kind: 'string' },
    'preserve-fds': { kind: 'string' },
    'no-new-privs': { kind: 'bool' },
    apparmor: { kind: 'string' },
    'process-label': { kind: 'string' },
    'ignore-paused': { kind: 'bool', ignored: true },
  },
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'exec');
    const rt = ctx.runtime();
    const config = rt.record(id).config;
    const file = str(flags, 'process');
    const proc = file ? processFromFile(file) : processFromFlags(rest.slice(1), flags, config);
    return await rt.exec(id, proc, {
      detach: bool(flags, 'detach'),
      pidFile: str(flags, 'pid-file'),
      consoleSocket: str(flags, 'console-socket'),
      preserveFds: int(flags, 'preserve-fds', 'exec') ?? 0,
    });
  },
};
