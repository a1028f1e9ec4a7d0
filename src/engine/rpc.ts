// The one wrapper every handler goes through: it reads the namespace and
// lease from the call's metadata exactly as containerd does
// ("containerd-namespace", "containerd-lease"), logs the call with its
// namespace and object ids, and maps a thrown error once to its gRPC status.

import type * as grpc from '@grpc/grpc-js';
import { NAMESPACE_HEADER } from '../api/load.js';
import { BerthError, messageOf } from '../common/errors.js';
import type { EngineContext } from './context.js';
import { toStatus } from './status.js';
import { validateIdentifier } from './validate.js';

export const LEASE_HEADER = 'containerd-lease';

/** What a handler knows of its call besides the request. */
export class Call {
  /** Object ids for the log line of this call (digest, image, key...). */
  readonly fields: Record<string, unknown> = {};

  constructor(
    readonly method: string,
    readonly metadata: grpc.Metadata,
  ) {}

  private header(name: string): string | undefined {
    const v = this.metadata.get(name)[0];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }

  /** The namespace, required as containerd requires it, and a valid identifier. */
  namespace(): string {
    const ns = this.header(NAMESPACE_HEADER);
    if (ns === undefined) {
      throw new BerthError('berth-engine', 'failed-precondition', 'namespace is required', { field: NAMESPACE_HEADER });
    }
    validateIdentifier(ns, 'namespace');
    this.fields.namespace = ns;
    return ns;
  }

  /** The lease the client works under, if any ("containerd-lease"). */
  lease(): string | undefined {
    const l = this.header(LEASE_HEADER);
    if (l !== undefined) this.fields.lease = l;
    return l;
  }

  /** Adds object ids to the call's log line. */
  set(fields: Record<string, unknown>): void {
    Object.assign(this.fields, fields);
  }
}

function finish(
  ctx: EngineContext,
  call: Call,
  started: number,
  err: unknown,
  cpu0?: NodeJS.CpuUsage,
): grpc.ServiceError | null {
  const ms = Math.round((performance.now() - started) * 10) / 10;
  // the process's CPU time while the call ran (concurrent work included): where a run's CPU goes
  const c = cpu0 ? process.cpuUsage(cpu0) : undefined;
  if (c) call.fields.cpuMs = Math.round((c.user + c.system) / 100) / 10;
  if (err === undefined) {
    ctx.log.debug('call', { method: call.method, ...call.fields, ms });
    return null;
  }
  const st = toStatus(err);
  const internal = !(err instanceof BerthError) || err.code === 'internal';
  ctx.log.log(internal ? 'error' : 'info', 'call failed', {
    method: call.method,
    ...call.fields,
    code: st.code,
    error: st.details,
    ms,
  });
  return Object.assign(new Error(st.details), {
    code: st.code,
    details: st.details,
    metadata: undefined,
  }) as unknown as grpc.ServiceError;
}

export function unary<Req, Res>(
  ctx: EngineContext,
  method: string,
  fn: (req: Req, call: Call) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (sc, callback) => {
    const call = new Call(method, sc.metadata);
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const changes = ctx.durable.changes();
    // A call that wrote answers once its commit is on disk (durable.ts: the fsync is off the event loop)
    const durable = () => (ctx.durable.changes() === changes ? undefined : ctx.durable.sync());
    Promise.resolve()
      .then(() => fn(sc.request, call))
      .then(
        async (res) => {
          try {
            await durable();
          } catch (e) {
            const err = new BerthError('berth-engine', 'internal', `metadata not written to disk: ${messageOf(e)}`);
            return callback(finish(ctx, call, started, err));
          }
          finish(ctx, call, started, undefined, cpu0);
          callback(null, res);
        },
        async (e: unknown) => {
          await durable()?.catch(() => undefined);
          callback(finish(ctx, call, started, e));
        },
      );
  };
}

export function serverStream<Req, Res>(
  ctx: EngineContext,
  method: string,
  fn: (req: Req, call: Call, stream: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (stream) => {
    const call = new Call(method, stream.metadata);
    const started = performance.now();
    Promise.resolve()
      .then(() => fn(stream.request, call, stream))
      .then(
        () => {
          finish(ctx, call, started, undefined);
          stream.end();
        },
        (e: unknown) => {
          const err = finish(ctx, call, started, e);
          if (!stream.cancelled && err) stream.emit('error', err);
        },
      );
  };
}

/** Writes `msg` and waits for the stream to drain when its buffer is full (a slow reader slows us, not our memory). */
export async function send<Res>(
  stream: grpc.ServerWritableStream<unknown, Res> | grpc.ServerDuplexStream<unknown, Res>,
  msg: Res,
): Promise<void> {
  if (stream.cancelled) throw new BerthError('berth-engine', 'failed-precondition', 'client went away');
  if (!stream.write(msg)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        stream.off('cancelled', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
      stream.on('cancelled', done);
    });
  }
}
