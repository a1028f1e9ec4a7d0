// containerd.services.snapshots.v1.Snapshots over Berth's snapshotters,
// named as containerd names them ("overlayfs", "native"). A namespace's
// snapshot "key" is "<namespace>/<key>" in the snapshotter, so namespaces
// never see each other's snapshots; the answers carry the namespace's own
// names. Snapshots made under a lease are added to it before they exist.

import type { SnapshotsHandlers } from '../../../api/gen/containerd/services/snapshots/v1/Snapshots.js';
import type { Info } from '../../../api/gen/containerd/services/snapshots/v1/Info.js';
import type { Mount as ApiMount } from '../../../api/gen/containerd/types/Mount.js';
import { BerthError, isBerthError } from '../../../common/errors.js';
import type { Mount, SnapshotInfo, Snapshotter } from '../../../snapshot/index.js';
import type { EngineContext } from '../../context.js';
import { labelField, matchAny, parseFilters } from '../../filters/parse.js';
import { applyLabels, labelUpdates } from '../../fieldmask.js';
import { backendKey, splitBackendKey } from '../../gc.js';
import { toTimestamp } from '../../proto.js';
import { send, serverStream, unary, type Call } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument, validateLabels, validateName } from '../../validate.js';

const NAME = 'containerd.services.snapshots.v1.Snapshots';
const EV = 'containerd.events.';
const DEFAULT_SNAPSHOTTER = 'overlayfs';

export function toApiMounts(mounts: Mount[]): ApiMount[] {
  return mounts.map((m) => ({ type: m.type, source: m.source, target: '', options: m.options }));
}

const KINDS = { committed: 'COMMITTED', active: 'ACTIVE', view: 'VIEW' } as const;

function toInfo(ns: string, s: SnapshotInfo): Info {
  const parent = s.parent ? splitBackendKey(s.parent) : undefined;
  return {
    name: s.key.slice(ns.length + 1),
    parent: parent && parent.ns === ns ? parent.key : '',
    kind: KINDS[s.kind],
    labels: s.labels,
    created_at: toTimestamp(s.created),
    updated_at: toTimestamp(s.updated),
  };
}

function snapshotField(ns: string, s: SnapshotInfo, path: readonly string[]): string | undefined {
  switch (path[0]) {
    case 'name':
      return s.key.slice(ns.length + 1);
    case 'parent':
      return s.parent ? splitBackendKey(s.parent)?.key : undefined;
    case 'kind':
      return s.kind;
    case 'labels':
      return labelField(s.labels, path);
    default:
      return undefined;
  }
}

/** The snapshotter a request names (containerd's default when empty). */
export function snapshotterOf(ctx: EngineContext, name: string): { name: string; sn: Snapshotter } {
  const n = name === '' ? DEFAULT_SNAPSHOTTER : name;
  const sn = ctx.snapshotters.get(n);
  if (!sn) throw invalidArgument(`snapshotter not loaded: ${n}`, 'snapshotter');
  return { name: n, sn };
}

/**
 * containerd's words for the snapshotter's common errors, which ctr shows
 * as they are: a key that does not exist is unquoted, an existing one is
 * `snapshot "k": already exists`, a parent with children is refused
 * without naming them.
 */
const CONTAINERD_WORDING: [RegExp, string][] = [
  [/^(parent )?snapshot "([^"]*)" does not exist$/, '$1snapshot $2 does not exist'],
  [/^snapshot ("[^"]*") already exists$/, 'snapshot $1'],
  [/^snapshot "[^"]*" has children \(.*\); remove them first$/, 'cannot remove snapshot with child'],
];

/** The snapshotter's errors name backend keys; the client knows its own. */
async function inNamespace<T>(ns: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isBerthError(e) && e.message.includes(`"${ns}/`)) {
      let msg = e.message.split(`"${ns}/`).join('"');
      for (const [re, by] of CONTAINERD_WORDING) msg = msg.replace(re, by);
      throw new BerthError('berth-engine', e.code, msg, { field: e.field, cause: e });
    }
    throw e;
  }
}

function begin(ctx: EngineContext, call: Call, req: { snapshotter: string; key?: string }) {
  const ns = call.namespace();
  const { name, sn } = snapshotterOf(ctx, req.snapshotter);
  call.set({ snapshotter: name, key: req.key });
  return { ns, name, sn };
}

