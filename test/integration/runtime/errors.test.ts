// berth-init's failures reach an in-process caller with the errno and the
// failing step as data, and with a kind that follows the errno: EPERM and
// ENOENT are told apart without reading the words.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Runtime } from '../../../src/runtime/container.js';
import { BerthError, grpcStatusOf, httpStatusOf, GrpcStatus } from '../../../src/common/errors.js';
import { isRoot, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root (namespaces, cgroups, mounts)' : false;

describe('berth-init errors keep their errno', { skip }, () => {
  const runtimes: Runtime[] = [];
  after(() => runtimes.forEach((rt) => rt.close()));
  const bundle = suiteBundles();

  const refusal = async (edit: Parameters<typeof bundle>[1]): Promise<BerthError> => {
    const b = bundle('true', edit);
    const rt = new Runtime({ root: b.root, spareInit: false });
    runtimes.push(rt);
    const id = uniqueId('errno');
    try {
      await rt.create(id, { bundle: b.dir, stdio: ['ignore', 'ignore', 'ignore'] });
    } catch (e) {
      assert.ok(e instanceof BerthError, `a BerthError, not ${String(e)}`);
      assert.deepEqual(
        rt.list().map((s) => s.id),
        [],
        'nothing left behind',
      );
      return e;
    }
    await rt.delete(id, true);
    assert.fail('create must fail');
  };

  it('ENOENT: joining a namespace of a process that does not exist is not-found', async () => {
    const e = await refusal((s) => {
      const ns = s.linux!.namespaces!.find((n) => n.type === 'network')!;
      ns.path = '/proc/999999999/ns/net';
    });
    assert.equal(e.layer, 'berth-init', e.message);
    assert.equal(e.errno, 'ENOENT', e.message);
    assert.equal(e.code, 'not-found');
    assert.match(e.step ?? '', /network/);
    assert.equal(grpcStatusOf(e), GrpcStatus.NOT_FOUND);
    assert.equal(httpStatusOf(e), 404);
  });

  it('EPERM: a hard RLIMIT_NOFILE above fs.nr_open is permission-denied', async () => {
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    const e = await refusal((s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', hard: nrOpen + 1, soft: 1024 }];
    });
    assert.equal(e.layer, 'berth-init');
    assert.equal(e.errno, 'EPERM');
    assert.equal(e.code, 'permission-denied');
    assert.match(e.step ?? '', /RLIMIT_NOFILE|rlimit/i);
    assert.equal(grpcStatusOf(e), GrpcStatus.PERMISSION_DENIED);
    assert.equal(httpStatusOf(e), 403);
  });
});
