// containerd.services.content.v1.Content: a namespace's view of the shared
// blob store. Info/List/Update/Delete work on the namespace's records; Read
// streams a blob (offset, size); Write is the bidirectional ingest stream
// (write.ts); Status/ListStatuses/Abort manage ingests. Deleting a record
// schedules GC, which removes the blob once no namespace or reference
// holds it.

import type { ContentHandlers } from '../../../api/gen/containerd/services/content/v1/Content.js';
import type { Info } from '../../../api/gen/containerd/services/content/v1/Info.js';
import type { Status } from '../../../api/gen/containerd/services/content/v1/Status.js';
import { labelField, matchAny, parseFilters } from '../../filters/parse.js';
import { applyLabels, labelUpdates } from '../../fieldmask.js';
import type { ContentRecord } from '../../meta/content.js';
import type { IngestStatus } from '../../ingests.js';
import { toTimestamp } from '../../proto.js';
import { send, serverStream, unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import type { EngineContext } from '../../context.js';
import { invalidArgument, validateDigest } from '../../validate.js';
import { writeHandler } from './write.js';
import { readHandler } from './read.js';

const NAME = 'containerd.services.content.v1.Content';

export function toInfo(r: ContentRecord): Info {
  return {
    digest: r.digest,
    size: r.size,
    labels: r.labels,
    created_at: toTimestamp(r.created),
    updated_at: toTimestamp(r.updated),
  };
}

export function toStatusMsg(s: IngestStatus): Status {
  return {
    ref: s.ref,
    offset: s.offset,
    total: s.total,
    expected: s.expected,
    started_at: toTimestamp(s.started),
    updated_at: toTimestamp(s.updated),
  };
}

function contentField(r: ContentRecord, path: readonly string[]): string | undefined {
  switch (path[0]) {
    case 'digest':
      return path.length === 1 ? r.digest : undefined;
    case 'size':
      return path.length === 1 ? String(r.size) : undefined;
    case 'labels':
      return labelField(r.labels, path);
    default:
      return undefined;
  }
}

/** Batches of List responses: containerd sends up to ~100 infos a message. */
const LIST_BATCH = 100;

export function contentHandlers(ctx: EngineContext): Partial<ContentHandlers> {
  return {
    Info: unary(ctx, 'content.Info', (req, call) => {
      const ns = call.namespace();
      validateDigest(req.digest);
      call.set({ digest: req.digest });
      return { info: toInfo(ctx.content.get(ns, req.digest)) };
    }),
    List: serverStream(ctx, 'content.List', async (req, call, stream) => {
      const ns = call.namespace();
      const filters = parseFilters(req.filters);
      const all = ctx.content.list(ns).filter((r) => matchAny(filters, (p) => contentField(r, p)));
      for (let i = 0; i < all.length; i += LIST_BATCH)
        await send(stream, { info: all.slice(i, i + LIST_BATCH).map(toInfo) });
    }),
    Update: unary(ctx, 'content.Update', (req, call) => {
      const ns = call.namespace();
      if (!req.info) throw invalidArgument('info must be set', 'info');
      validateDigest(req.info.digest, 'info.digest');
      call.set({ digest: req.info.digest });
      const cur = ctx.content.get(ns, req.info.digest);
      const u = labelUpdates(req.update_mask?.paths ?? [], req.info.labels, `content info ${req.info.digest}`);
      return { info: toInfo(ctx.content.setLabels(ns, req.info.digest, applyLabels(cur.labels, u))) };
    }),
    Delete: unary(ctx, 'content.Delete', (req, call) => {
      const ns = call.namespace();
      validateDigest(req.digest);
      call.set({ digest: req.digest });
      ctx.content.delete(ns, req.digest);
      ctx.events.publish(ns, '/content/delete', 'containerd.events.ContentDelete', { digest: req.digest });
      ctx.gc.schedule();
      return {};
    }),
    Read: readHandler(ctx),
    Write: writeHandler(ctx),
    Status: unary(ctx, 'content.Status', async (req, call) => {
      const ns = call.namespace();
      call.set({ ref: req.ref });
      return { status: toStatusMsg(await ctx.ingests.status(ns, req.ref)) };
    }),
    ListStatuses: unary(ctx, 'content.ListStatuses', async (req, call) => {
      const ns = call.namespace();
      const filters = parseFilters(req.filters);
      const all = await ctx.ingests.list(ns);
      return {
        statuses: all
          .filter((s) =>
            matchAny(filters, (p) =>
              p.length === 1 && p[0] === 'ref' ? s.ref : p.length === 1 && p[0] === 'expected' ? s.expected : undefined,
            ),
          )
          .map(toStatusMsg),
      };
    }),
    Abort: unary(ctx, 'content.Abort', async (req, call) => {
      const ns = call.namespace();
      call.set({ ref: req.ref });
      await ctx.ingests.abort(ns, req.ref);
      return {};
    }),
  };
}

export const contentService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'content' }],
  register(server, ctx) {
    addService<ContentHandlers>(server, NAME, contentHandlers(ctx));
  },
};
