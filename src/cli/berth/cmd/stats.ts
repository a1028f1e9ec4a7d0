// stats: one snapshot per container (--no-stream), or the live table from
// the streamed endpoint, redrawn as docker 28 redraws it; without names, the
// running containers (all with -a), and those that start later too.

import type { Command, Ctx } from '../command.js';
import { formatFlag } from '../command.js';
import type { Flags } from '../flags.js';
import { formatRows, struct, truncateID } from '../formatter.js';
import { bytesSize, humanSizeWithPrecision } from '../units.js';
import { jsonLines } from '../client.js';

const cpath = (id: string) => `/containers/${encodeURIComponent(id)}`;

interface StatsJSON {
  id: string;
  name: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
}

function statsRow(s: StatsJSON, trunc: boolean) {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus ?? 1;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const cache = s.memory_stats.stats?.total_inactive_file ?? s.memory_stats.stats?.inactive_file ?? 0;
  const mem = Math.max(0, (s.memory_stats.usage ?? 0) - cache);
  const limit = s.memory_stats.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let rd = 0;
  let wr = 0;
  for (const b of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    if (b.op.toLowerCase() === 'read') rd += b.value;
    if (b.op.toLowerCase() === 'write') wr += b.value;
  }
  return struct('*formatter.statsContext', {
    Container: () => (trunc ? truncateID(s.id) : s.id),
    ID: () => (trunc ? truncateID(s.id) : s.id),
    Name: () => s.name.replace(/^\//, ''),
    CPUPerc: () => `${cpu.toFixed(2)}%`,
    MemUsage: () => `${bytesSize(mem)} / ${bytesSize(limit)}`,
    MemPerc: () => `${(limit ? (mem / limit) * 100 : 0).toFixed(2)}%`,
    NetIO: () => `${humanSizeWithPrecision(rx, 3)} / ${humanSizeWithPrecision(tx, 3)}`,
    BlockIO: () => `${humanSizeWithPrecision(rd, 3)} / ${humanSizeWithPrecision(wr, 3)}`,
    PIDs: () => String(s.pids_stats?.current ?? 0),
  });
}

const statsHeader = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

async function stats(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const format =
    f.string('format') ||
    'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
  const trunc = !f.bool('no-trunc');
  const all = f.bool('all');
  const live = !f.bool('no-stream');
  // Without names the set changes as containers start and die: the events
  // are asked for before the list, so that none is missed in between.
  const events =
    live && args.length === 0
      ? await ctx.client.request('GET', '/events', {
          query: { filters: JSON.stringify({ type: ['container'], event: ['start', 'die', 'destroy'] }) },
        })
      : undefined;
  const ids =
    args.length > 0
      ? [...args]
      : (await ctx.client.get<{ Id: string }[]>('/containers/json', { all: all || undefined })).map((c) => c.Id);
  if (!live) {
    const snaps = await Promise.all(
      ids.map((id) => ctx.client.get<StatsJSON>(`${cpath(id)}/stats`, { stream: false })),
    );
    ctx.out(
      formatRows(
        format,
        snaps.map((s) => statsRow(s, trunc)),
        statsHeader,
      ),
    );
    return 0;
  }
  // The live table: one streamed /stats per container (the daemon sends a
  // sample a second, with the previous one for the CPU delta), redrawn every
  // 500 ms from the latest samples until interrupted.
  const latest = new Map<string, StatsJSON>();
  /** Opens the container's stream; `first` settles at its first sample (or its end). */
  const follow = async (id: string): Promise<{ first: Promise<void> }> => {
    const res = await ctx.client.request('GET', `${cpath(id)}/stats`, { query: { stream: true } });
    const first = new Promise<void>((settle) => {
      void (async () => {
        for await (const s of jsonLines<StatsJSON>(res.body)) {
          if (ids.includes(id)) latest.set(id, s);
          settle();
        }
      })()
        .catch(() => undefined)
        .finally(settle);
    });
    return { first };
  };
  const streams = await Promise.all(ids.map(follow));
  if (events)
    void (async () => {
      for await (const e of jsonLines<{ Action?: string; Actor?: { ID?: string } }>(events.body)) {
        const id = e.Actor?.ID;
        if (!id) continue;
        if (e.Action === 'start' && !ids.includes(id)) {
          ids.push(id);
          follow(id).catch(() => undefined);
        } else if (e.Action === 'destroy' || (e.Action === 'die' && !all)) {
          if (ids.includes(id)) ids.splice(ids.indexOf(id), 1);
          latest.delete(id);
        }
      }
    })().catch(() => undefined);
  // As docker: the first frame waits for every container's first sample, 2 s at most.
  await Promise.race([Promise.all(streams.map((x) => x.first)), new Promise((r) => setTimeout(r, 2000))]);
  for (let frame = 0; ; frame++) {
    if (frame > 0) await new Promise((r) => setTimeout(r, 500));
    const rows = ids.flatMap((id) => {
      const s = latest.get(id);
      return s ? [statsRow(s, trunc)] : [];
    });
    process.stdout.write(liveFrame(formatRows(format, rows, statsHeader)));
  }
}

/**
 * One redraw of the live table, byte for byte as docker 28 writes it: cursor
 * home and the table, then the same lines again each followed by " " and
 * erase-to-end-of-line (docker writes its buffer's lines back into the same
 * buffer), then erase below (fewer rows than before leave nothing behind).
 */
function liveFrame(table: string): string {
  const first = '\x1b[H' + table;
  return (
    first +
    first
      .split('\n')
      .map((l) => `${l} \x1b[K\n`)
      .join('') +
    '\x1b[J'
  );
}

export const statsCmd: Command = {
  name: 'stats',
  use: '[OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
    formatFlag(),
    { name: 'no-stream', type: 'bool', usage: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
  ],
  args: { min: 0, max: 1000 },
  run: stats,
};
