// The sizes execve(2) can take, checked where the config enters: a process
// whose arguments and environment the kernel would refuse (E2BIG) is refused
// naming the field, before anything is made, instead of failing at the last
// step with an error that names neither (or, past berth-init's per-record
// operand bound, as a plan error).

import type { Fail } from './field.js';
import type { Process } from './types.js';

/** MAX_ARG_STRLEN: one string with its NUL (32 pages of 4 KiB). */
const MAX_STRING = 32 * 4096;
/** The most execve ever takes: 3/4 of _STK_LIM (8 MiB), strings and their pointers together. */
const MAX_TOTAL = ((8 << 20) / 4) * 3;
/** berth-init's bound on the operands of one plan record, less room for the exec's other operands. */
const MAX_STRINGS = (1 << 16) - 64;

export function checkExecSize(p: Process, fail: Fail): void {
  const lists = [
    ['process.args', p.args ?? []],
    ['process.env', p.env ?? []],
  ] as const;
  let total = 0;
  let count = 0;
  for (const [field, list] of lists) {
    for (const [i, s] of list.entries()) {
      const n = Buffer.byteLength(s) + 1;
      if (n > MAX_STRING)
        fail(`${field}[${i}]`, `is ${n - 1} bytes; execve takes at most ${MAX_STRING - 1} in one string`);
      total += n + 8;
    }
    count += list.length;
    if (count > MAX_STRINGS)
      fail(field, `${count} arguments and variables in all; Berth passes at most ${MAX_STRINGS} to a process`);
    if (total > MAX_TOTAL)
      fail(field, `${total} bytes of arguments and environment; execve takes at most ${MAX_TOTAL} (E2BIG)`);
  }
}
