// src/common/fifo.ts in one process, the way berthd uses it for a
// container's stdio; fifo.test.ts runs it under Node.js and under Bun.
//   <runtime> test/unit/common/fifo-child.ts DIR
// Prints JSON: what was read from a FIFO until EOF, and how many bytes a
// reader at the other end of another FIFO counted.

import { spawn } from 'node:child_process';
import { closeSync, constants as C, openSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fifoWriter, readFifo } from '../../../src/common/fifo.js';

const dir = process.argv[2]!;
const out = join(dir, 'out');
const inp = join(dir, 'in');
execFileSync('mkfifo', [out, inp]);

async function readSide(): Promise<string> {
  // As berthd: hold the FIFO open read-write while the writer opens its end
  // (the shim during task Create), then read from a read-only fd and drop
  // the hold, so the writer's close is the EOF.
  const hold = openSync(out, C.O_RDWR | C.O_NONBLOCK);
  const writer = spawn('sh', ['-c', `exec 3>${out}; echo ready; printf one >&3; sleep 0.2; printf two >&3`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => writer.on('exit', r));
  await new Promise((r) => writer.stdout.once('data', r));
  const fd = openSync(out, C.O_RDONLY | C.O_NONBLOCK);
  closeSync(hold);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => readFifo(fd, (d) => chunks.push(d), resolve));
  await exited;
  return Buffer.concat(chunks).toString();
}

async function writeSide(): Promise<number> {
  const counter = spawn('sh', ['-c', `wc -c < ${inp}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  counter.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise((r) => counter.on('exit', r));
  // wait until the reader has the FIFO open (a non-blocking write open fails before)
  let fd: number | undefined;
  for (let i = 0; fd === undefined && i < 500; i++) {
    try {
      fd = openSync(inp, C.O_WRONLY | C.O_NONBLOCK);
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const w = fifoWriter(fd!);
  const chunk = Buffer.alloc(256 * 1024, 120);
  for (let i = 0; i < 4; i++) w.write(chunk);
  await new Promise<void>((r) => w.end(r));
  await exited;
  return Number(text.trim());
}

const read = await readSide();
const written = await writeSide();
process.stdout.write(JSON.stringify({ read, written }));
