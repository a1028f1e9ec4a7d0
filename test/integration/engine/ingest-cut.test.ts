// Ingests at the edges the crash test hits only by chance: a commit cut by
// kill -9 between the rename of the data into the store and the removal of
// the ingest directory (containerd lists no ingest without data, and the
// next pull must find nothing active), a partial ingest with bytes (still
// listed, for a resume), and two Write streams opening one ref at the same
// moment (only one gets the ref; the other is told Unavailable, as ctr
// expects before it retries).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { which } from '../../helpers/daemons.js';
import { startEngine, type Engine } from './helpers.js';

const skip =
  (!which('ctr') && 'ctr is not installed (apt-get install containerd)') || (process.getuid?.() !== 0 && 'needs root');

let eng: Engine;

before(async () => {
  if (skip) return;
  eng = await startEngine('berth-eng-ingcut-');
});

after(async () => {
  await eng?.stop();
});

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function ingestDir(ns: string, ref: string): string {
  return join(eng.root, 'engine/engine-ingest', sha256(`${ns}\0${ref}`));
}

test(
  'a commit cut after its rename leaves no active ingest, before or after the blob is written again',
  { skip },
  async () => {
    const data = randomBytes(200 << 10);
    const digest = `sha256:${sha256(data)}`;
    const ref = `layer-${digest}`;
    const args = ['content', 'ingest', '--expected-digest', digest, '--expected-size', String(data.length), ref];
    const first = eng.ctr(args, { input: data });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(existsSync(join(eng.root, 'engine/content/blobs/sha256', sha256(data))), 'the blob is in the store');
    // What kill -9 leaves between the rename of data/ into blobs/ and the removal of the directory.
    const dir = ingestDir('default', ref);
    assert.ok(!existsSync(dir), 'a finished commit removes its ingest');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const meta = { ns: 'default', ref, total: data.length, expected: digest, started: new Date().toISOString() };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    await eng.kill9();
    await eng.restart();

    assert.doesNotMatch(eng.ctr(['content', 'active']).stdout, new RegExp(ref), 'an ingest without data is not listed');
    // The pull's sequence again: STAT with ref, total and expected → AlreadyExists; nothing is left active.
    const again = eng.ctr(args, { input: data });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(eng.ctr(['content', 'active']).stdout, new RegExp(ref));
    assert.equal(eng.ctr(['content', 'ls', '-q']).stdout.includes(digest), true);
  },
);

test('a cut ingest whose blob is gone starts over fresh and commits', { skip }, async () => {
  const data = randomBytes(100 << 10);
  const digest = `sha256:${sha256(data)}`;
  const ref = `layer-${digest}`;
  const dir = ingestDir('default', ref);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const old = new Date(Date.now() - 3600_000).toISOString();
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({ ns: 'default', ref, total: data.length, expected: digest, started: old }),
  );
  const r = eng.ctr(['content', 'ingest', '--expected-digest', digest, '--expected-size', String(data.length), ref], {
    input: data,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(
    !existsSync(dir),
    `the commit removed the ingest: ${existsSync(dir) ? readdirSync(dir).join(',') : ''} ${eng
      .log()
      .split('\n')
      .filter((l) => l.includes('content'))
      .slice(-6)
      .join('\n')}`,
  );
  assert.doesNotMatch(eng.ctr(['content', 'active']).stdout, new RegExp(ref));
});

test('a partial ingest with bytes stays listed for a resume', { skip }, () => {
  const data = randomBytes(3000);
  const ref = `layer-sha256:${sha256('partial-' + data.toString('hex'))}`;
  // The size promised is larger than what comes: the commit fails, the bytes stay.
  const r = eng.ctr(['content', 'ingest', '--expected-size', String(data.length + 1000), ref], { input: data });
  assert.notEqual(r.status, 0, 'the short commit fails');
  const active = eng.ctr(['content', 'active']).stdout;
  assert.match(active, new RegExp(`${ref}\\s+3kB`), active);
});

test('two Write streams opening one ref at once: one writer, the other is Unavailable', { skip }, async () => {
  const Ctor = clientConstructor('containerd.services.content.v1.Content');
  const c = new Ctor(`unix://${eng.sock}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(NAMESPACE_HEADER, 'default');
  const data = randomBytes(1000);
  const digest = `sha256:${sha256(data)}`;
  const ref = `layer-${digest}`;
  type Duplex = grpc.ClientDuplexStream<object, { action: string; offset: string | number }>;
  const open = (): Promise<{ s: Duplex; res?: { offset: string | number }; code?: number }> =>
    new Promise((resolve) => {
      const s = (c as unknown as Record<string, (m: grpc.Metadata) => Duplex>).Write!.call(c, md);
      s.once('data', (res: { offset: string | number }) => resolve({ s, res }));
      s.once('error', (e: grpc.ServiceError) => resolve({ s, code: e.code }));
      s.write({ action: 'STAT', ref, total: data.length, expected: digest });
    });
  try {
    // Both first messages are sent in the same turn: they reach the engine together.
    const [a, b] = await Promise.all([open(), open()]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(
      codes,
      [grpc.status.UNAVAILABLE, undefined],
      `exactly one stream holds the ref (${codes.join(',')})`,
    );
    const winner = a.res ? a : b;
    const done = new Promise<{ action: string }>((resolve, reject) => {
      winner.s.once('data', resolve);
      winner.s.once('error', reject);
    });
    winner.s.write({ action: 'COMMIT', ref, offset: 0, data, total: data.length, expected: digest });
    assert.equal((await done).action, 'COMMIT');
    winner.s.end();
    (a.res ? b : a).s.cancel();
    assert.doesNotMatch(eng.ctr(['content', 'active']).stdout, new RegExp(ref));
    const got = eng.ctr(['content', 'get', digest]);
    assert.equal(got.status, 0, got.stderr);
  } finally {
    c.close();
  }
});
