// content.Read: a blob the namespace has, from `offset`, `size` bytes (0:
// to the end), in chunks of 1 MiB, waiting for a slow reader.

import type * as grpc from '@grpc/grpc-js';
import { open } from 'node:fs/promises';
import type { ReadContentRequest__Output } from '../../../api/gen/containerd/services/content/v1/ReadContentRequest.js';
import type { ReadContentResponse } from '../../../api/gen/containerd/services/content/v1/ReadContentResponse.js';
import type { EngineContext } from '../../context.js';
import { send, serverStream } from '../../rpc.js';
import { invalidArgument, validateDigest } from '../../validate.js';

const CHUNK = 1 << 20;

export function readHandler(
  ctx: EngineContext,
): grpc.handleServerStreamingCall<ReadContentRequest__Output, ReadContentResponse> {
  return serverStream(ctx, 'content.Read', async (req, call, stream) => {
    const ns = call.namespace();
    validateDigest(req.digest);
    call.set({ digest: req.digest });
    const rec = ctx.content.get(ns, req.digest);
    if (req.offset < 0 || req.offset > rec.size)
      throw invalidArgument(`offset ${req.offset} is outside content ${req.digest} (${rec.size} bytes)`, 'offset');
    if (req.size < 0) throw invalidArgument(`size ${req.size} must not be negative`, 'size');
    const end = req.size === 0 ? rec.size : Math.min(rec.size, req.offset + req.size);
    const fh = await open(ctx.blobs.blobPath(req.digest), 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let pos = req.offset; pos < end && !stream.cancelled;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
        if (bytesRead === 0) break;
        await send(stream, { offset: pos, data: Buffer.from(buf.subarray(0, bytesRead)) });
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
  });
}
