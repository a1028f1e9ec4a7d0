// The host tools the networks are made with (ip, iptables-restore). One
// process per batch: `ip -batch` and `iptables-restore` take many commands on
// stdin, and iptables-restore applies a whole table in one transaction.

import { spawn } from 'node:child_process';
import { BerthError } from '../../common/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new BerthError('berthd', 'unavailable', `cannot run ${cmd}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ stdout, stderr });
      else {
        const what = input
          ? `${cmd} ${args.join(' ')} <<${JSON.stringify(input.slice(0, 400))}`
          : `${cmd} ${args.join(' ')}`;
        reject(new BerthError('berthd', 'internal', `${what}: exit ${code}: ${stderr.trim() || stdout.trim()}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

// `ip -n` only takes names under /run/netns, while a container's namespace is
// any path (/proc/PID/ns/net, a runtime's bind mount): nsenter enters a path.
function ipIn(netns: string | undefined, args: string[]): [string, string[]] {
  return netns ? ['nsenter', [`--net=${netns}`, 'ip', ...args]] : ['ip', args];
}

/** `ip` with commands in one batch; `netns` runs them inside that network namespace (a path). */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const [cmd, args] = ipIn(netns, ['-batch', '-']);
  await run(cmd, args, lines.join('\n') + '\n');
}

/** One `ip` command, in the namespace at `netns` when given. */
export async function ip(args: string[], netns?: string): Promise<RunResult> {
  const [cmd, full] = ipIn(netns, args);
  return run(cmd, full);
}

/** The JSON form of an `ip` listing (`ip -j link show` ...). */
export async function ipJson<T>(args: string[], netns?: string): Promise<T[]> {
  const { stdout } = await ip(['-j', ...args], netns);
  const text = stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}
