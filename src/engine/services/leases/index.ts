// containerd.services.leases.v1.Leases: leases per namespace (expiry as the
// containerd.io/gc.expire label), filters on id and labels, resources
// (content, ingests, snapshots/<snapshotter>) and delete with sync.

import type { LeasesHandlers } from '../../../api/gen/containerd/services/leases/v1/Leases.js';
import type { Lease } from '../../../api/gen/containerd/services/leases/v1/Lease.js';
import { labelField, matchAny, parseFilters } from '../../filters/parse.js';
import { validateResource, type LeaseRecord, type LeaseResourceRef } from '../../meta/leases.js';
import { toTimestamp } from '../../proto.js';
import { unary, type Call } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument } from '../../validate.js';

const NAME = 'containerd.services.leases.v1.Leases';

function toLease(r: LeaseRecord): Lease {
  return { id: r.id, labels: r.labels, created_at: toTimestamp(r.created) };
}

export const leasesService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'leases' }],
  register(server, ctx) {
    const sns = () => new Set(ctx.snapshotters.keys());
    /** The resource of an Add/DeleteResource request, named on the call's log lines and checked. */
    const checkedResource = (req: { id: string; resource: LeaseResourceRef | null }, call: Call): LeaseResourceRef => {
      if (!req.resource) throw invalidArgument('resource must be set', 'resource');
      call.set({ lease: req.id, resource: `${req.resource.type}/${req.resource.id}` });
      validateResource(req.resource, sns());
      return req.resource;
    };
    addService<LeasesHandlers>(server, NAME, {
      Create: unary(ctx, 'leases.Create', (req, call) => {
        const ns = call.namespace();
        call.set({ lease: req.id });
        return { lease: toLease(ctx.leases.create(ns, req.id, req.labels)) };
      }),
      List: unary(ctx, 'leases.List', (req, call) => {
        const ns = call.namespace();
        const filters = parseFilters(req.filters);
        const field = (r: LeaseRecord, p: readonly string[]) =>
          p[0] === 'id' && p.length === 1 ? r.id : p[0] === 'labels' ? labelField(r.labels, p) : undefined;
        return {
          leases: ctx.leases
            .list(ns)
            .filter((r) => matchAny(filters, (p) => field(r, p)))
            .map(toLease),
        };
      }),
      Delete: unary(ctx, 'leases.Delete', async (req, call) => {
        const ns = call.namespace();
        call.set({ lease: req.id });
        const held = ctx.leases.delete(ns, req.id);
        if (req.sync) await ctx.gc.run();
        // A lease that held nothing made nothing collectable (ctr run's own lease, around a
        // container whose rootfs is a path): no collection for it.
        else if (held > 0) ctx.gc.schedule();
        return {};
      }),
      AddResource: unary(ctx, 'leases.AddResource', (req, call) => {
        const ns = call.namespace();
        const resource = checkedResource(req, call);
        ctx.leases.addResource(ns, req.id, resource);
        return {};
      }),
      DeleteResource: unary(ctx, 'leases.DeleteResource', (req, call) => {
        const ns = call.namespace();
        const resource = checkedResource(req, call);
        ctx.leases.deleteResource(ns, req.id, resource);
        ctx.gc.schedule();
        return {};
      }),
      ListResources: unary(ctx, 'leases.ListResources', (req, call) => {
        const ns = call.namespace();
        call.set({ lease: req.id });
        return { resources: ctx.leases.resources(ns, req.id) };
      }),
    });
  },
};
