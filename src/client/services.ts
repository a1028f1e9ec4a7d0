// Promise-based wrappers of containerd's services, one small class each, typed
// with the messages generated from containerd's .proto files. They add only
// what every caller would otherwise repeat: the service's full name, the
// snapshotter name, and unwrapping single-field responses.

import type * as grpc from '@grpc/grpc-js';
import type { Connection, CallOptions } from './connection.js';
import type { Descriptor, Descriptor__Output } from '../api/gen/containerd/types/Descriptor.js';
import type { Mount, Mount__Output } from '../api/gen/containerd/types/Mount.js';
import type { Info__Output as ContentInfo } from '../api/gen/containerd/services/content/v1/Info.js';
import type { ReadContentResponse__Output } from '../api/gen/containerd/services/content/v1/ReadContentResponse.js';
import type { WriteContentRequest } from '../api/gen/containerd/services/content/v1/WriteContentRequest.js';
import type { WriteContentResponse__Output } from '../api/gen/containerd/services/content/v1/WriteContentResponse.js';
import type { Image, Image__Output } from '../api/gen/containerd/services/images/v1/Image.js';
import type { Info__Output as SnapshotInfo } from '../api/gen/containerd/services/snapshots/v1/Info.js';
import type { Container, Container__Output } from '../api/gen/containerd/services/containers/v1/Container.js';
import type { CreateTaskRequest } from '../api/gen/containerd/services/tasks/v1/CreateTaskRequest.js';
import type { ExecProcessRequest } from '../api/gen/containerd/services/tasks/v1/ExecProcessRequest.js';
import type { Process__Output } from '../api/gen/containerd/v1/types/Process.js';
import type { ProcessInfo__Output } from '../api/gen/containerd/v1/types/ProcessInfo.js';
import type { Metric__Output } from '../api/gen/containerd/types/Metric.js';
import type { Envelope__Output } from '../api/gen/containerd/services/events/v1/Envelope.js';
import type { Plugin__Output } from '../api/gen/containerd/services/introspection/v1/Plugin.js';
import type { Namespace__Output } from '../api/gen/containerd/services/namespaces/v1/Namespace.js';
import type { Status__Output as IngestStatus } from '../api/gen/containerd/services/content/v1/Status.js';
import type { Lease__Output } from '../api/gen/containerd/services/leases/v1/Lease.js';
import type { Resource__Output } from '../api/gen/containerd/services/leases/v1/Resource.js';
import type { Timestamp__Output } from '../api/gen/google/protobuf/Timestamp.js';

export type {
  ContentInfo,
  SnapshotInfo,
  Image__Output as ImageRecord,
  Container__Output as ContainerRecord,
  Process__Output as ProcessState,
};
export type {
  Mount__Output as MountSpec,
  Descriptor__Output as ContainerdDescriptor,
  Envelope__Output as EventEnvelope,
  Metric__Output,
  Namespace__Output as NamespaceRecord,
  IngestStatus,
  Lease__Output as LeaseRecord,
  Resource__Output as LeaseResourceRecord,
};

const S = {
  version: 'containerd.services.version.v1.Version',
  namespaces: 'containerd.services.namespaces.v1.Namespaces',
  content: 'containerd.services.content.v1.Content',
  images: 'containerd.services.images.v1.Images',
  snapshots: 'containerd.services.snapshots.v1.Snapshots',
  diff: 'containerd.services.diff.v1.Diff',
  leases: 'containerd.services.leases.v1.Leases',
  containers: 'containerd.services.containers.v1.Containers',
  tasks: 'containerd.services.tasks.v1.Tasks',
  events: 'containerd.services.events.v1.Events',
  introspection: 'containerd.services.introspection.v1.Introspection',
} as const;

/** A protobuf Timestamp as a Date (null when unset). */
export function dateOf(t: Timestamp__Output | null | undefined): Date | null {
  if (!t || (!t.seconds && !t.nanos)) return null;
  return new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6));
}

export class VersionService {
  constructor(private readonly c: Connection) {}
  version(): Promise<{ version: string; revision: string }> {
    return this.c.unary(S.version, 'Version', {});
  }
}

export class IntrospectionService {
  constructor(private readonly c: Connection) {}
  async plugins(filters: string[] = []): Promise<Plugin__Output[]> {
    return (await this.c.unary<object, { plugins: Plugin__Output[] }>(S.introspection, 'Plugins', { filters })).plugins;
  }
  /** The server's UUID (containerd's `ctr version` prints it). */
  async server(): Promise<{ uuid: string }> {
    return this.c.unary(S.introspection, 'Server', {});
  }
}

