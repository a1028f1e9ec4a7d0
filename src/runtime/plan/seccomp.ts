// OCI seccomp → plan operations for libseccomp. All numbers (actions,
// attributes, comparison operators) are computed here; berth-init only calls
// the libseccomp functions with them.

import { BerthError } from '../../common/errors.js';
import type { LinuxSeccomp, SeccompAction } from '../spec/types.js';
import { Op, type PlanOp } from './ops.js';

const EPERM = 1;

// libseccomp's action values (seccomp.h)
function actionValue(action: SeccompAction, errnoRet: number | undefined, field: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0x00000000;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_NOTIFY':
      return 0x7fc00000;
    default:
      throw new BerthError('runtime', 'invalid-argument', `${field}: unknown seccomp action "${String(action)}"`, {
        field,
      });
  }
}

// libseccomp's architecture tokens for seccomp_arch_resolve_name
const ARCH: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
};

const CMP: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

// scmp_filter_attr values
const ATTR = { CTL_NNP: 3, CTL_TSYNC: 4, CTL_LOG: 6, CTL_SSB: 7 } as const;

export function usesNotify(s: LinuxSeccomp): boolean {
  return s.defaultAction === 'SCMP_ACT_NOTIFY' || (s.syscalls ?? []).some((r) => r.action === 'SCMP_ACT_NOTIFY');
}

/** The SECCOMP_* operations; `state` is the message sent with a notify fd. */
export function compileSeccomp(s: LinuxSeccomp, state: string): PlanOp[] {
  const ops: PlanOp[] = [];
  const defaultAction = actionValue(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new BerthError(
      'runtime',
      'invalid-argument',
      'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action',
      { field: 'linux.seccomp.defaultAction' },
    );
  }
  ops.push({ op: Op.SECCOMP_INIT, label: 'seccomp: init filter', args: [defaultAction] });
  // The plan decides no_new_privs itself (NO_NEW_PRIVS op); libseccomp must not set it behind our back.
  ops.push({ op: Op.SECCOMP_ATTR, label: 'seccomp: leave no_new_privs to the plan', args: [ATTR.CTL_NNP, 0] });
  for (const flag of s.flags ?? []) {
    switch (flag) {
      case 'SECCOMP_FILTER_FLAG_LOG':
        ops.push({ op: Op.SECCOMP_ATTR, label: 'seccomp: flag SECCOMP_FILTER_FLAG_LOG', args: [ATTR.CTL_LOG, 1] });
        break;
      case 'SECCOMP_FILTER_FLAG_SPEC_ALLOW':
        ops.push({
          op: Op.SECCOMP_ATTR,
          label: 'seccomp: flag SECCOMP_FILTER_FLAG_SPEC_ALLOW',
          args: [ATTR.CTL_SSB, 1],
        });
        break;
      case 'SECCOMP_FILTER_FLAG_TSYNC':
        // The container process is single-threaded when the filter loads; nothing to sync.
        break;
      default:
        throw new BerthError(
          'runtime',
          'unavailable',
          `linux.seccomp.flags: ${flag} is not supported by this host's libseccomp`,
          { field: 'linux.seccomp.flags' },
        );
    }
  }
  for (const arch of s.architectures ?? []) {
    const token = ARCH[arch];
    if (!token)
      throw new BerthError(
        'runtime',
        'unavailable',
        `linux.seccomp.architectures: ${arch} is not supported by libseccomp 2.5`,
        { field: 'linux.seccomp.architectures' },
      );
    ops.push({ op: Op.SECCOMP_ARCH, label: `seccomp: add architecture ${arch}`, args: [token] });
  }
  (s.syscalls ?? []).forEach((rule, i) => {
    const field = `linux.seccomp.syscalls[${i}]`;
    const action = actionValue(rule.action, rule.errnoRet, `${field}.action`);
    if (action === defaultAction) return; // libseccomp refuses a rule equal to the default; it would change nothing
    const conds = (rule.args ?? []).map((a, j) => {
      const op = CMP[a.op];
      if (op === undefined)
        throw new BerthError('runtime', 'invalid-argument', `${field}.args[${j}].op: unknown operator "${a.op}"`, {
          field: `${field}.args[${j}].op`,
        });
      return { index: a.index, text: `${a.index} ${op} ${BigInt(a.value)} ${BigInt(a.valueTwo ?? 0)}` };
    });
    // libseccomp cannot compare one argument twice in a rule; like runc, conditions
    // on a repeated argument become separate rules (any of them matches).
    const indexes = new Set(conds.map((c) => c.index));
    const groups = indexes.size === conds.length ? [conds] : conds.map((c) => [c]);
    for (const name of rule.names) {
      for (const g of groups) {
        ops.push({
          op: Op.SECCOMP_RULE,
          label: `seccomp: rule for ${name}`,
          args: [name, action, g.length, ...g.map((c) => c.text)],
        });
      }
    }
  });
  ops.push({ op: Op.SECCOMP_LOAD, label: 'seccomp: load filter', args: [state] });
  return ops;
}
