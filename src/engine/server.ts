// berth-engine's gRPC server: containerd's API on a unix socket. Each
// service is one folder under services/ exporting an EngineService; the list
// in services/index.ts is the whole API. Methods a service does not
// implement answer UNIMPLEMENTED (grpc-js does so for any method without a
// handler, and for unknown services), never a fake success.

import * as grpc from '@grpc/grpc-js';
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { serviceDefinition } from '../api/load.js';
import { BerthError, messageOf } from '../common/errors.js';
import type { EngineContext, OpenedEngine, PluginInfo } from './context.js';
import { noteActivity } from './trim.js';

export interface EngineService {
  /** containerd's full service name, e.g. "containerd.services.version.v1.Version". */
  readonly name: string;
  /** Its line in `ctr plugins ls` (type io.containerd.grpc.v1 for API services). */
  readonly plugins: PluginInfo[];
  /** Adds the service's handlers (server.addService(serviceDefinition(name), handlers)). */
  register(server: grpc.Server, ctx: EngineContext): void;
}

/** containerd's own limit for one message (16 MiB). */
const MAX_MESSAGE = 16 << 20;

export interface RunningServer {
  readonly address: string;
  /** Stops accepting, lets in-flight calls finish (up to `graceMs`), closes the stores. */
  stop(graceMs?: number): Promise<void>;
}

async function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function serve(ctx: OpenedEngine, services: EngineService[], address: string): Promise<RunningServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.max_send_message_length': MAX_MESSAGE,
    // No channelz: the engine serves no channelz service (nor does containerd),
    // and grpc-js would keep per-connection and per-call bookkeeping for it.
    'grpc.enable_channelz': 0,
  });
  for (const s of services) {
    s.register(server, ctx);
    ctx.plugins.push(...s.plugins);
  }
  mkdirSync(dirname(address), { recursive: true, mode: 0o711 });
  if (existsSync(address)) {
    if (await inUse(address)) {
      throw new BerthError(
        'berth-engine',
        'failed-precondition',
        `address ${address}: another process is serving on it`,
      );
    }
    unlinkSync(address); // left by a killed engine
  }
  // The socket is created with the process umask; tighten it before anyone can connect.
  const old = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      );
    });
  } catch (e) {
    throw new BerthError('berth-engine', 'unavailable', `listen on ${address}: ${messageOf(e)}`, { cause: e });
  } finally {
    process.umask(old);
  }
  chmodSync(address, 0o660);
  ctx.log.info('serving', { address, services: services.map((s) => s.name) });

  let stopping: Promise<void> | undefined;
  return {
    address,
    stop: (graceMs = 10_000) => {
      stopping ??= (async () => {
        ctx.beginShutdown(); // event subscriptions end, so they do not hold the shutdown
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            ctx.log.warn('in-flight calls did not finish in time; cancelling them', { graceMs });
            server.forceShutdown();
            resolve();
          }, graceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        try {
          unlinkSync(address);
        } catch {
          /* already gone */
        }
        await ctx.close();
        ctx.log.info('stopped', { address });
      })();
      return stopping;
    },
  };
}

/**
 * Adds containerd service `name` with `handlers`. Methods left out answer
 * UNIMPLEMENTED (grpc-js's default for a method without a handler).
 */
export function addService<H extends object>(server: grpc.Server, name: string, handlers: Partial<H>): void {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [k, v] of Object.entries(handlers)) {
    if (v === undefined) continue;
    const handler = v as (...args: unknown[]) => void;
    // every call re-arms the idle trim (trim.ts)
    impl[k] = ((...args: unknown[]) => {
      noteActivity();
      handler(...args);
    }) as grpc.UntypedHandleCall;
  }
  server.addService(serviceDefinition(name), impl);
}
