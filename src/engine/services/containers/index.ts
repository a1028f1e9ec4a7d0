// containerd.services.containers.v1.Containers: create, get, list (filters),
// list stream, update (field masks), delete, with containerd's container
// events. The records live in meta/containers.ts; the task of a container
// (its processes) is the tasks service's.

import type { ContainersHandlers } from '../../../api/gen/containerd/services/containers/v1/Containers.js';
import type { Container, Container__Output } from '../../../api/gen/containerd/services/containers/v1/Container.js';
import { matchAny, parseFilters } from '../../filters/parse.js';
import { toTimestamp } from '../../proto.js';
import { send, serverStream, unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument } from '../../validate.js';
import { ContainerStore, type AnyValue, type ContainerInput, type ContainerRecord } from '../../meta/containers.js';
import type { EngineContext } from '../../context.js';
import { primeForTask } from '../../tasks/warm.js';

const NAME = 'containerd.services.containers.v1.Containers';
const EVENTS = 'containerd.events.';

const stores = new WeakMap<EngineContext, ContainerStore>();

/** The container store of an engine (made once, shared with the tasks service). */
export function containerStore(ctx: EngineContext): ContainerStore {
  let s = stores.get(ctx);
  if (!s) {
    s = new ContainerStore(ctx.metadata, ctx.namespaces);
    stores.set(ctx, s);
    // a container holds its snapshot (made under ctr's lease, which goes before the container does)
    ctx.gc.addRoots((db) => ({
      snapshots: (
        db.prepare("SELECT ns, snapshotter, snapshot_key FROM engine_containers WHERE snapshot_key != ''").all() as {
          ns: string;
          snapshotter: string;
          snapshot_key: string;
        }[]
      ).map((r) => ({ ns: r.ns, snapshotter: r.snapshotter, key: r.snapshot_key })),
    }));
  }
  return s;
}

function anyOut(a: AnyValue | null): { type_url: string; value: Buffer } | null {
  return a ? { type_url: a.type_url, value: a.value } : null;
}

export function toProto(c: ContainerRecord): Container {
  return {
    id: c.id,
    labels: c.labels,
    image: c.image,
    runtime: { name: c.runtime.name, options: anyOut(c.runtime.options) },
    spec: anyOut(c.spec),
    snapshotter: c.snapshotter,
    snapshot_key: c.snapshotKey,
    created_at: toTimestamp(c.createdAt),
    updated_at: toTimestamp(c.updatedAt),
    extensions: Object.fromEntries(
      Object.entries(c.extensions).map(([k, v]) => [k, { type_url: v.type_url, value: v.value }]),
    ),
  };
}

function fromProto(c: Container__Output | null): ContainerInput {
  if (!c) throw invalidArgument('container must be set', 'container');
  const any = (a: { type_url: string; value: Buffer } | null | undefined): AnyValue | null =>
    a?.type_url ? { type_url: a.type_url, value: Buffer.from(a.value) } : null;
  return {
    id: c.id,
    labels: c.labels ?? {},
    image: c.image,
    runtime: { name: c.runtime?.name ?? '', options: any(c.runtime?.options) },
    spec: any(c.spec),
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshot_key,
    extensions: Object.fromEntries(
      Object.entries(c.extensions ?? {}).flatMap(([k, v]) => {
        const a = any(v);
        return a ? [[k, a]] : [];
      }),
    ),
  };
}

/** containerd's container filter fields. */
function field(c: ContainerRecord, path: readonly string[]): string | undefined {
  const [head, ...rest] = path;
  switch (head) {
    case 'id':
      return rest.length ? undefined : c.id;
    case 'image':
      return rest.length ? undefined : c.image;
    case 'runtime':
      return rest.length === 1 && rest[0] === 'name' ? c.runtime.name : undefined;
    case 'snapshotter':
      return rest.length ? undefined : c.snapshotter;
    case 'labels':
      return rest.length ? c.labels[rest.join('.')] : undefined;
    default:
      return undefined;
  }
}

export const containersService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'containers' }],
  register(server, ctx) {
    const store = containerStore(ctx);
    const list = (ns: string, filters: string[]) => {
      const f = parseFilters(filters);
      return store.list(ns).filter((c) => matchAny(f, (p) => field(c, p)));
    };
    const h: Partial<ContainersHandlers> = {
      Get: unary(ctx, 'containers.Get', (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.id });
        return { container: toProto(store.get(ns, req.id)) };
      }),
      List: unary(ctx, 'containers.List', (req, call) => {
        const ns = call.namespace();
        return { containers: list(ns, req.filters).map(toProto) };
      }),
      ListStream: serverStream(ctx, 'containers.ListStream', async (req, call, stream) => {
        const ns = call.namespace();
        for (const c of list(ns, req.filters)) await send(stream, { container: toProto(c) });
      }),
      Create: unary(ctx, 'containers.Create', (req, call) => {
        const ns = call.namespace();
        const input = fromProto(req.container);
        call.set({ container: input.id });
        const rec = store.create(ns, input);
        // a container is made to be run: its task's cgroup joins wait less (tasks/warm.ts)
        primeForTask(ctx.log, { namespace: ns, container: rec.id });
        ctx.events.publish(ns, '/containers/create', EVENTS + 'ContainerCreate', {
          id: rec.id,
          image: rec.image,
          runtime: { name: rec.runtime.name, options: anyOut(rec.runtime.options) },
        });
        return { container: toProto(rec) };
      }),
      Update: unary(ctx, 'containers.Update', (req, call) => {
        const ns = call.namespace();
        const input = fromProto(req.container);
        call.set({ container: input.id });
        const rec = store.update(ns, input, req.update_mask?.paths ?? []);
        ctx.events.publish(ns, '/containers/update', EVENTS + 'ContainerUpdate', {
          id: rec.id,
          image: rec.image,
          labels: rec.labels,
          snapshot_key: rec.snapshotKey,
        });
        return { container: toProto(rec) };
      }),
      Delete: unary(ctx, 'containers.Delete', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.id });
        // its task's rootfs is unmounted before the container (and then its snapshot) can go
        await store.taskCleanup(ns, req.id);
        store.delete(ns, req.id);
        ctx.events.publish(ns, '/containers/delete', EVENTS + 'ContainerDelete', { id: req.id });
        return {};
      }),
    };
    addService(server, NAME, h);
  },
};
