// /_ping, /version, /info, /system/df, /events, /auth, and the answers for
// what berthd does not have (swarm, plugins, sessions): dockerd's own status
// and words for a node that is not a swarm manager, 501 elsewhere.

import { containerSizes } from './containers/sizes.js';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus, hostname, release, totalmem, type as osType } from 'node:os';
import type { Router } from './http/router.js';
import { API_VERSION, compareVersions, MIN_API_VERSION } from './http/router.js';
import { badRequest, HttpError } from './http/errors.js';
import type { ContainerManager } from './containers/manager.js';
import type { Runtime } from './containers/runtime.js';
import { hostCgroupVersion } from './containers/runtime.js';
import { dockerRuntimeName } from './containers/inspect-defaults.js';
import type { ImageService } from './images/service.js';
import { imageSummary, layerSharing } from './images/routes.js';
import { eventFilter, type EventBus, type DockerEvent } from './events.js';
import { parseFilters, summaryView } from './containers/views.js';
import { volumeView } from './volumes/routes.js';
import { login } from '../image/storeless.js';
import { messageOf } from '../common/errors.js';
import { registryInfo } from './registry-info.js';

export const BERTHD_VERSION = '0.1.0';

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le' };
const UNAME: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

/** A proxy URL with its password hidden, as dockerd's /info shows it. */
function maskProxy(u: string | undefined): string {
  if (!u) return '';
  try {
    const url = new URL(u);
    if (!url.password) return u;
    url.password = 'xxxxx';
    return url.toString();
  } catch {
    return u;
  }
}

