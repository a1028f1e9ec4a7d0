// containerd.services.namespaces.v1.Namespaces: create, get, list, update
// labels (with a field mask), delete of an empty namespace only.

import type { NamespacesHandlers } from '../../../api/gen/containerd/services/namespaces/v1/Namespaces.js';
import { failedPrecondition, invalidArgument, validateIdentifier } from '../../validate.js';
import { unary, type Call } from '../../rpc.js';
import { NAMESPACE_HEADER } from '../../../api/load.js';
import { addService, type EngineService } from '../../server.js';
import { labelUpdates } from '../../fieldmask.js';

const NAME = 'containerd.services.namespaces.v1.Namespaces';
const EVENTS = 'containerd.events.';

/**
 * The namespace a create or update event is published in: the caller's own
 * (containerd publishes in the request's namespace, so `ctr -n a namespaces
 * create b` is an event of a), or the one acted on when the call names none.
 */
function callerOf(call: Call, acted: string): string {
  const v = call.metadata.get(NAMESPACE_HEADER)[0];
  if (typeof v !== 'string' || v === '') return acted;
  try {
    validateIdentifier(v, 'namespace');
    return v;
  } catch {
    return acted;
  }
}

export const namespacesService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'namespaces' }],
  register(server, ctx) {
    const h: Partial<NamespacesHandlers> = {
      Get: unary(ctx, 'namespaces.Get', (req, call) => {
        call.set({ namespace: req.name });
        // containerd 1.6 answers Get of a namespace it has no record of with
        // the name and no labels (its store reads the labels bucket only), and
        // clients count on it: dockerd's containerd client reads the default
        // runtime label of "moby" before anything has created it.
        if (!ctx.namespaces.exists(req.name)) {
          validateIdentifier(req.name, 'namespace');
          return { namespace: { name: req.name, labels: {} } };
        }
        return { namespace: ctx.namespaces.get(req.name) };
      }),
      List: unary(ctx, 'namespaces.List', () => ({ namespaces: ctx.namespaces.list() })),
      Create: unary(ctx, 'namespaces.Create', (req, call) => {
        const ns = req.namespace;
        if (!ns) throw invalidArgument('namespace must be set', 'namespace');
        call.set({ namespace: ns.name });
        const rec = ctx.namespaces.create(ns.name, ns.labels);
        ctx.events.publish(callerOf(call, ns.name), '/namespaces/create', EVENTS + 'NamespaceCreate', {
          name: rec.name,
          labels: rec.labels,
        });
        return { namespace: rec };
      }),
      Update: unary(ctx, 'namespaces.Update', (req, call) => {
        const ns = req.namespace;
        if (!ns) throw invalidArgument('namespace must be set', 'namespace');
        call.set({ namespace: ns.name });
        const paths = req.update_mask?.paths ?? [];
        const { replace, labels } = labelUpdates(paths, ns.labels, `namespace ${JSON.stringify(ns.name)}`);
        const rec = ctx.namespaces.updateLabels(ns.name, labels, replace);
        // the labels of the request, as containerd publishes them (a removed one with its empty value)
        ctx.events.publish(callerOf(call, ns.name), '/namespaces/update', EVENTS + 'NamespaceUpdate', {
          name: rec.name,
          labels: ns.labels,
        });
        return { namespace: rec };
      }),
      Delete: unary(ctx, 'namespaces.Delete', async (req, call) => {
        call.set({ namespace: req.name });
        // Snapshots live in the snapshotters, keyed "<namespace>/<key>".
        for (const [name, sn] of ctx.snapshotters) {
          if ((await sn.list()).some((s) => s.key.startsWith(`${req.name}/`))) {
            throw failedPrecondition(
              `namespace ${JSON.stringify(req.name)} must be empty, but it still has snapshots on ${name}`,
            );
          }
        }
        ctx.namespaces.delete(req.name);
        // containerd publishes this one in the namespace deleted
        ctx.events.publish(req.name, '/namespaces/delete', EVENTS + 'NamespaceDelete', { name: req.name });
        return {};
      }),
    };
    addService(server, NAME, h);
  },
};
