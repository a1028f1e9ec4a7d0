// berthd put together: the containerd connection (namespace made if
// missing), the stores under --data-root, the router with every route, the
// listeners (unix sockets root-only 0660, optional TCP on 127.0.0.1), the
// restore of containers from the last run, and the shutdown on SIGTERM.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ContainerdClient } from '../client/index.js';
import { isAlreadyExists } from '../client/errors.js';
import { BerthError, messageOf } from '../common/errors.js';
import { Logger } from '../common/log.js';
import { IdleTrim } from '../common/idle-trim.js';
import { checkHost, type DaemonConfig } from './config.js';
import { ContainerManager } from './containers/manager.js';
import { Runtime } from './containers/runtime.js';
import { Execs } from './containers/exec.js';
import { watchOOM } from './containers/oom.js';
import { containerRoutes } from './containers/routes.js';
import { EventBus } from './events.js';
import { Router } from './http/router.js';
import { ImageService } from './images/service.js';
import { imageRoutes } from './images/routes.js';
import { systemRoutes } from './system.js';
import { VolumeStore } from './volumes/store.js';
import { volumeRoutes } from './volumes/routes.js';
import { ContainerNetworking } from './networking/service.js';
import { networkRoutes } from './networking/routes.js';

export interface Daemon {
  close(): Promise<void>;
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const out = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
  const gid = Number(out.split(':')[2]);
  if (!Number.isInteger(gid))
    throw new BerthError('berthd', 'invalid-argument', `group ${name}: not found`, { field: 'group' });
  return gid;
}

export async function startDaemon(cfg: DaemonConfig, log: Logger): Promise<Daemon> {
  await mkdir(cfg.dataRoot, { recursive: true, mode: 0o710 });
  await mkdir(cfg.execRoot, { recursive: true, mode: 0o700 });
  const client = new ContainerdClient(cfg.containerd, { namespace: cfg.containerdNamespace, layer: 'berthd' });
  try {
    const v = await client.version.version();
    log.info('connected to containerd', {
      address: cfg.containerd,
      version: v.version,
      namespace: cfg.containerdNamespace,
    });
  } catch (e) {
    client.close();
    throw new BerthError('berthd', 'unavailable', `containerd at ${cfg.containerd}: ${messageOf(e)}`, { cause: e });
  }
  await client.namespaces.create(cfg.containerdNamespace).catch((e: unknown) => {
    if (!isAlreadyExists(e)) throw e;
  });
  const events = new EventBus();
  const images = new ImageService(client);
  const volumes = new VolumeStore(join(cfg.dataRoot, 'volumes'));
  let nets: ContainerNetworking;
  try {
    nets = await ContainerNetworking.open(cfg, join(cfg.dataRoot, 'network'), log);
  } catch (e) {
    client.close();
    throw new BerthError('berthd', 'unavailable', `networks: ${messageOf(e)}`, { cause: e });
  }
  const manager = new ContainerManager({ client, images, volumes, events, log, cfg, nets });
  events.containerLabels = (id) => (manager.has(id) ? (manager.get(id).Config.Labels ?? undefined) : undefined);
  const runtime = new Runtime(manager);
  const execs = new Execs(runtime);
  const oom = watchOOM(client, cfg.containerdNamespace, log, (id, at) => {
    runtime
      .markOOM(id, at)
      .catch((e: unknown) => log.error('recording an OOM kill failed', { container: id, error: messageOf(e) }));
  });

  // One Tasks.List answers every container's restore (no Tasks.Get each).
  const tasks = await runtime.taskStates();
  for (const r of await manager.load()) {
    await runtime
      .restore(r, tasks)
      .catch((e: unknown) => log.error('restore failed', { container: r.Id, error: messageOf(e) }));
  }
  // Removals whose clean-up a previous berthd did not finish go on (containers/removal.ts).
  await runtime.removals.resume();
  // containerd containers of creates that berthd's end cut short go.
  const known = (id: string) => manager.has(id) || runtime.removals.has(id);
  for (const id of await runtime.ctrd.sweep(known).catch(() => []))
    log.info('containerd container without a record removed', { container: id });
  // Endpoints of containers that ended while berthd was away (or never started) go.
  await nets.sweep((id) => manager.has(id) && runtime.running(manager.get(id)));

  const router = new Router(log);
  systemRoutes(router, manager, runtime, images, events);
  imageRoutes(router, images, manager);
  containerRoutes(router, manager, runtime, execs);
  volumeRoutes(router, manager);
  networkRoutes(router, manager, runtime);

  // A full collection a quiet second after each burst of requests (under Bun).
  const trim = new IdleTrim();
  const onRequest = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    log.debug('request', { method: req.method, url: req.url });
    trim.note();
    res.once('close', () => trim.note());
    router.serve(req, res).catch((e: unknown) => log.error('request handling failed', { error: messageOf(e) }));
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    log.debug('request (upgrade)', { method: req.method, url: req.url });
    trim.note();
    socket.once('close', () => trim.note());
    socket.on('error', () => socket.destroy());
    router
      .serve(req, undefined, socket, head)
      .catch((e: unknown) => log.error('request handling failed', { error: messageOf(e) }));
  };
  const servers: Server[] = [];
  const sockets: string[] = [];
  const gid = cfg.group ? groupId(cfg.group) : 0;
  for (const h of cfg.hosts) {
    const l = checkHost(h);
    const server = createServer({ keepAliveTimeout: 0 }, onRequest);
    server.on('upgrade', onUpgrade);
    // Streams (logs -f, events, attach) live as long as the client wants.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    if (l.kind === 'unix') {
      await mkdir(dirname(l.path!), { recursive: true, mode: 0o755 });
      await rm(l.path!, { force: true });
      await new Promise<void>((res, rej) => server.once('error', rej).listen(l.path!, () => res()));
      await chmod(l.path!, 0o660);
      await chown(l.path!, 0, gid);
      sockets.push(l.path!);
    } else {
      await new Promise<void>((res, rej) => server.once('error', rej).listen(l.port, l.host, () => res()));
    }
    servers.push(server);
    log.info('API listening', { host: h });
  }
  if (cfg.pidfile) await writeFile(cfg.pidfile, `${process.pid}\n`);

  return {
    async close() {
      trim.stop();
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
      await runtime.shutdown(cfg.liveRestore);
      oom.close();
      // The kernel keeps bridges, veths and rules (live-restore); the port-holding sockets close.
      await nets.nets.close();
      for (const p of sockets) await rm(p, { force: true });
      if (cfg.pidfile) await rm(cfg.pidfile, { force: true });
      client.close();
      log.info('berthd stopped', { liveRestore: cfg.liveRestore });
    },
  };
}
