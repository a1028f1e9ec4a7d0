// The bench-only fixture of run-floor.ts: a gRPC server speaking containerd's
// API that answers each call `ctr run --rm --rootfs R ID CMD` makes at once,
// with valid replies and no container behind them, so that what `ctr run
// --rm` costs against it is ctr's own work plus the transport (grpc-js on
// Bun, as berth-engine serves it). Never used by src/.
//
// The task's stdio are treated as a shim treats them for a process that
// exits at once with no output: the FIFOs ctr named are opened at Create
// (stdin for reading, stdout/stderr read-write as a shim does) and closed at Start, so ctr
// sees EOF on its copies exactly as with a real container; Wait answers
// (exit status 0) once Start did.
//
//   bun bench/run-floor-server.ts SOCKET [SPEC-FILE] [--raw]   (started by run-floor.ts)
//
// With SPEC-FILE, the OCI spec of each containers.Create is written there.
// With --raw, the same answers go over node:http2 with gRPC's framing by
// hand instead of grpc-js (serveRawHttp2).
//
// Prints "ready" on stdout once it listens; on SIGUSR2 prints its call counts
// as JSON (per method) and its CPU time so far.

import * as grpc from '@grpc/grpc-js';
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http2';
import { serviceDefinition } from '../src/api/load.js';

const RAW = process.argv.includes('--raw');
const [sock, SPEC_OUT] = process.argv.slice(2).filter((a) => a !== '--raw');
if (!sock) throw new Error('usage: run-floor-server.ts SOCKET [SPEC-FILE] [--raw]');

type Unary = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

const counts: Record<string, number> = {};
const now = () => {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
};

interface Task {
  pid: number;
  fds: number[];
  exited?: ReturnType<typeof now>;
  waiters: (() => void)[];
}
const tasks = new Map<string, Task>();
const containers = new Map<string, Record<string, unknown>>();
let nextPid = 1000;

/** Opens a FIFO ctr made without blocking. */
function openFifo(path: unknown, flags: number): number | undefined {
  if (typeof path !== 'string' || path === '') return undefined;
  return openSync(path, flags | constants.O_NONBLOCK);
}

const handlers: Record<string, Record<string, Unary>> = {
  'containerd.services.version.v1.Version': {
    Version: (_c, cb) => cb(null, { version: 'run-floor', revision: '0' }),
  },
  'containerd.services.introspection.v1.Introspection': {
    Server: (_c, cb) => cb(null, { uuid: 'run-floor', pid: process.pid, pidns: 0 }),
  },
  'containerd.services.leases.v1.Leases': {
    Create: (c, cb) =>
      cb(null, { lease: { id: c.request.id || `lease-${Date.now()}`, created_at: now(), labels: c.request.labels } }),
    Delete: (_c, cb) => cb(null, {}),
  },
  'containerd.services.containers.v1.Containers': {
    Create: (c, cb) => {
      const ctr: Record<string, unknown> = {
        ...(c.request.container as Record<string, unknown>),
        created_at: now(),
        updated_at: now(),
      };
      containers.set(String(ctr.id), ctr);
      // the OCI spec ctr made (JSON in an Any), for run-floor.ts to run the same container with a runtime
      const spec = (ctr.spec as { value?: Buffer } | undefined)?.value;
      if (SPEC_OUT && spec) writeFileSync(SPEC_OUT, spec);
      cb(null, { container: ctr });
    },
    Get: (c, cb) => {
      const ctr = containers.get(String(c.request.id));
      if (!ctr) cb({ code: grpc.status.NOT_FOUND, details: `container "${String(c.request.id)}": not found` });
      else cb(null, { container: ctr });
    },
    Delete: (c, cb) => {
      containers.delete(String(c.request.id));
      cb(null, {});
    },
  },
  'containerd.services.tasks.v1.Tasks': {
    Create: (c, cb) => {
      const r = c.request;
      const fds = [
        openFifo(r.stdin, constants.O_RDONLY),
        // read-write, as containerd's shim opens them: no ENXIO while ctr's reader is not open yet
        openFifo(r.stdout, constants.O_RDWR),
        openFifo(r.stderr, constants.O_RDWR),
      ].filter((fd): fd is number => fd !== undefined);
      const pid = nextPid++;
      tasks.set(String(r.container_id), { pid, fds, waiters: [] });
      cb(null, { container_id: r.container_id, pid });
    },
    Start: (c, cb) => {
      const t = tasks.get(String(c.request.container_id));
      if (!t) return cb({ code: grpc.status.NOT_FOUND, details: 'task not found' });
      for (const fd of t.fds.splice(0)) closeSync(fd); // the process exited at once: EOF on ctr's copies
      t.exited = now();
      cb(null, { pid: t.pid });
      for (const w of t.waiters.splice(0)) w();
    },
    Wait: (c, cb) => {
      const t = tasks.get(String(c.request.container_id));
      if (!t) return cb({ code: grpc.status.NOT_FOUND, details: 'task not found' });
      const answer = () => cb(null, { exit_status: 0, exited_at: t.exited });
      if (t.exited) answer();
      else t.waiters.push(answer);
    },
    Delete: (c, cb) => {
      const id = String(c.request.container_id);
      const t = tasks.get(id);
      if (!t) return cb({ code: grpc.status.NOT_FOUND, details: 'task not found' });
      tasks.delete(id);
      cb(null, { id, pid: t.pid, exit_status: 0, exited_at: t.exited });
    },
  },
};

