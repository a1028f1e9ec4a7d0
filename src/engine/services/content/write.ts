// content.Write, the bidirectional ingest stream as containerd's clients
// drive it: the first message names the ref (and usually the total and the
// expected digest); STAT answers the status, WRITE appends at an offset,
// COMMIT verifies size and digest and makes the blob visible in the
// namespace (under the call's lease). A client that goes away mid-stream
// leaves a resumable partial ingest and an unlocked ref.

import * as grpc from '@grpc/grpc-js';
import type { WriteContentRequest__Output } from '../../../api/gen/containerd/services/content/v1/WriteContentRequest.js';
import type { WriteContentResponse } from '../../../api/gen/containerd/services/content/v1/WriteContentResponse.js';
import type { EngineContext } from '../../context.js';
import type { IngestWriter } from '../../ingests.js';
import { toTimestamp } from '../../proto.js';
import { Call } from '../../rpc.js';
import { toStatus } from '../../status.js';
import { alreadyExists, invalidArgument } from '../../validate.js';

type Stream = grpc.ServerDuplexStream<WriteContentRequest__Output, WriteContentResponse>;

export function writeHandler(
  ctx: EngineContext,
): grpc.handleBidiStreamingCall<WriteContentRequest__Output, WriteContentResponse> {
  return (stream: Stream) => {
    const call = new Call('content.Write', stream.metadata);
    const started = performance.now();
    let writer: IngestWriter | undefined;
    let finished = false;

    const fail = (e: unknown) => {
      if (finished) return;
      finished = true;
      const st = toStatus(e);
      ctx.log.info('call failed', { method: call.method, ...call.fields, code: st.code, error: st.details });
      writer
        ?.close()
        .catch((ce: unknown) => ctx.log.warn('closing the ingest of a failed write', { error: String(ce) }));
      if (!stream.cancelled) stream.emit('error', Object.assign(new Error(st.details), st));
    };

    const respond = (action: WriteContentResponse['action'], extra: Partial<WriteContentResponse> = {}) => {
      const s = writer!.status();
      stream.write({
        action,
        offset: s.offset,
        total: s.total,
        started_at: toTimestamp(s.started),
        updated_at: toTimestamp(s.updated),
        ...extra,
      });
    };

    const handle = async (req: WriteContentRequest__Output): Promise<void> => {
      if (!writer) {
        const ns = call.namespace();
        const lease = call.lease();
        call.set({ ref: req.ref, expected: req.expected || undefined });
        if (req.ref === '') throw invalidArgument('first message must have a reference', 'ref');
        writer = await ctx.ingests.open(ns, req.ref, req.total, req.expected, lease);
      } else if (req.ref !== '' && req.ref !== writer.ref) {
        throw invalidArgument(`ref ${req.ref} does not match the stream's ref ${writer.ref}`, 'ref');
      }
      if (req.total > 0 && req.action !== 'COMMIT') writer.setTotal(req.total);
      if (req.expected !== '' && req.action !== 'COMMIT') writer.setExpected(req.expected);
      switch (req.action) {
        case 'STAT':
          respond('STAT');
          return;
        case 'WRITE':
          if (req.data.length > 0 || req.offset === 0) await writer.write(req.offset, req.data);
          respond('WRITE');
          return;
        case 'COMMIT': {
          if (req.data.length > 0) await writer.write(req.offset, req.data);
          const ns = call.namespace();
          const s = writer.status();
          const { digest, existed } = await writer.commit(req.total, req.expected, req.labels, call.lease());
          call.set({ digest });
          ctx.log.debug('content committed', { namespace: ns, ref: s.ref, digest, size: s.offset });
          if (existed) throw alreadyExists(`content ${digest}: already exists`);
          await ctx.durable.sync(); // its record is on disk before the client hears of it
          stream.write({
            action: 'COMMIT',
            offset: s.offset,
            total: s.offset,
            digest,
            started_at: toTimestamp(s.started),
            updated_at: toTimestamp(new Date()),
          });
          return;
        }
        default:
          throw invalidArgument(`action ${String(req.action)} unknown`, 'action');
      }
    };

    // One message at a time, in order; the stream is paused while one is handled.
    let chain = Promise.resolve();
    stream.on('data', (req: WriteContentRequest__Output) => {
      stream.pause();
      chain = chain
        .then(() => (finished ? undefined : handle(req)))
        .then(
          () => {
            stream.resume();
          },
          (e: unknown) => fail(e),
        );
    });
    stream.on('end', () => {
      chain
        .then(async () => {
          if (finished) return;
          finished = true;
          await writer?.close();
          ctx.log.debug('call', { method: call.method, ...call.fields, ms: Math.round(performance.now() - started) });
          stream.end();
        })
        .catch((e: unknown) => {
          // The last close (fsync) failed: the call fails with it.
          const st = toStatus(e);
          ctx.log.info('call failed', { method: call.method, ...call.fields, code: st.code, error: st.details });
          if (!stream.cancelled) stream.emit('error', Object.assign(new Error(st.details), st));
        });
    });
    stream.on('cancelled', () => {
      // The client went away: keep the partial data, unlock the ref.
      chain
        .then(() => {
          finished = true;
          return writer?.close();
        })
        .catch((e: unknown) => ctx.log.warn('closing the ingest of a cancelled write', { error: String(e) }));
    });
    stream.on('error', () => undefined);
  };
}
