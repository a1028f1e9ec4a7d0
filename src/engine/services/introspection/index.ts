// containerd.services.introspection.v1.Introspection: the loaded plugins
// (what `ctr plugins ls` prints, filterable by type, id, platforms and
// capabilities) and the server's stable UUID.

import * as grpc from '@grpc/grpc-js';
import type { IntrospectionHandlers } from '../../../api/gen/containerd/services/introspection/v1/Introspection.js';
import type { Plugin } from '../../../api/gen/containerd/services/introspection/v1/Plugin.js';
import { labelField, matchAny, parseFilters } from '../../filters/parse.js';
import type { PluginInfo } from '../../context.js';
import { unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';

const NAME = 'containerd.services.introspection.v1.Introspection';

function toPlugin(p: PluginInfo): Plugin {
  return {
    type: p.type,
    id: p.id,
    requires: p.requires ?? [],
    platforms: p.platforms ?? [],
    exports: p.exports ?? {},
    capabilities: p.capabilities ?? [],
    init_err: p.initError === undefined ? null : { code: grpc.status.UNKNOWN, message: p.initError, details: [] },
  };
}

function pluginField(p: PluginInfo, path: readonly string[]): string | undefined {
  switch (path[0]) {
    case 'type':
      return p.type;
    case 'id':
      return p.id;
    case 'platforms':
      return p.platforms?.map((x) => `${x.os}/${x.architecture}${x.variant ? '/' + x.variant : ''}`).join(',');
    case 'capabilities':
      return p.capabilities?.join(',');
    case 'exports':
      return labelField(p.exports ?? {}, path);
    default:
      return undefined;
  }
}

export const introspectionService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'introspection' }],
  register(server, ctx) {
    const h: Partial<IntrospectionHandlers> = {
      Plugins: unary(ctx, 'introspection.Plugins', (req) => {
        const filters = parseFilters(req.filters);
        return { plugins: ctx.plugins.filter((p) => matchAny(filters, (path) => pluginField(p, path))).map(toPlugin) };
      }),
      Server: unary(ctx, 'introspection.Server', () => ({ uuid: ctx.uuid })),
    };
    addService(server, NAME, h);
  },
};
