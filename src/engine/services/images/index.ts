// containerd.services.images.v1.Images: image records per namespace (name →
// target descriptor, labels), filters on name, target.digest,
// target.mediatype and labels, field-masked updates, and delete with sync
// (the garbage collection it schedules runs before the answer).

import type { ImagesHandlers } from '../../../api/gen/containerd/services/images/v1/Images.js';
import type { Image, Image__Output } from '../../../api/gen/containerd/services/images/v1/Image.js';
import { labelField, matchAny, parseFilters } from '../../filters/parse.js';
import { applyLabels, labelUpdates } from '../../fieldmask.js';
import type { ImageRecord, TargetDescriptor } from '../../meta/images.js';
import { toTimestamp } from '../../proto.js';
import { unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument } from '../../validate.js';

const NAME = 'containerd.services.images.v1.Images';
const EV = 'containerd.services.images.v1.';

function toImage(r: ImageRecord): Image {
  return {
    name: r.name,
    labels: r.labels,
    target: {
      media_type: r.target.mediaType,
      digest: r.target.digest,
      size: r.target.size,
      annotations: r.target.annotations,
    },
    created_at: toTimestamp(r.created),
    updated_at: toTimestamp(r.updated),
  };
}

function fromImage(img: Image__Output | null): {
  name: string;
  labels: Record<string, string>;
  target: TargetDescriptor;
} {
  if (!img) throw invalidArgument('image must be set', 'image');
  const t = img.target;
  if (!t) throw invalidArgument(`image ${JSON.stringify(img.name)}: target must be set`, 'image.target');
  return {
    name: img.name,
    labels: img.labels,
    target: { mediaType: t.media_type, digest: t.digest, size: t.size, annotations: t.annotations },
  };
}

function imageField(r: ImageRecord, path: readonly string[]): string | undefined {
  const [head, sub] = path;
  if (head === 'name' && path.length === 1) return r.name;
  if (head === 'labels') return labelField(r.labels, path);
  if (head === 'target' && path.length === 2) {
    if (sub === 'digest') return r.target.digest;
    if (sub === 'mediatype') return r.target.mediaType;
  }
  return undefined;
}

export const imagesService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'images' }],
  register(server, ctx) {
    addService<ImagesHandlers>(server, NAME, {
      Get: unary(ctx, 'images.Get', (req, call) => {
        const ns = call.namespace();
        call.set({ image: req.name });
        return { image: toImage(ctx.images.get(ns, req.name)) };
      }),
      List: unary(ctx, 'images.List', (req, call) => {
        const ns = call.namespace();
        const filters = parseFilters(req.filters);
        return {
          images: ctx.images
            .list(ns)
            .filter((r) => matchAny(filters, (p) => imageField(r, p)))
            .map(toImage),
        };
      }),
      Create: unary(ctx, 'images.Create', (req, call) => {
        const ns = call.namespace();
        const img = fromImage(req.image);
        call.set({ image: img.name, digest: img.target.digest });
        const rec = ctx.images.create(ns, img);
        ctx.events.publish(ns, '/images/create', EV + 'ImageCreate', { name: rec.name, labels: rec.labels });
        return { image: toImage(rec) };
      }),
      Update: unary(ctx, 'images.Update', (req, call) => {
        const ns = call.namespace();
        const img = fromImage(req.image);
        call.set({ image: img.name });
        const paths = req.update_mask?.paths ?? [];
        const rec = ctx.images.update(ns, img.name, (cur) => {
          if (paths.length === 0) return { labels: img.labels, target: img.target };
          const u = labelUpdates(
            paths.filter((p) => !p.startsWith('annotations.')),
            img.labels,
            `image ${JSON.stringify(img.name)}`,
            ['target', 'annotations'],
          );
          let target = cur.target;
          if (u.rest.includes('target')) target = img.target;
          if (u.rest.includes('annotations')) target = { ...target, annotations: img.target.annotations };
          for (const p of paths.filter((x) => x.startsWith('annotations.'))) {
            const k = p.slice('annotations.'.length);
            const annotations = { ...target.annotations };
            if (img.target.annotations[k] === undefined) delete annotations[k];
            else annotations[k] = img.target.annotations[k];
            target = { ...target, annotations };
          }
          return { labels: applyLabels(cur.labels, u), target };
        });
        call.set({ digest: rec.target.digest });
        ctx.events.publish(ns, '/images/update', EV + 'ImageUpdate', { name: rec.name, labels: rec.labels });
        return { image: toImage(rec) };
      }),
      Delete: unary(ctx, 'images.Delete', async (req, call) => {
        const ns = call.namespace();
        call.set({ image: req.name });
        ctx.images.delete(ns, req.name);
        ctx.events.publish(ns, '/images/delete', EV + 'ImageDelete', { name: req.name });
        if (req.sync) await ctx.gc.run();
        else ctx.gc.schedule();
        return {};
      }),
    });
  },
};
