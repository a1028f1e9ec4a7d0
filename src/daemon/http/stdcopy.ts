// Docker's multiplexed stream (stdcopy): without a tty, attach, exec and logs
// interleave stdout and stderr in frames of an 8-byte header — the stream
// (0 stdin, 1 stdout, 2 stderr, 3 system error), three zero bytes, the length
// as big-endian uint32 — then the payload. With a tty the stream is raw.

const MAX_FRAME = 32 * 1024 * 1024;

export function frame(stream: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out.writeUInt32BE(0, 0);
  out[0] = stream;
  out.writeUInt32BE(data.length, 4);
  data.copy(out, 8);
  return out;
}

/** Frames of at most MAX_FRAME bytes (a frame's length must fit the client's buffer). */
export function frames(stream: number, data: Buffer): Buffer[] {
  if (data.length <= MAX_FRAME) return [frame(stream, data)];
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MAX_FRAME) out.push(frame(stream, data.subarray(i, i + MAX_FRAME)));
  return out;
}

export const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
export const RAW = 'application/vnd.docker.raw-stream';
