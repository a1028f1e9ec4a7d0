// berth-ctr --address snapshots ls|prepare|view|mount|commit|rm|usage: the
// verbs of ../snapshots.ts through the engine's snapshots service for the
// --snapshotter chosen (overlayfs by default, as ctr's).

import { snapshotVerbsOf } from '../snapshots.js';
import { dateOrEpoch, type RemoteContext } from './context.js';

export const remoteSnapshotVerbs = snapshotVerbsOf<RemoteContext>(async (ctx) => {
  const sn = ctx.client.snapshots(ctx.snapshotter);
  return {
    list: async () =>
      (await sn.list())
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((s) => ({
          key: s.name,
          parent: s.parent || undefined,
          kind: s.kind.toLowerCase(),
          created: dateOrEpoch(s.created_at),
          updated: dateOrEpoch(s.updated_at),
          labels: s.labels,
        })),
    prepare: (key, parent, labels, view) =>
      view ? sn.view(key, parent ?? '', labels) : sn.prepare(key, parent ?? '', labels),
    mounts: (key) => sn.mounts(key),
    commit: async (name, key, labels) => {
      await sn.commit(name, key, labels);
    },
    remove: async (key) => {
      await sn.remove(key);
    },
    usage: (key) => sn.usage(key),
  };
});
