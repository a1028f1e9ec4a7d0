// The linter that `npm test` runs bites on what review found: a promise
// dropped with `void` (as `void handle(r)` once did in the runtime) and a
// promise not handled at all. The probe is a file of its own beside this
// test, removed afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');

test('eslint refuses floating promises, `void` ones included', () => {
  const probe = join(here, `lint-probe-${process.pid}.ts`);
  writeFileSync(
    probe,
    [
      'async function handle(n: number): Promise<number> {',
      '  await Promise.resolve();',
      '  return n;',
      '}',
      'export function dispatch(n: number): void {',
      '  void handle(n);',
      '  handle(n + 1);',
      '}',
      '',
    ].join('\n'),
  );
  try {
    const r = spawnSync(
      process.execPath,
      [join(repo, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', probe],
      {
        cwd: repo,
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1, r.stderr);
    const [file] = JSON.parse(r.stdout) as { messages: { ruleId: string; line: number }[] }[];
    const floating = file!.messages
      .filter((m) => m.ruleId === '@typescript-eslint/no-floating-promises')
      .map((m) => m.line);
    assert.deepEqual(floating, [6, 7]);
  } finally {
    rmSync(probe, { force: true });
  }
});