export class NamespacesService {
  constructor(private readonly c: Connection) {}
  async create(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.c.unary(S.namespaces, 'Create', { namespace: { name, labels } });
  }
  async list(): Promise<Namespace__Output[]> {
    return (await this.c.unary<object, { namespaces: Namespace__Output[] }>(S.namespaces, 'List', {})).namespaces;
  }
  async get(name: string): Promise<Namespace__Output> {
    return (await this.c.unary<object, { namespace: Namespace__Output }>(S.namespaces, 'Get', { name })).namespace;
  }
  /** Replace the labels listed in `fields` ("labels.<key>"); absent keys in `labels` are removed. */
  async updateLabels(name: string, labels: Record<string, string>, fields: string[]): Promise<Namespace__Output> {
    const req = { namespace: { name, labels }, update_mask: { paths: fields } };
    return (await this.c.unary<object, { namespace: Namespace__Output }>(S.namespaces, 'Update', req)).namespace;
  }
  async delete(name: string): Promise<void> {
    await this.c.unary(S.namespaces, 'Delete', { name });
  }
}

export class ContentService {
  constructor(private readonly c: Connection) {}
  async info(digest: string): Promise<ContentInfo> {
    return (await this.c.unary<object, { info: ContentInfo }>(S.content, 'Info', { digest })).info;
  }
  async list(filters: string[] = []): Promise<ContentInfo[]> {
    const out: ContentInfo[] = [];
    const stream = this.c.serverStream<object, { info: ContentInfo[] }>(S.content, 'List', { filters });
    for await (const r of stream as AsyncIterable<{ info: ContentInfo[] }>) out.push(...r.info);
    return out;
  }
  /** Replace the labels listed in `fields` ("labels.<key>"); absent keys in `labels` are removed. */
  async updateLabels(
    digest: string,
    labels: Record<string, string>,
    fields: string[],
    opts?: CallOptions,
  ): Promise<void> {
    await this.c.unary(S.content, 'Update', { info: { digest, labels }, update_mask: { paths: fields } }, opts);
  }
  async delete(digest: string): Promise<void> {
    await this.c.unary(S.content, 'Delete', { digest });
  }
  read(digest: string, offset = 0, size = 0): grpc.ClientReadableStream<ReadContentResponse__Output> {
    return this.c.serverStream(S.content, 'Read', { digest, offset, size });
  }
  async readAll(digest: string, maxSize: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const r of this.read(digest) as AsyncIterable<ReadContentResponse__Output>) {
      n += r.data.length;
      if (n > maxSize) throw new Error(`content ${digest}: more than ${maxSize} bytes`);
      chunks.push(r.data);
    }
    return Buffer.concat(chunks);
  }
  write(opts?: CallOptions): grpc.ClientDuplexStream<WriteContentRequest, WriteContentResponse__Output> {
    return this.c.duplex(S.content, 'Write', opts);
  }
  async abort(ref: string): Promise<void> {
    await this.c.unary(S.content, 'Abort', { ref });
  }
  /** The ingests in progress or interrupted (containerd's ListStatuses). */
  async statuses(filters: string[] = []): Promise<IngestStatus[]> {
    return (await this.c.unary<object, { statuses: IngestStatus[] }>(S.content, 'ListStatuses', { filters })).statuses;
  }
}

export class ImagesService {
  constructor(private readonly c: Connection) {}
  async get(name: string): Promise<Image__Output> {
    return (await this.c.unary<object, { image: Image__Output }>(S.images, 'Get', { name })).image;
  }
  async list(filters: string[] = []): Promise<Image__Output[]> {
    return (await this.c.unary<object, { images: Image__Output[] }>(S.images, 'List', { filters })).images;
  }
  async create(image: Image, opts?: CallOptions): Promise<Image__Output> {
    return (await this.c.unary<object, { image: Image__Output }>(S.images, 'Create', { image }, opts)).image;
  }
  async update(image: Image, fields: string[] = [], opts?: CallOptions): Promise<Image__Output> {
    const req = fields.length ? { image, update_mask: { paths: fields } } : { image };
    return (await this.c.unary<object, { image: Image__Output }>(S.images, 'Update', req, opts)).image;
  }
  async delete(name: string, sync = false): Promise<void> {
    await this.c.unary(S.images, 'Delete', { name, sync });
  }
}

