// The engine's event exchange, containerd's model: every mutation publishes
// an Envelope (timestamp, namespace, topic, payload as an Any) and every
// subscriber whose filters match gets it, in order. Subscribers are bounded
// queues: one that stops reading is dropped rather than let memory grow
// without end or slow the publisher.

import { decodeAny, encodeAny, type AnyMessage } from '../proto.js';
import { matchAny, type Filter } from '../filters/parse.js';
import { invalidArgument } from '../validate.js';

export interface Envelope {
  timestamp: Date;
  namespace: string;
  topic: string;
  event: AnyMessage;
}

export interface Subscription {
  close(): void;
}

/** Most envelopes a slow subscriber may have waiting before it is dropped. */
const MAX_PENDING = 4096;

interface Subscriber {
  filters: Filter[];
  deliver(env: Envelope): boolean;
}

const TOPIC = /^(\/[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)+$/;

export function validateTopic(topic: string): void {
  if (topic === '') throw invalidArgument('must not be empty for event', 'topic');
  if (!topic.startsWith('/')) throw invalidArgument(`topic ${JSON.stringify(topic)} must start with "/"`, 'topic');
  if (!TOPIC.test(topic))
    throw invalidArgument(`topic ${JSON.stringify(topic)}: each component must be an identifier`, 'topic');
}

/** The filter fields of an envelope: topic, namespace, event.<payload field...>. */
function envelopeField(env: Envelope, path: readonly string[]): string | undefined {
  const [head, ...rest] = path;
  if (head === 'topic' && rest.length === 0) return env.topic;
  if (head === 'namespace' && rest.length === 0) return env.namespace;
  if (head !== 'event' || rest.length === 0) return undefined;
  let v: unknown = decodeAny(env.event);
  for (const p of rest) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export class EventExchange {
  private readonly subscribers = new Set<Subscriber>();
  private readonly onDrop: (reason: string) => void;

  constructor(onDrop: (reason: string) => void = () => undefined) {
    this.onDrop = onDrop;
  }

  /** Publishes `payload` as message type `typeName` (e.g. "containerd.events.NamespaceCreate"). */
  publish(namespace: string, topic: string, typeName: string, payload: object): void {
    this.forward({ timestamp: new Date(), namespace, topic, event: encodeAny(typeName, payload) });
  }

  forward(env: Envelope): void {
    for (const s of this.subscribers) {
      if (!matchAny(s.filters, (p) => envelopeField(env, p))) continue;
      if (!s.deliver(env)) this.subscribers.delete(s);
    }
  }

  /**
   * Calls `send` for each matching envelope; `send` returns false when the
   * subscriber's buffer is full (backpressure), and the subscriber is then
   * given up to MAX_PENDING more before it is dropped with `onGone`.
   */
  subscribe(
    filters: Filter[],
    send: (env: Envelope) => boolean,
    onGone: (reason: string) => void,
  ): Subscription & {
    resume(): void;
  } {
    const pending: Envelope[] = [];
    let blocked = false;
    const sub: Subscriber = {
      filters,
      deliver: (env) => {
        if (blocked) {
          if (pending.length >= MAX_PENDING) {
            this.onDrop('subscriber too slow');
            onGone(`subscriber fell ${MAX_PENDING} events behind`);
            return false;
          }
          pending.push(env);
          return true;
        }
        blocked = !send(env);
        return true;
      },
    };
    this.subscribers.add(sub);
    return {
      resume: () => {
        blocked = false;
        while (pending.length && !blocked) blocked = !send(pending.shift()!);
      },
      close: () => {
        this.subscribers.delete(sub);
      },
    };
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}
