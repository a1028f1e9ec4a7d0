// GET /containers/{id}/top (`docker top`), as dockerd's top_unix.go does it:
// the host's `ps` with the user's arguments (default -ef), first asked for
// the container's pids only (`-q`), then without them for formats that
// refuse -q; the lines whose PID is one of the task's (containerd ListPids)
// are kept, the last column holding the rest of the line. A PID column
// renamed with `x=PID` (other than pid=) is refused, a failing ps is a 500 with its first
// line of stderr, and a container that is not running a 409.

import { execFile } from 'node:child_process';
import { HttpError, wrongState } from '../http/errors.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';

function ps(args: string[]): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((res) =>
    execFile('ps', args, { maxBuffer: 16 * 1024 * 1024 }, (e, stdout, stderr) =>
      res(e ? { ok: false, err: stderr.split('\n')[0] || e.message } : { ok: true, out: stdout }),
    ),
  );
}

/** ps's own column-splitting: ASCII whitespace only. */
function fields(line: string): string[] {
  return line.split(/[ \t\n\v\f\r]+/).filter(Boolean);
}

export async function top(rt: Runtime, r: ContainerRecord, psArgs: string | null): Promise<object> {
  const args = psArgs || '-ef';
  for (const m of args.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g))
    if (m[1] !== 'pid') throw new HttpError(500, `specifying "${m[1]}=${m[2]}" is not allowed`);
  if (r.State.Status === 'restarting')
    throw wrongState(`Container ${r.Id} is restarting, wait until the container is running`);
  if (!rt.running(r)) throw wrongState(`Container ${r.Id} is not running`);
  const pids = (await rt.m.s.client.tasks.pids(r.Id)).map((p) => p.pid);
  const argv = args.split(' ');
  let res = await ps([...argv, '-q', pids.join(',')]);
  // Some formats (f, for one) cannot be combined with -q: every process, filtered below.
  if (!res.ok) res = await ps(argv);
  if (!res.ok) throw new HttpError(500, `ps: ${res.err}`);
  const lines = res.out.split('\n');
  const titles = fields(lines[0] ?? '');
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new HttpError(500, "Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const f = fields(line);
    if (!f.length) continue;
    const pid = Number(f[pidCol]);
    if (!Number.isInteger(pid)) throw new HttpError(500, `Unexpected pid '${f[pidCol]}'`);
    if (!pids.includes(pid)) continue;
    processes.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  }
  rt.m.s.events.emit('container', 'top', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  return { Titles: titles, Processes: processes };
}
