// The create body (Config + HostConfig + NetworkingConfig), validated once
// where it enters: wrong types are a 400 naming the field, as dockerd's JSON
// decoder does ("json: cannot unmarshal string into Go struct field
// Config.Cmd"); fields berthd does not act on are kept, not refused, as
// dockerd keeps them. Everything inside the daemon trusts these types.

import { z } from 'zod';
import { badRequest } from '../http/errors.js';
import { HealthcheckSchema } from './healthcheck.js';

const strList = z.union([z.array(z.string()), z.string().transform((s) => [s])]).nullish();
const strMap = z.record(z.string(), z.string()).nullish();

export const MountSchema = z.looseObject({
  Type: z.string().optional(),
  Source: z.string().optional(),
  Target: z.string(),
  ReadOnly: z.boolean().optional(),
  BindOptions: z
    .looseObject({ Propagation: z.string().optional(), CreateMountpoint: z.boolean().optional() })
    .nullish(),
  VolumeOptions: z
    .looseObject({ NoCopy: z.boolean().optional(), Labels: strMap, Subpath: z.string().optional() })
    .nullish(),
  TmpfsOptions: z.looseObject({ SizeBytes: z.number().int().optional(), Mode: z.number().int().optional() }).nullish(),
});

const Ulimit = z.object({ Name: z.string(), Soft: z.number().int(), Hard: z.number().int() });
const Device = z.object({
  PathOnHost: z.string(),
  PathInContainer: z.string().optional(),
  CgroupPermissions: z.string().optional(),
});

export const HostConfigSchema = z.looseObject({
  Binds: z.array(z.string()).nullish(),
  Mounts: z.array(MountSchema).nullish(),
  Tmpfs: strMap,
  NetworkMode: z.string().optional(),
  PortBindings: z
    .record(
      z.string(),
      z.array(z.looseObject({ HostIp: z.string().optional(), HostPort: z.string().optional() })).nullish(),
    )
    .nullish(),
  RestartPolicy: z
    .looseObject({ Name: z.string().optional(), MaximumRetryCount: z.number().int().optional() })
    .nullish(),
  AutoRemove: z.boolean().optional(),
  ReadonlyRootfs: z.boolean().optional(),
  Privileged: z.boolean().optional(),
  CapAdd: strList,
  CapDrop: strList,
  SecurityOpt: z.array(z.string()).nullish(),
  Ulimits: z.array(Ulimit).nullish(),
  Sysctls: strMap,
  ShmSize: z.number().int().nonnegative().optional(),
  PidMode: z.string().optional(),
  IpcMode: z.string().optional(),
  UTSMode: z.string().optional(),
  Init: z.boolean().nullish(),
  GroupAdd: z.array(z.string()).nullish(),
  Devices: z.array(Device).nullish(),
  Memory: z.number().int().nonnegative().optional(),
  MemorySwap: z.number().int().optional(),
  MemoryReservation: z.number().int().nonnegative().optional(),
  // a negative count is create's range error (verify.ts), in dockerd's words
  NanoCpus: z.number().int().optional(),
  CpuShares: z.number().int().nonnegative().optional(),
  CpuPeriod: z.number().int().nonnegative().optional(),
  CpuQuota: z.number().int().optional(),
  CpusetCpus: z.string().optional(),
  CpusetMems: z.string().optional(),
  PidsLimit: z.number().int().nullish(),
  OomScoreAdj: z.number().int().optional(),
  BlkioWeight: z.number().int().nonnegative().optional(),
  LogConfig: z.looseObject({ Type: z.string().optional(), Config: strMap }).nullish(),
  VolumesFrom: z.array(z.string()).nullish(),
  Dns: z.array(z.string()).nullish(),
  ExtraHosts: z.array(z.string()).nullish(),
  MaskedPaths: z.array(z.string()).nullish(),
  ReadonlyPaths: z.array(z.string()).nullish(),
  CgroupnsMode: z.string().optional(),
  Runtime: z.string().optional(),
});

export const ConfigSchema = z.looseObject({
  Hostname: z.string().optional(),
  Domainname: z.string().optional(),
  User: z.string().optional(),
  AttachStdin: z.boolean().optional(),
  AttachStdout: z.boolean().optional(),
  AttachStderr: z.boolean().optional(),
  Tty: z.boolean().optional(),
  OpenStdin: z.boolean().optional(),
  StdinOnce: z.boolean().optional(),
  Env: z.array(z.string()).nullish(),
  Cmd: strList,
  Entrypoint: strList,
  Image: z.string().optional(),
  Labels: strMap,
  WorkingDir: z.string().optional(),
  StopSignal: z.string().optional(),
  StopTimeout: z.number().int().nullish(),
  Volumes: z.record(z.string(), z.looseObject({})).nullish(),
  ExposedPorts: z.record(z.string(), z.looseObject({})).nullish(),
  Healthcheck: HealthcheckSchema.nullish(),
  Shell: z.array(z.string()).nullish(),
  HostConfig: HostConfigSchema.nullish(),
  NetworkingConfig: z.looseObject({}).nullish(),
});

export type CreateBody = z.infer<typeof ConfigSchema>;
export type HostConfig = z.infer<typeof HostConfigSchema>;

/** Parse with the first problem named by its path, as dockerd names the struct field. */
export function parseCreateBody(raw: unknown): CreateBody {
  if (raw === undefined) throw badRequest('config cannot be empty in order to create a container');
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.') || 'body';
  throw badRequest(`invalid container config: ${path}: ${issue.message}`, path);
}
