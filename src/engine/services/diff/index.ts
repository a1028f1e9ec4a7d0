// containerd.services.diff.v1.Diff: Apply (a layer onto an active
// snapshot's mounts) and Diff (the changes between two mounts, as a layer
// written to the content store: compare.ts).

import type { DiffHandlers } from '../../../api/gen/containerd/services/diff/v1/Diff.js';
import { unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument, validateDigest } from '../../validate.js';
import { applyToMounts } from './apply.js';
import { compareMounts } from './compare.js';
import { hostPlugin } from '../../context.js';
import { BerthError } from '../../../common/errors.js';

const NAME = 'containerd.services.diff.v1.Diff';
const UNCOMPRESSED = 'application/vnd.oci.image.layer.v1.tar';

export const diffService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'diff' }, hostPlugin('io.containerd.differ.v1', 'walking')],
  register(server, ctx) {
    addService<DiffHandlers>(server, NAME, {
      Apply: unary(ctx, 'diff.Apply', async (req, call) => {
        const ns = call.namespace();
        const d = req.diff;
        if (!d) throw invalidArgument('diff must be set', 'diff');
        validateDigest(d.digest, 'diff.digest');
        call.set({ digest: d.digest });
        if (Object.keys(req.payloads).length > 0) {
          throw new BerthError(
            'berth-engine',
            'unavailable',
            'diff apply: stream processor payloads (encrypted layers) are not supported',
          );
        }
        const { diffId, size } = await applyToMounts(ctx, ns, d, req.mounts);
        call.set({ diffId });
        return { applied: { media_type: UNCOMPRESSED, digest: diffId, size, annotations: {} } };
      }),
      Diff: unary(ctx, 'diff.Diff', async (req, call) => {
        const ns = call.namespace();
        call.set({ ref: req.ref || undefined });
        const d = await compareMounts(ctx, ns, req, call.lease());
        call.set({ digest: d.digest });
        return { diff: { media_type: d.mediaType, digest: d.digest, size: d.size, annotations: {} } };
      }),
    });
  },
};
