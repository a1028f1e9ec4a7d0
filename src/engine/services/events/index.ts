// containerd.services.events.v1.Events: Publish (namespace from the call),
// Forward (an envelope as it is, namespace included), and Subscribe with
// containerd's filter syntax over topic, namespace and event.<payload field>.
// A subscription lives until the client goes or the engine stops.

import type { EventsHandlers } from '../../../api/gen/containerd/services/events/v1/Events.js';
import type { Envelope as ApiEnvelope } from '../../../api/gen/containerd/services/events/v1/Envelope.js';
import { parseFilters } from '../../filters/parse.js';
import { validateTopic, type Envelope } from '../../events/exchange.js';
import { fromTimestamp, toTimestamp } from '../../proto.js';
import { serverStream, unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument, validateIdentifier } from '../../validate.js';

const NAME = 'containerd.services.events.v1.Events';

function toApi(env: Envelope): ApiEnvelope {
  return { timestamp: toTimestamp(env.timestamp), namespace: env.namespace, topic: env.topic, event: env.event };
}

export const eventsService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'events' }],
  register(server, ctx) {
    const h: Partial<EventsHandlers> = {
      Publish: unary(ctx, 'events.Publish', (req, call) => {
        const ns = call.namespace();
        validateTopic(req.topic);
        if (!req.event?.type_url) throw invalidArgument('event must be set', 'event');
        call.set({ topic: req.topic });
        ctx.events.forward({
          timestamp: new Date(),
          namespace: ns,
          topic: req.topic,
          event: { type_url: req.event.type_url, value: req.event.value },
        });
        return {};
      }),
      Forward: unary(ctx, 'events.Forward', (req, call) => {
        const env = req.envelope;
        if (!env) throw invalidArgument('envelope must be set', 'envelope');
        validateIdentifier(env.namespace, 'envelope.namespace');
        validateTopic(env.topic);
        if (!env.event?.type_url) throw invalidArgument('envelope.event must be set', 'envelope.event');
        call.set({ namespace: env.namespace, topic: env.topic });
        ctx.events.forward({
          timestamp: fromTimestamp(env.timestamp) ?? new Date(),
          namespace: env.namespace,
          topic: env.topic,
          event: { type_url: env.event.type_url, value: env.event.value },
        });
        return {};
      }),
      Subscribe: serverStream(ctx, 'events.Subscribe', async (req, call, stream) => {
        const filters = parseFilters(req.filters);
        call.set({ filters: req.filters });
        await new Promise<void>((resolve, reject) => {
          const sub = ctx.events.subscribe(
            filters,
            (env) => stream.write(toApi(env)),
            (reason) => {
              cleanup();
              reject(new Error(reason));
            },
          );
          const onDrain = () => sub.resume();
          const cleanup = () => {
            sub.close();
            stream.off('drain', onDrain);
            stream.off('cancelled', onEnd);
            stream.off('close', onEnd);
            ctx.shutdown.removeEventListener('abort', onEnd);
          };
          const onEnd = () => {
            cleanup();
            resolve();
          };
          stream.on('drain', onDrain);
          stream.on('cancelled', onEnd);
          stream.on('close', onEnd);
          if (ctx.shutdown.aborted) onEnd();
          else ctx.shutdown.addEventListener('abort', onEnd);
        });
      }),
    };
    addService(server, NAME, h);
  },
};
