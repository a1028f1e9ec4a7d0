// Reading and writing a FIFO without blocking a thread, in both runtimes.
// Node.js: a net.Socket over the fd (libuv polls the pipe). Bun 1.4.5:
// net.Socket over a FIFO's fd never reads nor ends (a minimal reproduction:
// mkfifo, a writer, `new Socket({ fd })`: no 'data', no 'close'), while
// Bun.file(fd)'s stream and writer poll it as Node's socket does, so those
// are used there. Either way the fd is the caller's, opened O_NONBLOCK, and
// closed here once the stream is over.

import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { underBun } from './bun.js';

interface BunFileSink {
  write(chunk: Uint8Array): number;
  flush(): number | Promise<number>;
  end(): number | Promise<number>;
}

interface BunRuntime {
  file(fd: number): { stream(): ReadableStream<Uint8Array>; writer(): BunFileSink };
}

function bun(): BunRuntime {
  return (globalThis as unknown as { Bun: BunRuntime }).Bun;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Reads `fd` (a FIFO opened O_RDONLY|O_NONBLOCK) until every writer has closed it; then `onEnd`, once. */
export function readFifo(fd: number, onData: (d: Buffer) => void, onEnd: () => void): void {
  if (!underBun) {
    const sock = new Socket({ fd, readable: true, writable: false });
    sock.on('data', onData);
    sock.on('error', () => sock.destroy());
    sock.on('close', onEnd);
    return;
  }
  const reader = bun().file(fd).stream().getReader();
  const pump = async (): Promise<void> => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        onData(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch {
      // a read error ends the stream as EOF does
    } finally {
      closeQuietly(fd);
      onEnd();
    }
  };
  pump().catch(() => undefined); // pump's own finally reports the end
}

/** A stream into `fd` (a FIFO opened O_WRONLY|O_NONBLOCK); end() closes the fd. */
export function fifoWriter(fd: number): Writable {
  if (!underBun) return new Socket({ fd, readable: false, writable: true });
  const sink = bun().file(fd).writer();
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        sink.write(chunk);
        Promise.resolve(sink.flush()).then(() => cb(), cb);
      } catch (e) {
        cb(e as Error);
      }
    },
    final(cb) {
      Promise.resolve(sink.end()).then(
        () => cb(),
        (e: unknown) => cb(e as Error),
      );
    },
    destroy(err, cb) {
      closeQuietly(fd);
      cb(err);
    },
  });
}
