// Docker's event stream (`docker events`): every lifecycle step of a
// container, image, volume or network becomes a message, kept in a bounded
// ring for `since` queries and fanned out to live subscribers.

export interface DockerEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // The old fields (API < 1.22 readers, still sent by dockerd).
  status?: string;
  id?: string;
  from?: string;
}

const KEEP = 1024;

export class EventBus {
  private readonly ring: DockerEvent[] = [];
  private readonly subs = new Set<(e: DockerEvent) => void>();

  emit(type: DockerEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
    const e: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1e6,
    };
    if (type === 'container') {
      e.status = action;
      e.id = id;
      if (attributes.image) e.from = attributes.image;
    }
    this.ring.push(e);
    if (this.ring.length > KEEP) this.ring.shift();
    for (const s of this.subs) s(e);
  }

  /** Past events (for `since`) and a subscription to what comes next. */
  subscribe(fn: (e: DockerEvent) => void): { past: DockerEvent[]; stop: () => void } {
    this.subs.add(fn);
    return { past: [...this.ring], stop: () => this.subs.delete(fn) };
  }
}