export function systemRoutes(
  router: Router,
  m: ContainerManager,
  rt: Runtime,
  images: ImageService,
  events: EventBus,
): void {
  const { client, cfg } = m.s;
  const pingHeaders = {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    ctx.send(200, undefined, { ...pingHeaders, 'Content-Type': 'text/plain; charset=utf-8' }, 'OK');
  };
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', async (ctx) => {
    const c = await client.version.version();
    const now = new Date().toISOString();
    ctx.send(200, {
      Platform: { Name: 'Berth' },
      Components: [
        {
          Name: 'Engine',
          Version: BERTHD_VERSION,
          Details: {
            ApiVersion: API_VERSION,
            MinAPIVersion: MIN_API_VERSION,
            Os: 'linux',
            Arch: GOARCH[process.arch] ?? process.arch,
            KernelVersion: release(),
            Experimental: 'false',
            GitCommit: '',
            GoVersion: `node ${process.version}`,
            BuildTime: now,
          },
        },
        { Name: 'containerd', Version: c.version, Details: { GitCommit: c.revision } },
      ],
      Version: BERTHD_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: GOARCH[process.arch] ?? process.arch,
      KernelVersion: release(),
      BuildTime: now,
    });
  });

  router.add('GET', '/info', async (ctx) => {
    const all = m.all();
    const list = await images.list();
    const cgv = hostCgroupVersion();
    const c = await client.version.version();
    const forwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
    ctx.send(200, {
      ID: m.s.cfg.dataRoot,
      Containers: all.length,
      ContainersRunning: all.filter((r) => r.State.Status === 'running').length,
      ContainersPaused: all.filter((r) => r.State.Status === 'paused').length,
      ContainersStopped: all.filter((r) => !rt.running(r)).length,
      Images: list.length,
      Driver: cfg.snapshotter,
      DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: cgv === '2',
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: forwarding,
      Debug: cfg.logLevel === 'debug',
      NFd: readdirSync('/proc/self/fd').length,
      OomKillDisable: cgv === '1',
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: cfg.logDriver,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgv,
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: osType().toLowerCase(),
      Architecture: UNAME[process.arch] ?? process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      // the proxies berthd itself runs with, as dockerd reports its own (user:password masked)
      HttpProxy: maskProxy(process.env.HTTP_PROXY ?? process.env.http_proxy),
      HttpsProxy: maskProxy(process.env.HTTPS_PROXY ?? process.env.https_proxy),
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      GenericResources: null,
      RegistryConfig: registryInfo(cfg.insecureRegistries ?? ['127.0.0.0/8']),
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: cfg.dataRoot,
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTHD_VERSION,
      // dockerd's names: "runc" is containerd's io.containerd.runc.v2 running the runc binary
      Runtimes: {
        'io.containerd.runc.v2': { path: 'runc' },
        runc: { path: 'runc' },
        ...(cfg.runtime === 'io.containerd.runc.v2' ? {} : { [cfg.runtime]: { path: cfg.runtime } }),
      },
      DefaultRuntime: dockerRuntimeName(cfg.runtime),
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: cfg.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: c.revision, Expected: c.revision },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(cgv === '2' ? ['name=cgroupns'] : [])],
      // dockerd's words: the CLI prints them under `docker info`.
      Warnings: forwarding ? [] : ['WARNING: IPv4 forwarding is disabled'],
      Containerd: {
        Address: cfg.containerd,
        Namespaces: { Containers: cfg.containerdNamespace, Plugins: cfg.containerdNamespace },
      },
    });
  });

  router.add('GET', '/system/df', async (ctx) => {
    const list = await images.list();
    const all = m.all();
    const sizes = await containerSizes(m, all);
    // df lists SizeRw even when 0 (the CLI sums it)
    const containers = all.map((r, i) => ({ ...summaryView(r), SizeRw: 0, ...sizes[i] }));
    const sharing = layerSharing(list);
    // dockerd lists the local volumes without driver options, their size counted (a walk of _data)
    const vols = (await m.s.volumes.list()).filter((v) => Object.keys(v.Options ?? {}).length === 0);
    const volSizes = await Promise.all(vols.map((v) => m.s.volumes.size(v.Name)));
    ctx.send(200, {
      LayersSize: sharing.layersSize,
      Images: list.map((v) => imageSummary(v, m.all().filter((c) => c.Image === v.id).length, sharing.sharedSize(v))),
      Containers: containers,
      Volumes: vols.map((v, i) => volumeView(v, { Size: volSizes[i]!, RefCount: m.volumeUsers(v.Name).length })),
      BuildCache: [],
      // before API 1.42 dockerd also gave the build cache's total (no cache here: 0)
      ...(compareVersions(ctx.version, '1.42') < 0 ? { BuilderSize: 0 } : {}),
    });
  });

  router.add('GET', '/events', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    const since = eventTime(ctx.query.get('since'), 'since');
    const until = eventTime(ctx.query.get('until'), 'until');
    if (since !== undefined && until !== undefined && until < since)
      throw badRequest(
        `\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`,
        'until',
      );
    const filter = eventFilter(f);
    const inTime = (e: DockerEvent) => {
      const t = e.timeNano / 1e6;
      return (since === undefined || t >= since) && (until === undefined || t <= until);
    };
    const out = ctx.stream(200, 'application/json');
    const sub = events.subscribe((e) => inTime(e) && filter(e) && out.write(JSON.stringify(e) + '\n'));
    // dockerd replays the ring when either bound is given (an until alone: everything before it)
    if (since !== undefined || until !== undefined)
      for (const e of sub.past) if (inTime(e) && filter(e)) out.write(JSON.stringify(e) + '\n');
    const closed = new Promise<void>((res) => ctx.req.socket.once('close', () => res()));
    const done =
      until !== undefined
        ? new Promise<void>((res) => setTimeout(res, Math.max(0, until - Date.now())))
        : new Promise<void>(() => undefined);
    await Promise.race([closed, done]);
    sub.stop();
    out.end();
  });

  router.add('POST', '/auth', async (ctx) => {
    const body = (await ctx.json<{ username?: string; password?: string; serveraddress?: string }>()) ?? {};
    const server = body.serveraddress || 'https://index.docker.io/v1/';
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    // login() saves what it verified; berthd keeps no credentials, so it saves into a scratch dir that goes at once.
    const scratch = await mkdtemp(join(cfg.execRoot, 'auth-'));
    try {
      await login(host, body.username ?? '', body.password ?? '', {
        insecureRegistries: cfg.insecureRegistries,
        dockerConfigDir: scratch,
        mirrors: [],
      });
    } catch (e) {
      throw new HttpError(401, `login attempt to ${server} failed: ${messageOf(e)}`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    ctx.send(200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  const notSwarm = async () => {
    throw new HttpError(
      503,
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
    );
  };
  for (const p of ['/swarm', '/nodes', '/services', '/tasks', '/secrets', '/configs']) {
    router.add('GET', p, notSwarm);
    router.add('GET', `${p}/{rest:.*}`, notSwarm);
    router.add('POST', `${p}/{rest:.*}`, notSwarm);
    router.add('DELETE', `${p}/{rest:.*}`, notSwarm);
  }
  router.add('GET', '/plugins', async (ctx) => ctx.send(200, []));
  router.add('GET', '/plugins/{name:.+}/json', async (ctx) => {
    throw new HttpError(404, `plugin "${ctx.params.name}" not found`);
  });
  router.add('POST', '/plugins/{rest:.*}', async () => {
    throw new HttpError(501, 'berthd does not support plugins');
  });
  router.add('POST', '/session', async () => {
    throw new HttpError(501, 'berthd does not support BuildKit sessions (no builds yet)');
  });
}

/** `since`/`until` of /events: seconds since the epoch with an optional fraction, as the CLI sends them (ms). */
function eventTime(v: string | null, name: string): number | undefined {
  if (!v) return undefined;
  if (!/^\d+(\.\d{1,9})?$/.test(v)) throw badRequest(`invalid value for "${name}": ${v}`, name);
  return Number(v) * 1000;
}