export class SnapshotsService {
  constructor(
    private readonly c: Connection,
    readonly snapshotter: string,
  ) {}
  /** An active snapshot on `parent` (Prepare), or a read-only view of it (View). */
  private async make(
    method: 'Prepare' | 'View',
    key: string,
    parent: string,
    labels: Record<string, string>,
    opts?: CallOptions,
  ): Promise<Mount__Output[]> {
    const req = { snapshotter: this.snapshotter, key, parent, labels };
    return (await this.c.unary<object, { mounts: Mount__Output[] }>(S.snapshots, method, req, opts)).mounts;
  }
  prepare(key: string, parent: string, labels: Record<string, string> = {}, opts?: CallOptions) {
    return this.make('Prepare', key, parent, labels, opts);
  }
  view(key: string, parent: string, labels: Record<string, string> = {}, opts?: CallOptions) {
    return this.make('View', key, parent, labels, opts);
  }
  async mounts(key: string): Promise<Mount__Output[]> {
    return (
      await this.c.unary<object, { mounts: Mount__Output[] }>(S.snapshots, 'Mounts', {
        snapshotter: this.snapshotter,
        key,
      })
    ).mounts;
  }
  async commit(name: string, key: string, labels: Record<string, string> = {}, opts?: CallOptions): Promise<void> {
    await this.c.unary(S.snapshots, 'Commit', { snapshotter: this.snapshotter, name, key, labels }, opts);
  }
  async remove(key: string): Promise<void> {
    await this.c.unary(S.snapshots, 'Remove', { snapshotter: this.snapshotter, key });
  }
  async stat(key: string): Promise<SnapshotInfo> {
    return (
      await this.c.unary<object, { info: SnapshotInfo }>(S.snapshots, 'Stat', { snapshotter: this.snapshotter, key })
    ).info;
  }
  async list(filters: string[] = []): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    const stream = this.c.serverStream<object, { info: SnapshotInfo[] }>(S.snapshots, 'List', {
      snapshotter: this.snapshotter,
      filters,
    });
    for await (const r of stream as AsyncIterable<{ info: SnapshotInfo[] }>) out.push(...r.info);
    return out;
  }
  async usage(key: string): Promise<{ size: number; inodes: number }> {
    return this.c.unary(S.snapshots, 'Usage', { snapshotter: this.snapshotter, key });
  }
}

export class DiffService {
  constructor(private readonly c: Connection) {}
  /** Apply a layer onto mounts; answers the applied (uncompressed) descriptor. */
  async apply(diff: Descriptor, mounts: Mount[], opts?: CallOptions): Promise<Descriptor__Output> {
    const res = await this.c.unary<object, { applied: Descriptor__Output }>(
      S.diff,
      'Apply',
      { diff, mounts },
      { timeoutMs: 600_000, ...opts },
    );
    return res.applied;
  }
}

export class LeasesService {
  constructor(private readonly c: Connection) {}
  async create(id: string, labels: Record<string, string> = {}): Promise<string> {
    return (await this.c.unary<object, { lease: { id: string } }>(S.leases, 'Create', { id, labels })).lease.id;
  }
  async delete(id: string, sync = false): Promise<void> {
    await this.c.unary(S.leases, 'Delete', { id, sync });
  }
  async addResource(id: string, resource: { id: string; type: string }): Promise<void> {
    await this.c.unary(S.leases, 'AddResource', { id, resource });
  }
  async list(filters: string[] = []): Promise<Lease__Output[]> {
    return (await this.c.unary<object, { leases: Lease__Output[] }>(S.leases, 'List', { filters })).leases;
  }
  async resources(id: string): Promise<Resource__Output[]> {
    return (await this.c.unary<object, { resources: Resource__Output[] }>(S.leases, 'ListResources', { id })).resources;
  }
}