export const snapshotsService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'snapshots' }],
  register(server, ctx) {
    const create = (kind: 'prepare' | 'view') =>
      unary(
        ctx,
        `snapshots.${kind === 'prepare' ? 'Prepare' : 'View'}`,
        async (req: { snapshotter: string; key: string; parent: string; labels: Record<string, string> }, call) => {
          const { ns, name, sn } = begin(ctx, call, req);
          validateName(req.key, 'key');
          validateLabels(req.labels);
          call.set({ parent: req.parent || undefined });
          ctx.metadata.tx((db) => {
            ctx.namespaces.ensure(db, ns);
            const lease = call.lease();
            if (lease !== undefined) ctx.leases.protect(db, ns, lease, { type: `snapshots/${name}`, id: req.key });
          });
          const parent = req.parent === '' ? undefined : backendKey(ns, req.parent);
          const mounts = await inNamespace(ns, () =>
            kind === 'prepare'
              ? sn.prepare(backendKey(ns, req.key), parent, { labels: req.labels })
              : sn.view(backendKey(ns, req.key), parent, { labels: req.labels }),
          );
          if (kind === 'prepare')
            ctx.events.publish(ns, '/snapshot/prepare', EV + 'SnapshotPrepare', { key: req.key, parent: req.parent });
          return { mounts: toApiMounts(mounts) };
        },
      );

    addService<SnapshotsHandlers>(server, NAME, {
      Prepare: create('prepare'),
      View: create('view'),
      Mounts: unary(ctx, 'snapshots.Mounts', async (req, call) => {
        const { ns, sn } = begin(ctx, call, req);
        return { mounts: toApiMounts(await inNamespace(ns, () => sn.mounts(backendKey(ns, req.key)))) };
      }),
      Commit: unary(ctx, 'snapshots.Commit', async (req, call) => {
        const { ns, name, sn } = begin(ctx, call, req);
        validateName(req.name, 'name');
        validateLabels(req.labels);
        call.set({ name: req.name });
        ctx.leases.protectNow(ns, call.lease(), { type: `snapshots/${name}`, id: req.name });
        const labels = Object.keys(req.labels).length ? req.labels : undefined;
        await inNamespace(ns, () =>
          sn.commit(backendKey(ns, req.name), backendKey(ns, req.key), labels ? { labels } : {}),
        );
        ctx.events.publish(ns, '/snapshot/commit', EV + 'SnapshotCommit', { key: req.key, name: req.name });
        return {};
      }),
      Remove: unary(ctx, 'snapshots.Remove', async (req, call) => {
        const { ns, sn } = begin(ctx, call, req);
        // the snapshot's files go after the answer (an rm -rf process, 2-4 ms here): the
        // tree is out of the store already; engine start collects what a crash left
        await inNamespace(ns, () => sn.remove(backendKey(ns, req.key), { treeLater: true }));
        ctx.events.publish(ns, '/snapshot/remove', EV + 'SnapshotRemove', { key: req.key });
        ctx.gc.schedule();
        return {};
      }),
      Stat: unary(ctx, 'snapshots.Stat', async (req, call) => {
        const { ns, sn } = begin(ctx, call, req);
        return { info: toInfo(ns, await inNamespace(ns, () => sn.stat(backendKey(ns, req.key)))) };
      }),
      Update: unary(ctx, 'snapshots.Update', async (req, call) => {
        const info = req.info;
        if (!info) throw invalidArgument('info must be set', 'info');
        const { ns, sn } = begin(ctx, call, { snapshotter: req.snapshotter, key: info.name });
        const key = backendKey(ns, info.name);
        const cur = await inNamespace(ns, () => sn.stat(key));
        const u = labelUpdates(req.update_mask?.paths ?? [], info.labels, `snapshot ${JSON.stringify(info.name)}`);
        const next = applyLabels(cur.labels, u);
        validateLabels(next);
        const change: Record<string, string | null> = {};
        for (const k of Object.keys(cur.labels)) if (!(k in next)) change[k] = null;
        for (const [k, v] of Object.entries(next)) if (cur.labels[k] !== v) change[k] = v;
        return { info: toInfo(ns, await inNamespace(ns, () => sn.setLabels(key, change))) };
      }),
      List: serverStream(ctx, 'snapshots.List', async (req, call, stream) => {
        const { ns, sn } = begin(ctx, call, req);
        const filters = parseFilters(req.filters);
        // in key order, as containerd walks its bolt bucket
        const mine = (await sn.list())
          .filter((s) => s.key.startsWith(`${ns}/`) && matchAny(filters, (p) => snapshotField(ns, s, p)))
          .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
        for (let i = 0; i < mine.length; i += 100)
          await send(stream, { info: mine.slice(i, i + 100).map((s) => toInfo(ns, s)) });
      }),
      Usage: unary(ctx, 'snapshots.Usage', async (req, call) => {
        const { ns, sn } = begin(ctx, call, req);
        const key = backendKey(ns, req.key);
        // a view owns no data: containerd's snapshotters report it as empty
        if ((await inNamespace(ns, () => sn.stat(key))).kind === 'view') return { size: 0, inodes: 0 };
        const u = await inNamespace(ns, () => sn.usage(key));
        return { size: u.size, inodes: u.inodes };
      }),
      Cleanup: unary(ctx, 'snapshots.Cleanup', async (req, call) => {
        const { sn } = begin(ctx, call, req);
        const n = await sn.cleanup();
        call.set({ removed: n });
        return {};
      }),
    });
  },
};