const count = (service: string, name: string) => {
  const k = `${service.split('.')[2]}.${name}`;
  counts[k] = (counts[k] ?? 0) + 1;
};

/** grpc-js, as berth-engine serves. */
function serveGrpcJs(): void {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  for (const [service, methods] of Object.entries(handlers)) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, h] of Object.entries(methods)) {
      impl[name] = ((call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        count(service, name);
        h(call, cb);
      }) as grpc.UntypedHandleCall;
    }
    server.addService(serviceDefinition(service), impl);
  }
  server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    console.log('ready');
  });
}

/**
 * The same answers over Bun's node:http2 with gRPC's framing by hand (a
 * 5-byte prefix per message, the status in trailers): what the transport
 * costs without grpc-js's layers (interceptors, metadata, call objects).
 */
function serveRawHttp2(): void {
  const routes = new Map<string, { h: Unary; def: grpc.MethodDefinition<object, object>; service: string }>();
  for (const [service, methods] of Object.entries(handlers)) {
    const defs = serviceDefinition(service);
    for (const [name, h] of Object.entries(methods))
      routes.set(`/${service}/${name}`, { h, def: defs[name] as grpc.MethodDefinition<object, object>, service });
  }
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const route = routes.get(String(headers[':path']));
    if (!route) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpc.status.UNIMPLEMENTED) },
        { endStream: true },
      );
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const request = route.def.requestDeserialize(body.subarray(5)) as Record<string, unknown>;
      count(route.service, String(headers[':path']).split('/')[2]!);
      const call = { request } as grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
      route.h(call, (err, value) => {
        if (err) {
          const e = err as { code?: number; details?: string };
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': String(e.code ?? grpc.status.UNKNOWN),
              'grpc-message': encodeURIComponent(e.details ?? ''),
            },
            { endStream: true },
          );
          return;
        }
        const msg = route.def.responseSerialize(value as object);
        const frame = Buffer.alloc(5 + msg.length);
        frame.writeUInt32BE(msg.length, 1);
        msg.copy(frame, 5);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      });
    });
  });
  server.listen(sock, () => console.log('ready'));
}

if (RAW) serveRawHttp2();
else serveGrpcJs();

process.on('SIGUSR2', () => {
  const u = process.cpuUsage();
  console.log(JSON.stringify({ counts, cpuMs: (u.user + u.system) / 1000 }));
});