export class ContainersService {
  constructor(private readonly c: Connection) {}
  async create(container: Container): Promise<Container__Output> {
    return (await this.c.unary<object, { container: Container__Output }>(S.containers, 'Create', { container }))
      .container;
  }
  async get(id: string): Promise<Container__Output> {
    return (await this.c.unary<object, { container: Container__Output }>(S.containers, 'Get', { id })).container;
  }
  async list(filters: string[] = []): Promise<Container__Output[]> {
    return (await this.c.unary<object, { containers: Container__Output[] }>(S.containers, 'List', { filters }))
      .containers;
  }
  async update(container: Container, fields: string[]): Promise<Container__Output> {
    const req = { container, update_mask: { paths: fields } };
    return (await this.c.unary<object, { container: Container__Output }>(S.containers, 'Update', req)).container;
  }
  async delete(id: string): Promise<void> {
    await this.c.unary(S.containers, 'Delete', { id });
  }
}

export class TasksService {
  constructor(private readonly c: Connection) {}
  async create(req: CreateTaskRequest): Promise<{ container_id: string; pid: number }> {
    return this.c.unary(S.tasks, 'Create', req, { timeoutMs: 120_000 });
  }
  async start(containerId: string, execId = ''): Promise<number> {
    return (
      await this.c.unary<object, { pid: number }>(S.tasks, 'Start', { container_id: containerId, exec_id: execId })
    ).pid;
  }
  async delete(containerId: string): Promise<{ exit_status: number; exited_at: Timestamp__Output | null }> {
    return this.c.unary(S.tasks, 'Delete', { container_id: containerId });
  }
  async deleteProcess(containerId: string, execId: string): Promise<{ exit_status: number }> {
    return this.c.unary(S.tasks, 'DeleteProcess', { container_id: containerId, exec_id: execId });
  }
  async get(containerId: string, execId = ''): Promise<Process__Output> {
    return (
      await this.c.unary<object, { process: Process__Output }>(S.tasks, 'Get', {
        container_id: containerId,
        exec_id: execId,
      })
    ).process;
  }
  async list(): Promise<Process__Output[]> {
    return (await this.c.unary<object, { tasks: Process__Output[] }>(S.tasks, 'List', { filter: '' })).tasks;
  }
  async kill(containerId: string, signal: number, opts: { execId?: string; all?: boolean } = {}): Promise<void> {
    await this.c.unary(S.tasks, 'Kill', {
      container_id: containerId,
      exec_id: opts.execId ?? '',
      signal,
      all: opts.all ?? false,
    });
  }
  /** Resolves when the process exits; no deadline (a container may run for months). */
  async wait(containerId: string, execId = ''): Promise<{ exit_status: number; exited_at: Timestamp__Output | null }> {
    return this.c.unary(S.tasks, 'Wait', { container_id: containerId, exec_id: execId }, { timeoutMs: Infinity });
  }
  async exec(req: ExecProcessRequest): Promise<void> {
    await this.c.unary(S.tasks, 'Exec', req);
  }
  async pids(containerId: string): Promise<ProcessInfo__Output[]> {
    return (
      await this.c.unary<object, { processes: ProcessInfo__Output[] }>(S.tasks, 'ListPids', {
        container_id: containerId,
      })
    ).processes;
  }
  async pause(containerId: string): Promise<void> {
    await this.c.unary(S.tasks, 'Pause', { container_id: containerId });
  }
  async resume(containerId: string): Promise<void> {
    await this.c.unary(S.tasks, 'Resume', { container_id: containerId });
  }
  async resize(containerId: string, execId: string, width: number, height: number): Promise<void> {
    await this.c.unary(S.tasks, 'ResizePty', { container_id: containerId, exec_id: execId, width, height });
  }
  async closeStdin(containerId: string, execId = ''): Promise<void> {
    await this.c.unary(S.tasks, 'CloseIO', { container_id: containerId, exec_id: execId, stdin: true });
  }
  /** New cgroup limits for a running task: `resources` is an OCI LinuxResources object (sent as JSON in an Any). */
  async update(containerId: string, resources: object): Promise<void> {
    await this.c.unary(S.tasks, 'Update', {
      container_id: containerId,
      resources: {
        type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
        value: Buffer.from(JSON.stringify(resources)),
      },
    });
  }
  async metrics(filters: string[]): Promise<Metric__Output[]> {
    return (await this.c.unary<object, { metrics: Metric__Output[] }>(S.tasks, 'Metrics', { filters })).metrics;
  }
}

export class EventsService {
  constructor(private readonly c: Connection) {}
  /** containerd's event stream (filters in containerd's syntax, e.g. `topic~="/tasks/"`). */
  subscribe(filters: string[] = []): grpc.ClientReadableStream<Envelope__Output> {
    return this.c.serverStream(S.events, 'Subscribe', { filters });
  }
}
