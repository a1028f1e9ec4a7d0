// Which backend runs a task, from the container's runtime name and the
// options containerd's clients send (on the container, or on the task
// create, which wins): containerd.runc.v1.Options for io.containerd.runc.v2
// (BinaryName, Root, SystemdCgroup), containerd.linux.runc.RuncOptions for
// io.containerd.runtime.v1.linux (Runtime, RuntimeRoot, SystemdCgroup).

import { BerthError } from '../../common/errors.js';
import { decodeAny } from '../proto.js';
import type { AnyValue } from '../meta/containers.js';

export const RUNTIMES = [
  'io.containerd.runc.v2',
  'io.containerd.runc.v1',
  'io.containerd.runtime.v1.linux',
  'io.containerd.berth.v1',
];

export interface RuntimeChoice {
  kind: 'berth' | 'runc';
  /** runc-compatible binary (kind runc). */
  binary?: string;
  /** its --root, if the client chose one. */
  root?: string;
}

function invalid(msg: string, field: string): BerthError {
  return new BerthError('berth-engine', 'invalid-argument', msg, { field });
}

export function chooseRuntime(name: string, containerOpts: AnyValue | null, taskOpts: AnyValue | null): RuntimeChoice {
  if (!RUNTIMES.includes(name)) {
    throw invalid(
      `runtime "${name}" is not supported by berth-engine (supported: ${RUNTIMES.join(', ')})`,
      'container.runtime.name',
    );
  }
  let binary = '';
  let root = '';
  let systemd = false;
  for (const opts of [containerOpts, taskOpts]) {
    if (!opts?.type_url) continue;
    const o = decodeAny(opts);
    if (!o) throw invalid(`runtime options of type "${opts.type_url}" are not known to berth-engine`, 'options');
    const typeName = opts.type_url.slice(opts.type_url.lastIndexOf('/') + 1);
    if (typeName === 'containerd.runc.v1.Options') {
      if (typeof o.binary_name === 'string' && o.binary_name) binary = o.binary_name;
      if (typeof o.root === 'string' && o.root) root = o.root;
      if (o.systemd_cgroup === true) systemd = true;
    } else if (typeName === 'containerd.linux.runc.RuncOptions') {
      if (typeof o.runtime === 'string' && o.runtime) binary = o.runtime;
      if (typeof o.runtime_root === 'string' && o.runtime_root) root = o.runtime_root;
      if (o.systemd_cgroup === true) systemd = true;
    } else {
      throw invalid(`runtime options of type "${typeName}" do not apply to runtime "${name}"`, 'options');
    }
  }
  if (systemd) {
    throw invalid(
      'SystemdCgroup: the systemd cgroup driver is not supported by berth-engine (use cgroupfs)',
      'options.SystemdCgroup',
    );
  }
  return binary ? { kind: 'runc', binary, ...(root ? { root } : {}) } : { kind: 'berth' };
}
