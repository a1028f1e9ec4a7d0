// `berth-runc VERB --help` (or -h), as runc answers it: the verb's name and
// summary, its usage line and its options, on stdout, exit 0. Asked for
// among the verb's flags, it wins over the rest of the line, which is not
// parsed, so `run --help` needs no container id.

import type { Command } from './command.js';

/**
 * True when the verb's own flags ask for help: those before its first
 * argument (`exec ID ls -h` runs `ls -h`) and before a "--".
 */
export function wantsHelp(rest: string[], flags: Command['flags']): boolean {
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--help' || a === '-h' || a === '-help') return true;
    if (a === '--' || !a.startsWith('-')) return false;
    const name = a.replace(/^--?/, '');
    const spec = flags[name] ?? Object.entries(flags).find(([, f]) => f.alias === name)?.[1];
    // a flag's value is not an argument
    if (spec && spec.kind !== 'bool' && !name.includes('=')) i++;
  }
  return false;
}

export function verbHelp(cmd: Command): string {
  const options = Object.entries(cmd.flags).map(([name, f]) => {
    const value = f.kind === 'bool' ? '' : ' value';
    const names = `--${name}${value}${f.alias ? `, -${f.alias}${value}` : ''}`;
    return `   ${names}${f.ignored ? '  (accepted for runc compatibility, ignored)' : ''}`;
  });
  return `NAME:
   berth-runc ${cmd.name} - ${cmd.summary}

USAGE:
   berth-runc ${cmd.usage}

OPTIONS:
${[...options, '   --help, -h  show help'].join('\n')}
`;
}
