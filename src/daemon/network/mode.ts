// HostConfig.NetworkMode as dockerd reads it.

import { BerthError } from '../../common/errors.js';

export type NetworkMode =
  | { kind: 'none' }
  | { kind: 'host' }
  | { kind: 'container'; container: string }
  /** 'bridge' (or '' / 'default') for the default network, else a user network's name or id. */
  | { kind: 'network'; network: string };

export function parseMode(mode: string | undefined): NetworkMode {
  const m = mode ?? '';
  if (m === '' || m === 'default' || m === 'bridge') return { kind: 'network', network: 'bridge' };
  if (m === 'none') return { kind: 'none' };
  if (m === 'host') return { kind: 'host' };
  if (m.startsWith('container:')) {
    const id = m.slice('container:'.length);
    if (!id)
      throw new BerthError(
        'berthd',
        'invalid-argument',
        'invalid network mode: container: needs a container name or id',
        { field: 'HostConfig.NetworkMode' },
      );
    return { kind: 'container', container: id };
  }
  return { kind: 'network', network: m };
}
