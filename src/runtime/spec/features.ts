// The OCI features document (runtime-spec features.md) that `berth-runc
// features` prints: what this runtime accepts and implements, so that an
// engine can choose before it writes a config.json. It states what Berth does,
// not what the spec allows: no systemd cgroup driver, no Intel RDT, no
// id-mapped mounts, no recursive mount attributes; seccomp as libseccomp 2.5
// (Debian 12's) builds it.

import {
  CAPABILITIES,
  HOOK_NAMES,
  LIBSECCOMP_2_5_ARCHES,
  NAMESPACE_TYPES,
  SECCOMP_ACTIONS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from './names.js';
import { OCI_VERSION } from './defaults.js';
import type { SeccompFlag } from './types.js';

export interface Features {
  ociVersionMin?: string;
  ociVersionMax?: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
  seccomp?: {
    enabled?: boolean;
    actions?: string[];
    operators?: string[];
    archs?: string[];
    knownFlags?: string[];
    supportedFlags?: string[];
  };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean };
  mountExtensions?: { idmap?: { enabled?: boolean } };
}

/**
 * The `mounts[].options` that plan/mountopts.ts turns into mount(2) flags or
 * propagation rather than passing them to the filesystem as data: mount(8)'s
 * flags and their negations, bind/rbind, and the propagation types. runc's
 * recursive attributes (rro, rnosuid, ...), tmpcopyup and idmap are not here
 * because Berth refuses them (unit tests hold this list to that table).
 */
export const MOUNT_OPTIONS: readonly string[] = [
  'acl',
  'async',
  'atime',
  'bind',
  'defaults',
  'dev',
  'diratime',
  'dirsync',
  'exec',
  'iversion',
  'lazytime',
  'loud',
  'mand',
  'noacl',
  'noatime',
  'nodev',
  'nodiratime',
  'noexec',
  'noiversion',
  'nolazytime',
  'nomand',
  'norelatime',
  'nostrictatime',
  'nosuid',
  'nosymfollow',
  'private',
  'rbind',
  'rdev',
  'rdiratime',
  'relatime',
  'remount',
  'rexec',
  'rnoatime',
  'rnodev',
  'rnodiratime',
  'rnoexec',
  'rnosuid',
  'rnosymfollow',
  'ro',
  'rprivate',
  'rrelatime',
  'rro',
  'rrw',
  'rshared',
  'rslave',
  'rstrictatime',
  'rsuid',
  'rsymfollow',
  'runbindable',
  'rw',
  'shared',
  'silent',
  'slave',
  'strictatime',
  'suid',
  'sync',
  'tmpcopyup',
  'unbindable',
];

/**
 * Filter flags libseccomp 2.5 can set. WAIT_KILLABLE_RECV needs libseccomp
 * 2.6 and Linux 5.19, so it is known (accepted in config.json) but not
 * supported here.
 */
export const LIBSECCOMP_2_5_FLAGS: readonly SeccompFlag[] = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
];

export interface FeaturesOptions {
  /** Berth's version, for the annotations. */
  version?: string;
  /** The libseccomp version berth-init is linked with, when known ("2.5.4"). */
  libseccompVersion?: string;
  /** Flags the host's kernel and libseccomp accept; default LIBSECCOMP_2_5_FLAGS. */
  seccompSupportedFlags?: readonly string[];
}

const sorted = (xs: readonly string[]) => [...xs].sort();

/** The features document; a fresh object on every call. */
export function featuresDocument(opts: FeaturesOptions = {}): Features {
  const annotations: Record<string, string> = {};
  if (opts.libseccompVersion) annotations['io.github.seccomp.libseccomp.version'] = opts.libseccompVersion;
  if (opts.version) annotations['org.berth.runtime.version'] = opts.version;
  const doc: Features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: [...MOUNT_OPTIONS],
    linux: {
      namespaces: sorted(NAMESPACE_TYPES),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: {
        enabled: true,
        actions: sorted(SECCOMP_ACTIONS),
        operators: sorted(SECCOMP_OPERATORS),
        archs: sorted(LIBSECCOMP_2_5_ARCHES),
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: [...(opts.seccompSupportedFlags ?? LIBSECCOMP_2_5_FLAGS)],
      },
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
  };
  if (Object.keys(annotations).length > 0) doc.annotations = annotations;
  return doc;
}
