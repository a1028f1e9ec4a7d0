// Bad input: a clear error naming the field or the state, a non-zero exit,
// and nothing left behind (no state, no cgroup, no mount).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, leftovers, runc, uniqueId, suiteBundles, type Bundle } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;

describe('bad input', { skip }, () => {
  const made = suiteBundles();
  const bundle = () => made('exec sleep 100');
  const refused = (b: Bundle, pattern: RegExp, args?: string[]) => {
    const id = uniqueId();
    const r = runc(b, args ?? ['create', '--bundle', b.dir, id]);
    assert.notEqual(r.status, 0, 'must fail');
    assert.match(r.stderr, pattern);
    assert.deepEqual(leftovers(b, id), []);
  };

  it('config.json that is not JSON', () => {
    const b = bundle();
    writeFileSync(join(b.dir, 'config.json'), '{"ociVersion": ');
    refused(b, /config\.json: not valid JSON/);
  });

  it('a missing config.json', () => {
    const b = bundle();
    rmSync(join(b.dir, 'config.json'));
    refused(b, /config\.json: no such file/);
  });

  it('invalid fields are named', () => {
    const b = bundle();
    const cases: [(s: typeof b.spec) => void, RegExp][] = [
      [
        (s) => {
          s.process!.args = [];
        },
        /process\.args/,
      ],
      [
        (s) => {
          (s.linux!.namespaces as unknown[]).push({ type: 'nosuchns' });
        },
        /linux\.namespaces\[\d+\]\.type/,
      ],
      [
        (s) => {
          s.linux!.namespaces!.push({ type: 'pid' });
        },
        /linux\.namespaces\[\d+\].*duplicate|more than once/i,
      ],
      [
        (s) => {
          s.process!.cwd = 'relative';
        },
        /process\.cwd/,
      ],
      [
        (s) => {
          (s.process!.capabilities!.bounding as string[]).push('cap_nope');
        },
        /process\.capabilities\.bounding\[\d+\]/,
      ],
      [
        (s) => {
          (s as { ociVersion: unknown }).ociVersion = 2;
        },
        /ociVersion/,
      ],
    ];
    const original = JSON.stringify(b.spec);
    for (const [edit, pattern] of cases) {
      b.spec = JSON.parse(original);
      edit(b.spec);
      b.write();
      refused(b, pattern);
    }
  });

  it('a missing rootfs', () => {
    const b = bundle();
    b.spec.root!.path = 'no-such-rootfs';
    b.write();
    refused(b, /root\.path: rootfs \(.*no-such-rootfs\) does not exist/);
  });

  it('a namespace path that does not exist', () => {
    const b = bundle();
    b.spec.linux!.namespaces = b.spec.linux!.namespaces!.map((n) =>
      n.type === 'network' ? { type: 'network', path: '/proc/999999999/ns/net' } : n,
    );
    b.write();
    refused(b, /join network namespace \/proc\/999999999\/ns\/net: no such file/);
  });

  it('a resource the host refuses names the field and leaves no cgroup', () => {
    const b = bundle();
    b.spec.linux!.resources = { ...b.spec.linux!.resources, cpu: { cpus: '0-4095' } };
    b.write();
    refused(b, /linux\.resources\.cpu\.cpus/);
  });

  it('a duplicate id, an invalid id, and operations in the wrong state', () => {
    const b = bundle();
    const id = uniqueId();
    assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
    let r = runc(b, ['create', '--bundle', b.dir, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /container with id exists/);
    r = runc(b, ['create', '--bundle', b.dir, '../evil']);
    assert.match(r.stderr, /invalid container id/);
    r = runc(b, ['resume', id]);
    assert.match(r.stderr, /not paused/);
    r = runc(b, ['kill', id, 'NOTASIGNAL']);
    assert.match(r.stderr, /unknown signal/);
    assert.equal(runc(b, ['kill', id, 'KILL']).status, 0);
    for (let i = 0; i < 300 && JSON.parse(runc(b, ['state', id]).stdout).status !== 'stopped'; i++)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    r = runc(b, ['kill', id, 'KILL']);
    assert.match(r.stderr, /container not running/);
    r = runc(b, ['start', id]);
    assert.match(r.stderr, /stopped/);
    r = runc(b, ['exec', id, 'true']);
    assert.match(r.stderr, /stopped container/);
    assert.equal(runc(b, ['delete', id]).status, 0);
    r = runc(b, ['delete', id]);
    assert.match(r.stderr, /does not exist/);
    assert.deepEqual(leftovers(b, id), []);
  });

  it('unknown flags and verbs', () => {
    const b = bundle();
    let r = runc(b, ['create', '--no-such-flag', 'x']);
    assert.match(r.stderr, /flag provided but not defined: -no-such-flag/);
    r = runc(b, ['frobnicate']);
    assert.notEqual(r.status, 0);
  });

  it('--log-format json writes the error as containerd reads it', () => {
    const b = bundle();
    const log = join(b.dir, 'log.json');
    rmSync(join(b.dir, 'config.json'));
    const r = runc(b, ['--log', log, '--log-format', 'json', 'create', '--bundle', b.dir, uniqueId()]);
    assert.notEqual(r.status, 0);
    const entry = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!);
    assert.equal(entry.level, 'error');
    assert.match(entry.msg, /config\.json: no such file/);
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  });
});
