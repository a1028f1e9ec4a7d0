// The session keyring: a container gets one of its own (runc's "_ses.<id>"),
// which its exec processes join, unless --no-new-keyring keeps the runtime's.
// Read with a small static probe (busybox has no keyctl) that prints the
// calling process's session keyring: "<serial> <type;uid;gid;perm;name>".
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, runc, suiteBundles, uniqueId, type Bundle } from '../../helpers/runtime.js';
import { waitUntil } from '../../helpers/wait.js';

const skip = !isRoot()
  ? 'needs root (namespaces, cgroups, mounts)'
  : !existsSync('/proc/keys')
    ? 'this kernel has no keyrings'
    : false;

const PROBE_C = `
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
  long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
  char d[512];
  long n = id < 0 ? -1 : syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, d, sizeof d - 1);
  if (n < 0) { perror("keyctl"); return 1; }
  d[n < (long)sizeof d ? n : (long)sizeof d - 1] = 0;
  printf("%ld %s\\n", id, d);
  return 0;
}
`;

interface Ring {
  serial: string;
  perm: number;
  name: string;
}

function parse(line: string): Ring {
  const m = /^(-?\d+) [^;]*;[^;]*;[^;]*;([0-9a-f]+);(.*)$/.exec(line.trim());
  assert.ok(m, `probe output: ${JSON.stringify(line)}`);
  return { serial: m[1]!, perm: parseInt(m[2]!, 16), name: m[3]! };
}

const KEY_USR_SEARCH = 0x00080000;

/** What the container's own probe wrote to /init-ring, once it is there whole. */
async function initRing(b: Bundle): Promise<Ring> {
  const f = join(b.rootfs, 'init-ring');
  await waitUntil('the container probe', () => existsSync(f) && readFileSync(f, 'utf8').endsWith('\n'));
  return parse(readFileSync(f, 'utf8'));
}

function execOut(b: Bundle, id: string): string {
  const r = runc(b, ['exec', id, '/keyprobe']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('session keyring', { skip }, () => {
  const bundle = suiteBundles();
  let dir = '';
  let probe = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-keyprobe-'));
    writeFileSync(join(dir, 'probe.c'), PROBE_C);
    probe = join(dir, 'keyprobe');
    execFileSync('cc', ['-static', '-O2', '-o', probe, join(dir, 'probe.c')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const host = () => parse(execFileSync(probe, { encoding: 'utf8' }));
  const withProbe = (script: string) => {
    const b = bundle(script);
    execFileSync('cp', [probe, join(b.rootfs, 'keyprobe')]);
    return b;
  };

  it('a container joins a new keyring named _ses.<id>, searchable by its owner; the runtime keeps its own', () => {
    const b = withProbe('/keyprobe');
    const id = uniqueId('key');
    const before = host();
    const r = runc(b, ['run', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    const ring = parse(r.stdout);
    assert.equal(ring.name, `_ses.${id}`);
    assert.notEqual(ring.serial, before.serial);
    assert.ok(ring.perm & KEY_USR_SEARCH, `perm ${ring.perm.toString(16)} has user search`);
    assert.equal(host().serial, before.serial, 'the runtime session keyring is unchanged');
  });

  it('exec processes join the container keyring, not a new one', async () => {
    const b = withProbe('/keyprobe > /init-ring; exec sleep 1000');
    const id = uniqueId('key');
    let r = runc(b, ['run', '--detach', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    try {
      const init = await initRing(b);
      const exec = parse(execOut(b, id));
      assert.equal(exec.serial, init.serial);
      assert.equal(exec.name, `_ses.${id}`);
    } finally {
      r = runc(b, ['delete', '--force', id]);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('--no-new-keyring keeps the runtime session keyring, for the container and its exec processes', async () => {
    const b = withProbe('/keyprobe > /init-ring; exec sleep 1000');
    const id = uniqueId('key');
    const mine = host();
    let r = runc(b, ['run', '--detach', '--no-new-keyring', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    try {
      assert.equal((await initRing(b)).serial, mine.serial);
      assert.equal(parse(execOut(b, id)).serial, mine.serial);
    } finally {
      r = runc(b, ['delete', '--force', id]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
});
