// The services of one containerd API connection, together (see README.md).

import { Connection, type ConnectionOptions } from './connection.js';
import {
  ContainersService,
  ContentService,
  DiffService,
  EventsService,
  ImagesService,
  IntrospectionService,
  LeasesService,
  NamespacesService,
  SnapshotsService,
  TasksService,
  VersionService,
} from './services.js';

export class ContainerdClient {
  readonly conn: Connection;
  readonly version: VersionService;
  readonly introspection: IntrospectionService;
  readonly namespaces: NamespacesService;
  readonly content: ContentService;
  readonly images: ImagesService;
  readonly diff: DiffService;
  readonly leases: LeasesService;
  readonly containers: ContainersService;
  readonly tasks: TasksService;
  readonly events: EventsService;
  private readonly snaps = new Map<string, SnapshotsService>();

  constructor(address: string, opts: ConnectionOptions);
  constructor(conn: Connection);
  constructor(a: string | Connection, opts?: ConnectionOptions) {
    this.conn = typeof a === 'string' ? new Connection(a, opts ?? { namespace: 'default' }) : a;
    this.version = new VersionService(this.conn);
    this.introspection = new IntrospectionService(this.conn);
    this.namespaces = new NamespacesService(this.conn);
    this.content = new ContentService(this.conn);
    this.images = new ImagesService(this.conn);
    this.diff = new DiffService(this.conn);
    this.leases = new LeasesService(this.conn);
    this.containers = new ContainersService(this.conn);
    this.tasks = new TasksService(this.conn);
    this.events = new EventsService(this.conn);
  }

  get namespace(): string {
    return this.conn.namespace;
  }

  snapshots(snapshotter: string): SnapshotsService {
    let s = this.snaps.get(snapshotter);
    if (!s) this.snaps.set(snapshotter, (s = new SnapshotsService(this.conn, snapshotter)));
    return s;
  }

  close(): void {
    this.conn.close();
  }
}
