// The engine's container records: containerd's validation, update with and
// without field masks (immutable runtime and snapshotter), delete refused
// while a task exists, and the runtime choice from a container's runtime
// options (runc v2 Options, v1 RuncOptions, SystemdCgroup refused).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadata, type Metadata } from '../../../src/image/index.js';
import { ENGINE_MIGRATIONS } from '../../../src/engine/meta/schema.js';
import { NamespaceStore } from '../../../src/engine/meta/namespaces.js';
import { ContainerStore, type ContainerInput } from '../../../src/engine/meta/containers.js';
import { chooseRuntime } from '../../../src/engine/tasks/options.js';
import { encodeAny } from '../../../src/engine/proto.js';

const spec = {
  type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
  value: Buffer.from('{"ociVersion":"1.0.2"}'),
};

function input(id: string, over: Partial<ContainerInput> = {}): ContainerInput {
  return {
    id,
    labels: { a: '1' },
    image: 'docker.io/library/busybox:latest',
    runtime: { name: 'io.containerd.runc.v2', options: null },
    spec,
    snapshotter: 'overlayfs',
    snapshotKey: id,
    extensions: {},
    ...over,
  };
}

describe('ContainerStore', () => {
  let dir: string;
  let md: Metadata;
  let store: ContainerStore;
  const tasks = new Set<string>();

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-cstore-'));
    md = openMetadata(dir);
    md.migrate('engine', ENGINE_MIGRATIONS);
    store = new ContainerStore(md, new NamespaceStore(md));
    store.hasTask = (ns, id) => tasks.has(`${ns}/${id}`);
  });
  after(() => {
    md.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, gets and lists per namespace; refuses a duplicate', () => {
    const c = store.create('ns1', input('c1'));
    assert.equal(c.id, 'c1');
    assert.deepEqual(c.labels, { a: '1' });
    assert.equal(c.spec?.value.toString(), '{"ociVersion":"1.0.2"}');
    assert.deepEqual(
      store.list('ns1').map((x) => x.id),
      ['c1'],
    );
    assert.deepEqual(store.list('ns2'), []);
    assert.throws(() => store.create('ns1', input('c1')), /already exists/);
    assert.throws(() => store.get('ns2', 'c1'), /not found/);
  });

  it('refuses bad records, naming the field', () => {
    assert.throws(
      () => store.create('ns1', input('bad/id')),
      /create container failed validation: container\.ID: identifier "bad\/id" must match/,
    );
    assert.throws(
      () => store.create('ns1', input('c2', { runtime: { name: '', options: null } })),
      /Runtime\.Name must be set/,
    );
    assert.throws(() => store.create('ns1', input('c3', { spec: null })), /Spec must be set/);
    assert.throws(() => store.create('ns1', input('c4', { snapshotter: '' })), /Snapshotter must be set/);
    assert.throws(() => store.create('ns1', input('c5', { labels: { k: 'x'.repeat(5000) } })), /maximum size/);
    assert.deepEqual(
      store.list('ns1').map((x) => x.id),
      ['c1'],
    );
  });

  it('updates by field mask; without one, every updatable field, never runtime or snapshotter', () => {
    store.create('ns1', input('u1'));
    const u = store.update('ns1', input('u1', { labels: { b: '2' }, image: 'other' }), ['labels.b', 'image']);
    assert.deepEqual(u.labels, { a: '1', b: '2' });
    assert.equal(u.image, 'other');
    const removed = store.update('ns1', input('u1', { labels: {} }), ['labels.a']);
    assert.deepEqual(removed.labels, { b: '2' });
    assert.throws(() => store.update('ns1', input('u1'), ['runtime']), /cannot update "runtime"/);
    assert.throws(
      () =>
        store.update('ns1', input('u1', { runtime: { name: 'io.containerd.runtime.v1.linux', options: null } }), []),
      /immutable/,
    );
    const all = store.update('ns1', input('u1', { labels: { z: '9' }, image: 'third' }), []);
    assert.deepEqual(all.labels, { z: '9' });
    assert.equal(all.image, 'third');
    assert.ok(all.updatedAt >= all.createdAt);
  });

  it('refuses to delete a container whose task exists', () => {
    store.create('ns1', input('t1'));
    tasks.add('ns1/t1');
    assert.throws(() => store.delete('ns1', 't1'), /delete the task first/);
    tasks.delete('ns1/t1');
    store.delete('ns1', 't1');
    assert.throws(() => store.delete('ns1', 't1'), /not found/);
  });
});

describe('chooseRuntime', () => {
  it('is the runtime library unless a binary is named', () => {
    assert.deepEqual(chooseRuntime('io.containerd.runc.v2', null, null), { kind: 'berth' });
    const v2 = encodeAny('containerd.runc.v1.Options', { binary_name: 'crun', root: '/run/x' });
    assert.deepEqual(chooseRuntime('io.containerd.runc.v2', v2, null), {
      kind: 'runc',
      binary: 'crun',
      root: '/run/x',
    });
    const v1 = encodeAny('containerd.linux.runc.RuncOptions', { runtime: '/usr/sbin/runc' });
    assert.deepEqual(chooseRuntime('io.containerd.runtime.v1.linux', null, v1), {
      kind: 'runc',
      binary: '/usr/sbin/runc',
    });
  });

  it('refuses SystemdCgroup, unknown runtimes and unknown options', () => {
    const sd = encodeAny('containerd.runc.v1.Options', { systemd_cgroup: true });
    assert.throws(
      () => chooseRuntime('io.containerd.runc.v2', sd, null),
      /SystemdCgroup: the systemd cgroup driver is not supported/,
    );
    assert.throws(
      () => chooseRuntime('io.containerd.kata.v2', null, null),
      /runtime "io.containerd.kata.v2" is not supported/,
    );
    assert.throws(
      () => chooseRuntime('io.containerd.runc.v2', { type_url: 'example.Unknown', value: Buffer.alloc(0) }, null),
      /not known/,
    );
  });
});
