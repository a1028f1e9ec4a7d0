// The container process as config.json describes it, read back from /proc
// inside the container.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { isRoot, runOut, suiteBundles } from '../../helpers/runtime.js';
import type { Spec } from '../../../src/runtime/spec/types.js';

const skip = !isRoot() ? 'needs root' : false;

describe('process', { skip }, () => {
  const bundle = suiteBundles();
  const run = (script: string, edit?: (s: Spec) => void) => {
    const b = bundle(script, edit);
    // The mapped root of a user namespace must be able to reach the rootfs.
    chmodSync(b.dir, 0o755);
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    return r.out;
  };
  const field = (status: string, name: string) => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1];

  it('user, groups, umask, cwd, env and HOME', () => {
    const out = run('id; umask; pwd; echo "$FOO|$HOME"', (s) => {
      s.process!.user = { uid: 1234, gid: 2345, additionalGids: [10, 20], umask: 0o077 };
      s.process!.cwd = '/work/dir';
      s.process!.env!.push('FOO=bar baz');
    });
    const [id, umask, cwd, env] = out.trim().split('\n');
    assert.match(id!, /^uid=1234 gid=2345 groups=10,20$/);
    assert.equal(umask, '0077');
    assert.equal(cwd, '/work/dir');
    assert.equal(env, 'bar baz|/');
  });

  it('HOME comes from the container /etc/passwd', () => {
    assert.equal(run('echo $HOME').trim(), '/root');
  });

  it('capabilities: the five sets as configured', () => {
    const out = run('cat /proc/self/status', (s) => {
      s.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'],
        effective: ['CAP_CHOWN', 'CAP_KILL'],
        permitted: ['CAP_CHOWN', 'CAP_KILL'],
        inheritable: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      };
      s.process!.noNewPrivileges = false;
    });
    // Exec as root recomputes: P'(eff) = P'(perm) = (P(inh) & F(inh)) | F(perm) & bounding (root: F = all) plus ambient.
    assert.equal(field(out, 'CapBnd'), '0000000000002021');
    assert.equal(field(out, 'CapInh'), '0000000000000020');
    assert.equal(field(out, 'CapAmb'), '0000000000000020');
    assert.equal(field(out, 'NoNewPrivs'), '0');
  });

  it('capabilities of a non-root user are exactly the configured sets', () => {
    const out = run('cat /proc/self/status', (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_NET_BIND_SERVICE'],
        inheritable: ['CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      };
    });
    assert.equal(field(out, 'CapEff'), '0000000000000400');
    assert.equal(field(out, 'CapPrm'), '0000000000000400');
    assert.equal(field(out, 'CapBnd'), '0000000000000401');
    assert.equal(field(out, 'NoNewPrivs'), '1');
  });

  it('rlimits, oom_score_adj, hostname and domainname', () => {
    const out = run(
      'ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj; hostname; cat /proc/sys/kernel/domainname',
      (s) => {
        s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
        s.process!.oomScoreAdj = 500;
        s.hostname = 'box1';
        s.domainname = 'example.test';
      },
    );
    assert.deepEqual(out.trim().split('\n'), ['321', '654', '500', 'box1', 'example.test']);
  });

  it('an rlimit above the host hard limit is a clear error', () => {
    const b = bundle('true', (s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }];
    });
    const r = runOut(b);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /RLIMIT_NOFILE.*(operation not permitted|invalid argument)/);
  });

  it('sysctl is written in the container namespaces', () => {
    const out = run('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax', (s) => {
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789' };
    });
    assert.deepEqual(out.trim().split('\n'), ['1', '123456789']);
  });

  it('scheduler, I/O priority and personality', () => {
    const out = run('cat /proc/self/sched | grep -E "^policy"; ionice; uname -m', (s) => {
      s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 5 };
      s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
      s.linux!.personality = { domain: 'LINUX32' };
    });
    assert.match(out, /policy\s*:\s*3/);
    assert.match(out, /best-effort: prio 6/);
    assert.match(out, /^i686$/m);
  });

  it('time namespace offsets move the monotonic clock', () => {
    const out = run('cat /proc/uptime', (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 0 }, boottime: { secs: 86400 * 1000, nanosecs: 0 } };
    });
    assert.ok(Number(out.split(' ')[0]) > 86400 * 1000, out);
  });

  it('a new user namespace maps ids as configured', () => {
    const out = run('cat /proc/self/uid_map /proc/self/gid_map; id -u', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // sysfs cannot be mounted from a user namespace without its own network namespace rules; keep it simple
      s.mounts = s.mounts!.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
    });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, ['0 100000 65536', '0 100000 65536', '0']);
  });

  it('capabilities this runtime or kernel does not know are ignored with a warning, as runc does', () => {
    const b = bundle('grep CapEff /proc/self/status', (s) => {
      s.process!.capabilities = {
        bounding: ['CAP_KILL', 'CAP_FROM_THE_FUTURE'],
        effective: ['CAP_KILL', 'CAP_FROM_THE_FUTURE'],
        permitted: ['CAP_KILL'],
      };
    });
    chmodSync(b.dir, 0o755);
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /CapEff:\s*0000000000000020/);
    assert.match(r.err, /ignoring unknown or unavailable capabilities: \[CAP_FROM_THE_FUTURE\]/);
  });
});
