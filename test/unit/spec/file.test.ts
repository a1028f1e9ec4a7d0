import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSpecFile } from '../../../src/runtime/spec/validate.js';
import { defaultSpec } from '../../../src/runtime/spec/defaults.js';
import { BerthError } from '../../../src/common/errors.js';

function withBundle(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bundle-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function berthError(code: string, pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

test('parseSpecFile reads <bundle>/config.json', () => {
  withBundle((dir) => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(defaultSpec()));
    assert.equal(parseSpecFile(dir).hostname, 'berth');
  });
});

test('a missing config.json is not-found, naming the file', () => {
  withBundle((dir) => {
    assert.throws(
      () => parseSpecFile(dir),
      berthError('not-found', new RegExp(`^${join(dir, 'config.json')}: no such file`)),
    );
  });
});

test('config.json that is not JSON is invalid-argument, naming the file', () => {
  withBundle((dir) => {
    writeFileSync(join(dir, 'config.json'), '{"ociVersion": "1.2.0",');
    assert.throws(
      () => parseSpecFile(dir),
      berthError('invalid-argument', new RegExp(`^${join(dir, 'config.json')}: not valid JSON`)),
    );
  });
});

test('config.json that is a directory cannot be read, naming the file', () => {
  withBundle((dir) => {
    mkdirSync(join(dir, 'config.json'));
    assert.throws(() => parseSpecFile(dir), berthError('invalid-argument', /config\.json: cannot read/));
  });
});

test('a bad field in the file names the field', () => {
  withBundle((dir) => {
    const s: any = defaultSpec();
    s.linux.namespaces.push({ type: 'foo' });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(s));
    assert.throws(
      () => parseSpecFile(dir),
      berthError('invalid-argument', /^config\.json: linux\.namespaces\[\d\]\.type: unknown namespace "foo"$/),
    );
  });
});

test('an absurdly large config.json is refused without reading it', () => {
  withBundle((dir) => {
    const file = join(dir, 'config.json');
    writeFileSync(file, '');
    truncateSync(file, 64 * 1024 * 1024); // sparse: costs no disk
    assert.throws(
      () => parseSpecFile(dir),
      berthError('invalid-argument', /config\.json: 67108864 bytes is too large/),
    );
  });
});
