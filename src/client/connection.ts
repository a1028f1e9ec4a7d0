// One connection to a containerd API socket (a real containerd, or
// berth-engine): lazily made grpc-js clients per service over one channel,
// every call carrying the namespace header (and a lease header when asked),
// answered as promises, failures mapped to BerthError (./errors.ts).

import * as grpc from '@grpc/grpc-js';
import { clientConstructor, NAMESPACE_HEADER } from '../api/load.js';
import { fromGrpc } from './errors.js';
import type { Layer } from '../common/errors.js';

/** The gRPC metadata key containerd reads a lease id from (containerd's leases.WithLease). */
export const LEASE_HEADER = 'containerd-lease';

export interface ConnectionOptions {
  namespace: string;
  /** Deadline of unary calls; default 60 s; Infinity for none. Streams have none. */
  timeoutMs?: number;
  /** Which layer errors are attributed to ('berthd', 'berth-ctr'...). */
  layer?: Layer;
}

export interface CallOptions {
  lease?: string;
  timeoutMs?: number;
  /** A namespace other than the connection's (namespace-less services ignore it). */
  namespace?: string;
}

type UnaryMethod<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;
type ServerStreamMethod<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
) => grpc.ClientReadableStream<Res>;
type DuplexMethod<Req, Res> = (md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientDuplexStream<Req, Res>;

/** "unix:///run/containerd/containerd.sock" from a path or an address grpc-js understands. */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix:') || address.includes('://')) return address;
  if (address.startsWith('/')) return `unix://${address}`;
  return address;
}

/** How long a call that found no connection waits for the channel to reconnect before failing. */
const RECONNECT_WAIT_MS = 3000;

/** An UNAVAILABLE that grpc-js reports before a request was sent: no connection was up. */
function neverSent(e: grpc.ServiceError): boolean {
  return e.code === grpc.status.UNAVAILABLE && e.details.startsWith('No connection established');
}

export class Connection {
  readonly namespace: string;
  readonly address: string;
  private readonly layer: Layer;
  private readonly timeoutMs: number;
  private readonly clients: Map<string, grpc.Client>;
  private readonly channel: grpc.Channel;

  constructor(
    address: string,
    opts: ConnectionOptions,
    shared?: { clients: Map<string, grpc.Client>; channel: grpc.Channel },
    /** A connection of its own: not taken from (or given to) grpc-js's process-wide subchannel pool. */
    privateSocket = false,
  ) {
    this.address = address;
    this.namespace = opts.namespace;
    this.layer = opts.layer ?? 'berthd';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.clients = shared?.clients ?? new Map<string, grpc.Client>();
    // One channel for every service: one socket, one HTTP/2 connection.
    this.channel =
      shared?.channel ??
      new grpc.Channel(grpcTarget(address), grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        // A local socket: after the engine restarts (kill -9), reconnect within a second rather
        // than after grpc-js's backoff of up to 2 minutes, during which every call fails.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        ...(privateSocket ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
      });
  }

  /** The same channel, another namespace. */
  withNamespace(namespace: string): Connection {
    return new Connection(
      this.address,
      { namespace, timeoutMs: this.timeoutMs, layer: this.layer },
      { clients: this.clients, channel: this.channel },
    );
  }

  /**
   * The same address and namespace over a channel of its own (its own
   * HTTP/2 connection), for a stream whose flow control must not be shared
   * (see WriteSession); the caller closes it.
   */
  detached(): Connection {
    // grpc-js shares one subchannel (one socket) between the channels of a
    // process that have the same target and options, unless told otherwise.
    return new Connection(
      this.address,
      { namespace: this.namespace, timeoutMs: this.timeoutMs, layer: this.layer },
      undefined,
      true,
    );
  }

  private client(service: string): grpc.Client {
    let c = this.clients.get(service);
    if (!c) {
      const Ctor = clientConstructor(service);
      c = new Ctor(grpcTarget(this.address), grpc.credentials.createInsecure(), { channelOverride: this.channel });
      this.clients.set(service, c);
    }
    return c;
  }

  private method<M>(service: string, name: string): M {
    const c = this.client(service) as unknown as Record<string, unknown>;
    const fn = c[name];
    if (typeof fn !== 'function') throw new Error(`containerd API: ${service} has no method ${name}`);
    return (fn as (...a: unknown[]) => unknown).bind(c) as M;
  }

  metadata(opts: CallOptions = {}): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(NAMESPACE_HEADER, opts.namespace ?? this.namespace);
    if (opts.lease) md.set(LEASE_HEADER, opts.lease);
    return md;
  }

  unary<Req, Res>(service: string, name: string, req: Req, opts: CallOptions = {}): Promise<Res> {
    const fn = this.method<UnaryMethod<Req, Res>>(service, name);
    const what = `${service.split('.').at(-1) ?? service}.${name}`;
    return new Promise((resolve, reject) => {
      const ms = opts.timeoutMs ?? this.timeoutMs;
      // Infinity: no deadline at all (no grpc-timeout header), for calls that last as long as a container.
      const deadline = ms === Infinity ? Infinity : Date.now() + ms;
      fn(req, this.metadata(opts), { deadline }, (err, res) => {
        if (!err) return resolve(res as Res);
        if (!neverSent(err)) return reject(fromGrpc(err, what, this.layer));
        // The channel was between connections (the engine restarting): the request never left,
        // so it is sent again once the channel is up, for a few seconds at most.
        const retryBy = Math.min(deadline, Date.now() + RECONNECT_WAIT_MS);
        const md = this.metadata(opts);
        md.setOptions({ waitForReady: true });
        fn(req, md, { deadline: retryBy }, (err2, res2) => {
          if (!err2) return resolve(res2 as Res);
          // Still no connection when our wait ran out: the first error says why (no engine
          // answers at the address), not grpc-js's "Waiting for LB pick".
          const gaveUp = err2.code === grpc.status.DEADLINE_EXCEEDED && retryBy < deadline;
          reject(fromGrpc(gaveUp ? err : err2, what, this.layer));
        });
      });
    });
  }

  serverStream<Req, Res>(
    service: string,
    name: string,
    req: Req,
    opts: CallOptions = {},
  ): grpc.ClientReadableStream<Res> {
    return this.method<ServerStreamMethod<Req, Res>>(service, name)(req, this.metadata(opts), {});
  }

  duplex<Req, Res>(service: string, name: string, opts: CallOptions = {}): grpc.ClientDuplexStream<Req, Res> {
    return this.method<DuplexMethod<Req, Res>>(service, name)(this.metadata(opts), {});
  }

  /** Map a stream's error the way unary calls are mapped. */
  mapError(e: unknown, what: string): Error {
    return fromGrpc(e, what, this.layer);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    this.channel.close();
  }
}
