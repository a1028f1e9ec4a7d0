// berth-ctr --address content ls|get|rm|label|ingests: the verbs of
// ../content.ts through the engine's content service.

import { Readable } from 'node:stream';
import type { ReadContentResponse__Output } from '../../../api/gen/containerd/services/content/v1/ReadContentResponse.js';
import { contentVerbsOf } from '../content.js';
import { age, table } from '../format.js';
import { labelMask, type Verb } from '../verbs.js';
import { dateOrEpoch, notServed, type RemoteContext } from './context.js';

export const remoteContentVerbs = contentVerbsOf<RemoteContext>((ctx) => {
  const content = ctx.client.content;
  return {
    list: async () =>
      (await content.list())
        .sort((a, b) => a.digest.localeCompare(b.digest))
        .map((b) => ({
          digest: b.digest,
          size: b.size,
          createdAt: dateOrEpoch(b.created_at),
          updatedAt: dateOrEpoch(b.updated_at),
          labels: b.labels,
        })),
    read: (digest) => {
      const stream = content.read(digest);
      async function* chunks(): AsyncGenerator<Buffer> {
        try {
          for await (const r of stream as AsyncIterable<ReadContentResponse__Output>) yield r.data;
        } catch (e) {
          throw ctx.client.conn.mapError(e, 'Content.Read');
        }
      }
      return Readable.from(chunks());
    },
    delete: async (digest) => {
      await content.delete(digest);
    },
    // A removed label is named in the update mask and absent from the labels.
    label: async (digest, updates) => {
      const { labels, fields } = labelMask(updates);
      await content.updateLabels(digest, labels, fields);
      return (await content.info(digest)).labels;
    },
    ingests: async () =>
      table(
        ['REF', 'OFFSET', 'TOTAL', 'UPDATED'],
        (await content.statuses())
          .sort((a, b) => a.ref.localeCompare(b.ref))
          .map((i) => [
            i.ref,
            String(i.offset),
            i.total ? String(i.total) : '?',
            `${age(dateOrEpoch(i.updated_at))} ago`,
          ]),
      ),
  };
});

export const remoteGc: Verb<RemoteContext> = async () => {
  throw notServed(
    'gc',
    "containerd's API has no garbage-collection call; the engine collects by itself after deletions " +
      '(berth-ctr images rm --sync, leases rm --sync wait for it)',
  );
};
