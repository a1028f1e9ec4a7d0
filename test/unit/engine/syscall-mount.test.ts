// Which rootfs mounts the engine has its shim make with one mount(2) call,
// and with what: anything that needs more than one call stays mount(8)'s.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asSyscall } from '../../../src/engine/tasks/syscall-mount.js';

const MS_RDONLY = 1;
const MS_BIND = 4096;
const MS_REC = 16384;

describe('asSyscall (the rootfs mounts a shim makes)', () => {
  it('an overlay: its type, flags and the data as the snapshotter wrote it', () => {
    const options = ['index=off', 'lowerdir=/s/2/fs:/s/1/fs', 'upperdir=/s/3/fs', 'workdir=/s/3/work'];
    assert.deepEqual(asSyscall({ type: 'overlay', options }), {
      fstype: 'overlay',
      flags: 0,
      data: options.join(','),
    });
    assert.deepEqual(asSyscall({ type: 'overlay', options: ['ro', 'lowerdir=/a:/b'] }), {
      fstype: 'overlay',
      flags: MS_RDONLY,
      data: 'lowerdir=/a:/b',
    });
  });

  it('a plain bind (the native snapshotter): no type, MS_BIND with MS_REC for rbind', () => {
    assert.deepEqual(asSyscall({ type: 'bind', options: ['rbind', 'rw'] }), {
      fstype: '',
      flags: MS_BIND | MS_REC,
      data: '',
    });
    assert.deepEqual(asSyscall({ type: '', options: ['bind', ''] }), { fstype: '', flags: MS_BIND, data: '' });
  });

  it('what one call would not do is left to mount(8)', () => {
    // a read-only or nosuid bind needs a remount
    assert.equal(asSyscall({ type: 'bind', options: ['rbind', 'ro'] }), undefined);
    assert.equal(asSyscall({ type: 'bind', options: ['bind', 'nosuid'] }), undefined);
    // a bind type without a bind option: mount(8) guesses a filesystem
    assert.equal(asSyscall({ type: 'bind', options: [] }), undefined);
    assert.equal(asSyscall({ type: 'overlay', options: ['bind'] }), undefined);
    assert.equal(asSyscall({ type: 'overlay', options: ['rshared', 'lowerdir=/a'] }), undefined);
    assert.equal(asSyscall({ type: 'overlay', options: ['rro', 'lowerdir=/a'] }), undefined);
    assert.equal(asSyscall({ type: 'overlay', options: ['remount'] }), undefined);
    assert.equal(asSyscall({ type: 'overlay', options: [`lowerdir=${'/l'.repeat(2100)}`] }), undefined, 'a page');
    // mount(8) names what is wrong with an option the runtime refuses
    assert.equal(asSyscall({ type: 'bind', options: ['rbind', 'idmap'] }), undefined);
  });
});
