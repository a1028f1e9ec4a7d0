// containerd's API as the build generated it: the services the engine serves
// are there, and a message encodes and decodes to the same fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageCodec, serviceDefinition } from '../../../src/api/load.js';

test('every v1 service containerd serves is defined', () => {
  for (const s of [
    'containers',
    'content',
    'diff',
    'events',
    'images',
    'introspection',
    'leases',
    'snapshots',
    'tasks',
    'version',
  ]) {
    const name = `containerd.services.${s}.v1.${s[0]!.toUpperCase()}${s.slice(1)}`;
    assert.ok(Object.keys(serviceDefinition(name)).length > 0, name);
  }
  const ns = serviceDefinition('containerd.services.namespaces.v1.Namespaces');
  assert.equal(ns.Create?.path, '/containerd.services.namespaces.v1.Namespaces/Create');
  const write = serviceDefinition('containerd.services.content.v1.Content').Write;
  assert.ok(write?.requestStream && write.responseStream, 'content Write is a bidirectional stream');
});

test('a content Info round-trips with snake_case fields and numeric sizes', () => {
  assert.equal(messageCodec('containerd.services.content.v1.Info').name, 'containerd.services.content.v1.Info');
  const bytes = serviceDefinition('containerd.services.content.v1.Content').Info!.responseSerialize({
    info: { digest: 'sha256:' + 'a'.repeat(64), size: 1234567890123, labels: { 'containerd.io/gc.root': 'x' } },
  });
  const back = serviceDefinition('containerd.services.content.v1.Content').Info!.responseDeserialize(bytes) as {
    info: { digest: string; size: number; labels: Record<string, string> };
  };
  assert.equal(back.info.size, 1234567890123);
  assert.equal(back.info.digest, 'sha256:' + 'a'.repeat(64));
  assert.deepEqual(back.info.labels, { 'containerd.io/gc.root': 'x' });
});

test('an unknown service or message name is an error, not an empty definition', () => {
  assert.throws(() => serviceDefinition('containerd.services.nope.v1.Nope'), /no service/);
  assert.throws(() => messageCodec('containerd.events.Nope'), /no message/);
});
