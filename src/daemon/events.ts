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

  /** A container's labels, which dockerd puts in each of its events' attributes (set once the containers are known). */
  containerLabels: (id: string) => Record<string, string> | undefined = () => undefined;

  emit(type: DockerEvent['Type'], action: string, id: string, given: Record<string, string> = {}): void {
    // the labels first: the event's own attributes (image, name, exitCode...) win, as in dockerd
    const attributes = type === 'container' && id ? { ...(this.containerLabels(id) ?? {}), ...given } : given;
    const now = Date.now();
    const e: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1e6,
    };
    // dockerd fills the deprecated status/id (and from) for container and image events only
    if (type === 'container' || type === 'image') {
      e.status = action;
      e.id = id;
      if (type === 'container' && attributes.image) e.from = attributes.image;
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

/** dockerd's filters.Args tests: no value for a key passes everything. */
function exact(f: Map<string, string[]>, key: string, v: string | undefined): boolean {
  const want = f.get(key);
  return !want?.length || (v !== undefined && want.includes(v));
}
function fuzzy(f: Map<string, string[]>, key: string, v: string | undefined): boolean {
  const want = f.get(key);
  return !want?.length || (v !== undefined && want.some((w) => v === w || v.startsWith(w)));
}

/** A reference without its tag or digest (dockerd's stripTag; an id stays as it is). */
function stripTag(image: string): string {
  if (/^(sha256:)?[a-f0-9]{64}$/.test(image)) return image;
  const noDigest = image.replace(/@.*$/, '');
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

// these keys match an event's actor by id or name prefix, whatever the event's type (dockerd's fuzzyMatchName)
const BY_NAME = ['container', 'daemon', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'];

/** dockerd's events filter (daemon/events/filter.go): every key must pass. */
export function eventFilter(f: Map<string, string[]>): (e: DockerEvent) => boolean {
  const fuzzyEvents = (f.get('event') ?? []).some((x) => ['health_status', 'exec_create', 'exec_start'].includes(x));
  return (e) => {
    if (fuzzyEvents ? !fuzzy(f, 'event', e.Action) : !exact(f, 'event', e.Action)) return false;
    if (!exact(f, 'type', e.Type) || !exact(f, 'scope', e.scope)) return false;
    const attrs = e.Actor.Attributes;
    for (const k of BY_NAME) if (!fuzzy(f, k, e.Actor.ID) && !fuzzy(f, k, attrs.name)) return false;
    const name = attrs[e.Type === 'image' ? 'name' : 'image'];
    const images = [e.Actor.ID, name, stripTag(e.Actor.ID), name === undefined ? undefined : stripTag(name)];
    if (!images.some((v) => exact(f, 'image', v))) return false;
    for (const l of f.get('label') ?? []) {
      const i = l.indexOf('=');
      const k = i < 0 ? l : l.slice(0, i);
      if (!(k in attrs) || (i >= 0 && attrs[k] !== l.slice(i + 1))) return false;
    }
    return true;
  };
}
