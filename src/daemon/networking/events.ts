// dockerd's network events around a container's run: `connect` for each
// network it is on as it starts (none and host included), `disconnect` after
// it stopped; none for a container that joins another's namespace.

import type { EventBus } from '../events.js';
import type { ContainerRecord } from '../containers/record.js';
import type { NetworkRecord } from '../network/index.js';

export function networkEvents(
  events: EventBus,
  networks: NetworkRecord[],
  r: ContainerRecord,
  action: 'connect' | 'disconnect',
): void {
  const mode = r.HostConfig.NetworkMode || 'default';
  if (mode.startsWith('container:')) return;
  const byId = (id: string) => networks.find((n) => n.id === id);
  const byName = (name: string) => networks.find((n) => n.name === name);
  const wanted = Object.entries(r.NetworkEndpoints ?? {}).map(([id, w]) => byId(id) ?? byName(w.Name));
  // a record without endpoints is on its mode's network: the default bridge, or none when it is off
  if (!wanted.length) wanted.push(mode === 'default' ? (byName('bridge') ?? byName('none')) : byName(mode));
  for (const n of wanted)
    if (n) events.emit('network', action, n.id, { container: r.Id, name: n.name, type: n.driver });
}
