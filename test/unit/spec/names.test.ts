// The vocabularies' orders are kernel numbers (the plan compiler relies on
// CAPABILITIES[n] being capability n): hold them to the kernel's headers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { CAPABILITIES, RLIMITS, SECCOMP_ARCHES, LIBSECCOMP_2_5_ARCHES } from '../../../src/runtime/spec/names.js';

function defines(file: string, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of readFileSync(file, 'utf8').matchAll(
    new RegExp(`^#define\\s+(${prefix}[A-Z_]+)\\s+(\\d+)\\s*$`, 'gm'),
  )) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const capH = '/usr/include/linux/capability.h';
test(
  'CAPABILITIES[n] is capability n',
  { skip: existsSync(capH) ? false : `${capH} is missing (apt-get install linux-libc-dev)` },
  () => {
    const caps = defines(capH, 'CAP_');
    CAPABILITIES.forEach((c, i) => assert.equal(caps.get(c), i, c));
    assert.equal(CAPABILITIES.length, 41);
  },
);

const rlimH = '/usr/include/asm-generic/resource.h';
test(
  'RLIMITS[n] is resource n (generic numbering)',
  { skip: existsSync(rlimH) ? false : `${rlimH} is missing` },
  () => {
    const r = defines(rlimH, 'RLIMIT_');
    // x86 and arm use the generic numbers; the header defines some only #ifndef
    for (const [name, n] of r) assert.equal(RLIMITS.indexOf(name as never), n, name);
    // the ones asm-generic guards by #ifndef (RSS, NPROC, NOFILE, MEMLOCK, AS) are 5..9
    assert.deepEqual(RLIMITS.slice(5, 10), [
      'RLIMIT_RSS',
      'RLIMIT_NPROC',
      'RLIMIT_NOFILE',
      'RLIMIT_MEMLOCK',
      'RLIMIT_AS',
    ]);
  },
);

test('libseccomp 2.5 arches are a prefix of the spec list', () => {
  assert.deepEqual(LIBSECCOMP_2_5_ARCHES, SECCOMP_ARCHES.slice(0, LIBSECCOMP_2_5_ARCHES.length));
  assert.equal(LIBSECCOMP_2_5_ARCHES.at(-1), 'SCMP_ARCH_RISCV64');
  assert.equal(LIBSECCOMP_2_5_ARCHES.length, 19);
});
