import type { Command } from '../command.js';
import { bool, requireId, str } from '../args.js';
import { BerthError } from '../../../common/errors.js';

function interval(v: string | undefined): number {
  if (v === undefined) return 5000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new BerthError('berth-runc', 'invalid-argument', `--interval: invalid duration "${v}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60000 : n * 1000;
}

export const events: Command = {
  name: 'events',
  summary: 'print container events: resource stats every --interval, and OOM kills (--stats: once)',
  usage: 'events [--stats] [--interval 5s] <container-id>',
  flags: { stats: { kind: 'bool' }, interval: { kind: 'string' } },
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'events');
    const rt = ctx.runtime();
    const emit = () => ctx.out(JSON.stringify({ type: 'stats', id, data: rt.stats(id) }) + '\n');
    if (bool(flags, 'stats')) {
      emit();
      return 0;
    }
    const every = interval(str(flags, 'interval'));
    let lastOom = oomCount(rt, id);
    for (;;) {
      if (rt.state(id).status === 'stopped') return 0;
      emit();
      const oom = oomCount(rt, id);
      if (oom > lastOom) ctx.out(JSON.stringify({ type: 'oom', id }) + '\n');
      lastOom = oom;
      await new Promise((r) => setTimeout(r, every));
    }
  },
};

function oomCount(rt: ReturnType<Parameters<Command['run']>[0]['runtime']>, id: string): number {
  try {
    const s = rt.stats(id);
    return s.memory.raw['oom_kill'] ?? s.memory.usage.failcnt ?? 0;
  } catch {
    return 0;
  }
}
