// The completion scripts of `berth completion bash|zsh|fish`, loaded into the
// real shells and asked for candidates as the shells ask them: the words
// offered after a command, a management command and a management form's
// flags (`image ls` has its own, not `container ls`'s).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BERTH } from './compare.js';
import { which } from '../../helpers/daemons.js';

const need = (shell: string) =>
  !existsSync(BERTH) ? 'needs the build (node scripts/build.mjs)' : !which(shell) ? `needs ${shell}` : false;

function sh(shell: string, script: string): string {
  const r = spawnSync(shell, shell === 'zsh' ? ['-f', '-c', script] : ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, BERTH },
  });
  assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
  assert.equal(r.stderr, '', shell);
  return r.stdout;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);
const VOLUME = ['create', 'inspect', 'ls', 'prune', 'rm'];

describe('berth completion', () => {
  it('bash: commands, sub-commands, flags of a management form', { skip: need('bash') }, () => {
    const ask = (line: string[], cword: number) =>
      words(
        sh(
          'bash',
          `source <("$BERTH" completion bash); COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _berth; echo "\${COMPREPLY[*]}"`,
        ),
      );
    assert.deepEqual(ask(['berth', 'vol'], 1), ['volume']);
    assert.deepEqual(ask(['berth', 'volume', ''], 2).sort(), VOLUME);
    assert.deepEqual(ask(['berth', 'image', 'ls', '--d'], 3), ['--digests']);
    assert.deepEqual(ask(['berth', 'container', 'ls', '--l'], 3).sort(), ['--last', '--latest']);
  });

  it('zsh: the same, through its own `words` and `CURRENT`', { skip: need('zsh') }, () => {
    sh('zsh', `"$BERTH" completion zsh > /dev/null && zsh -n <("$BERTH" completion zsh)`);
    // compadd and compdef stand in for the completion system's: they print what they are given.
    const ask = (line: string[]) =>
      words(
        sh(
          'zsh',
          `compdef() { :; }; compadd() { shift; print -r -- "$@"; }; _files() { print FILES; }; source <("$BERTH" completion zsh); words=(${line.map((w) => `'${w}'`).join(' ')}); CURRENT=${line.length}; _berth`,
        ),
      );
    assert.deepEqual(ask(['berth', 'volume', '']).sort(), VOLUME);
    assert.ok(ask(['berth', 'image', 'ls', '--']).includes('--digests'));
    assert.ok(!ask(['berth', 'image', 'ls', '--']).includes('--last'));
    assert.ok(ask(['berth', '']).includes('run'));
  });

  it('a reader slower than berth still gets all of a large output (98 kB, more than a pipe holds)', () => {
    const whole = spawnSync(BERTH, ['completion', 'fish'], { encoding: 'utf8' }).stdout.length;
    assert.ok(whole > 65536, String(whole));
    // The reader starts after berth has filled the pipe and is ready to exit.
    const slow = sh('bash', '"$BERTH" completion fish | (sleep 1; wc -c)');
    assert.equal(Number(slow.trim()), whole);
  });

  it('fish: sub-commands with their descriptions, each management form its own flags', { skip: need('fish') }, () => {
    const ask = (line: string) =>
      sh('fish', `"$BERTH" completion fish | source; complete -C "${line}"`)
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!);
    assert.deepEqual(ask('berth volume ').sort(), VOLUME);
    const imageLs = ask('berth image ls --');
    assert.ok(imageLs.includes('--digests'), imageLs.join(' '));
    assert.ok(!imageLs.includes('--last'), `image ls offers container ls's --last: ${imageLs.join(' ')}`);
    assert.ok(ask('berth container ls --').includes('--last'));
  });
});
