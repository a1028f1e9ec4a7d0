// containerd.services.version.v1.Version: the server's version and revision.

import type { VersionHandlers } from '../../../api/gen/containerd/services/version/v1/Version.js';
import { unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { ENGINE_REVISION, ENGINE_VERSION } from '../../version.js';

const NAME = 'containerd.services.version.v1.Version';

export const versionService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'version' }],
  register(server, ctx) {
    const h: Partial<VersionHandlers> = {
      Version: unary(ctx, 'version.Version', () => ({ version: ENGINE_VERSION, revision: ENGINE_REVISION })),
    };
    addService(server, NAME, h);
  },
};
