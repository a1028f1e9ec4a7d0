// dockerd's volume events around a container's run: `mount` for each volume
// as the container starts (driver, container, destination, read/write,
// propagation), `unmount` when it has stopped (driver, container). Bind and
// tmpfs mounts send none.

import type { EventBus } from '../events.js';
import type { ContainerRecord } from './record.js';

export function volumeEvents(events: EventBus, r: ContainerRecord, action: 'mount' | 'unmount'): void {
  for (const m of r.Mounts) {
    if (m.Type !== 'volume' || !m.Name) continue;
    const driver = m.Driver || 'local';
    events.emit(
      'volume',
      action,
      m.Name,
      action === 'mount'
        ? {
            driver,
            container: r.Id,
            destination: m.Destination,
            'read/write': String(m.RW),
            propagation: m.Propagation,
          }
        : { driver, container: r.Id },
    );
  }
}
