import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../../src/image/archive/changes.js';

test('--change instructions as docker import applies them', () => {
  const c = applyChanges({ Env: ['PATH=/bin'] }, [
    'CMD ["/bin/sh", "-c", "echo hi"]',
    'ENTRYPOINT /init --flag',
    'ENV PATH=/usr/bin:/bin A="x y"',
    'ENV LEGACY some value',
    'LABEL org.example=1 b=two',
    'WORKDIR /srv',
    'USER 1000:1000',
    'EXPOSE 80 53/udp',
    'VOLUME ["/data"]',
    'stopsignal SIGTERM',
  ]);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/init --flag']);
  assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'A=x y', 'LEGACY=some value']);
  assert.deepEqual(c.Labels, { 'org.example': '1', b: 'two' });
  assert.equal(c.WorkingDir, '/srv');
  assert.equal(c.User, '1000:1000');
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.throws(() => applyChanges({}, ['RUN rm -rf /']), /RUN cannot be changed on import/);
  assert.throws(() => applyChanges({}, ['CMD [not json']), /not a valid JSON array/);
  assert.throws(() => applyChanges({}, ['EXPOSE http']), /invalid port/);
  assert.throws(() => applyChanges({}, ['CMD']), /expected INSTRUCTION ARGUMENTS/);
});
