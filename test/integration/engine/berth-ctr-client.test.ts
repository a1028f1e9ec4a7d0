// berth-ctr --address: berth-ctr as a client of berth-engine's containerd API,
// checked against the real ctr (Debian's containerd 1.6) on the same engine:
// what one makes, the other sees, with the same names, digests, keys and
// labels. Every berth-ctr call runs with BERTH_ROOT on a directory that must
// never appear: a client never opens (or creates) a local store, not even
// for a command the API cannot serve or an engine that does not answer.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { layeredImage, pullFixture, pullSkip, REPO, type Engine, type PullFixture } from './helpers.js';

const BERTH_CTR = join(REPO, 'bin/berth-ctr');
const skip = pullSkip;

let fx: PullFixture | undefined;
let eng: Engine;
let ref: string;
let layers: number;
let scratch: string;
/** BERTH_ROOT of every berth-ctr run here: it must never be created. */
let untouchedRoot: string;

before(async () => {
  if (skip) return;
  const img = layeredImage(1);
  layers = img.layers.length;
  fx = await pullFixture('berth-eng-bctr-', img, 'engine/bctr');
  ({ eng, ref } = fx);
  scratch = mkdtempSync('/tmp/berth-bctr-');
  untouchedRoot = join(scratch, 'root-never-made');
});

after(async () => {
  await fx?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function bctr(args: string[], opts: { env?: Record<string, string>; address?: string | null } = {}) {
  const address = opts.address === undefined ? eng.sock : opts.address;
  const r = spawnSync(BERTH_CTR, [...(address === null ? [] : ['--address', address]), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, BERTH_ROOT: untouchedRoot, BERTH_ADDRESS: '', ...opts.env },
  });
  assert.ok(!existsSync(untouchedRoot), `berth-ctr ${args.join(' ')} created a local store at BERTH_ROOT`);
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status}): ${r.stderr}\n${eng.log().slice(-2000)}`);
  return r.stdout;
}

const bok = (args: string[], env?: Record<string, string>) => ok(bctr(args, { env }), `berth-ctr ${args.join(' ')}`);
const cok = (args: string[], ns = 'default') => ok(eng.ctr(args, { ns }), `ctr ${args.join(' ')}`);
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
/** The first column of a table's rows (header dropped). */
const firstColumn = (s: string) =>
  lines(s)
    .slice(1)
    .map((l) => l.split(/\s+/)[0]!);

test('version: the client block, then the server block ctr prints for the same engine', { skip }, () => {
  const out = bok(['version']);
  assert.match(out, /^Client:\n {2}Version: {2}0\.1\.0\n {2}Revision: berth\n {2}Node\.js version: v\d+/);
  const server = (s: string) => s.slice(s.indexOf('Server:'));
  assert.match(server(out), /^Server:\n {2}Version: {2}\S+\n {2}Revision: \S+\n {2}UUID: [0-9a-f-]{36}\n$/);
  assert.equal(server(out), server(cok(['version'])));
  // BERTH_ADDRESS does what --address does.
  const env = bctr(['version'], { address: null, env: { BERTH_ADDRESS: eng.sock } });
  assert.equal(server(ok(env, 'berth-ctr version with BERTH_ADDRESS')), server(out));
});

test('images pull through the engine: ctr sees the image, its blobs and one snapshot per layer', { skip }, () => {
  const out = bok(['images', 'pull', '--plain-http', ref]);
  const top = /unpacked to snapshot (sha256:[0-9a-f]{64}) \(overlayfs\)/.exec(out)?.[1];
  assert.ok(top, out);
  const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
  assert.ok(digest, out);

  // The image record, as ctr lists it, points at the digest berth-ctr printed.
  const row = lines(cok(['images', 'ls'])).find((l) => l.startsWith(ref + ' '));
  assert.ok(row, `ctr images ls has no ${ref}`);
  assert.ok(row.includes(digest), row);
  const mine = JSON.parse(bok(['images', 'ls', '--json'])) as { name: string; target: { digest: string } }[];
  assert.deepEqual(
    mine.map((i) => [i.name, i.target.digest]),
    [[ref, digest]],
  );
  assert.equal(cok(['images', 'check']).includes('complete'), true);

  // The same blobs, and the same committed snapshots (the top one is the chain berth-ctr named).
  assert.deepEqual(lines(bok(['content', 'ls', '-q'])).sort(), firstColumn(cok(['content', 'ls'])).sort());
  const snaps = firstColumn(cok(['snapshots', 'ls'])).sort();
  assert.equal(snaps.length, layers);
  assert.deepEqual(lines(bok(['snapshots', 'ls', '-q'])).sort(), snaps);
  assert.ok(snaps.includes(top));
  assert.match(cok(['snapshots', 'info', top]), /"Kind": "Committed"/);
  // The pull's lease is gone: nothing but the image holds the content.
  assert.deepEqual(firstColumn(cok(['leases', 'ls'])), []);

  // A second pull finds everything in place.
  assert.match(bok(['images', 'pull', '--plain-http', ref]), new RegExp(`Digest: ${digest}`));
  assert.equal(firstColumn(cok(['snapshots', 'ls'])).length, layers);
});

test('content: get reads the bytes ctr reads; labels set and removed are the ones ctr lists', { skip }, () => {
  const target = JSON.parse(bok(['images', 'ls', '--json']))[0].target.digest as string;
  const mine = spawnSync(BERTH_CTR, ['--address', eng.sock, 'content', 'get', target], {
    env: { ...process.env, BERTH_ROOT: untouchedRoot },
  });
  assert.equal(mine.status, 0, String(mine.stderr));
  const theirs = spawnSync('ctr', ['-a', eng.sock, 'content', 'get', target]);
  assert.equal(theirs.status, 0, String(theirs.stderr));
  assert.ok(mine.stdout.length > 0);
  assert.deepEqual(mine.stdout, theirs.stdout);
  const file = join(scratch, 'manifest.json');
  bok(['content', 'get', '-o', file, target]);
  assert.deepEqual(readFileSync(file), theirs.stdout);

  bok(['content', 'label', target, 'bctr.test/a=1', 'bctr.test/b=2']);
  const labelsOf = () => lines(cok(['content', 'ls'])).find((l) => l.startsWith(target))!;
  assert.match(labelsOf(), /bctr\.test\/a=1/);
  assert.match(labelsOf(), /bctr\.test\/b=2/);
  bok(['content', 'label', target, 'bctr.test/a']);
  assert.doesNotMatch(labelsOf(), /bctr\.test\/a=/);
  assert.match(labelsOf(), /bctr\.test\/b=2/);
  // The gc labels of the pull are still there: only the named labels changed.
  assert.match(labelsOf(), /containerd\.io\/gc\.ref\.content\.config=/);
});

test('images tag and rm: the names ctr lists follow; rm --sync lets the engine collect', { skip }, () => {
  const copy = ref.replace(/:latest$/, ':bctr-copy');
  assert.equal(bok(['images', 'tag', ref, copy]).trim(), copy);
  const names = () => lines(cok(['images', 'ls', '-q']));
  assert.deepEqual(names().sort(), [ref, copy].sort());
  const inspected = JSON.parse(bok(['images', 'inspect', copy])) as { target: { digest: string }; chainIds: string[] };
  assert.equal(inspected.chainIds.length, layers);
  assert.deepEqual(firstColumn(cok(['snapshots', 'ls'])).sort(), [...inspected.chainIds].sort());
  assert.equal(bok(['images', 'rm', '--sync', copy]).trim(), copy);
  assert.deepEqual(names(), [ref]);
  // An unknown name: an error naming it, exit status 1, as ctr's.
  const r = bctr(['images', 'rm', `${ref}-missing`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not found/);
});

test('snapshots: prepare, mounts, commit, view, usage, rm, against ctr on the same snapshotter', { skip }, () => {
  const top = (JSON.parse(bok(['images', 'inspect', ref])) as { chainIds: string[] }).chainIds.at(-1)!;
  bok(['snapshots', 'prepare', 'bctr-active', top]);
  const info = JSON.parse(cok(['snapshots', 'info', 'bctr-active'])) as { Kind: string; Parent: string };
  assert.equal(info.Kind, 'Active');
  assert.equal(info.Parent, top);
  // The same mount(8) line as ctr's, character for character.
  assert.equal(
    bok(['snapshots', 'mount', '/tmp/bctr-mnt', 'bctr-active']),
    cok(['snapshots', 'mounts', '/tmp/bctr-mnt', 'bctr-active']),
  );
  const usage = lines(bok(['snapshots', 'usage', 'bctr-active']))[1]!.split(/\s{2,}/);
  const theirs = lines(cok(['snapshots', 'usage', 'bctr-active']))[1]!
    .trim()
    .split(/\s+/);
  assert.equal(usage[0], 'bctr-active');
  assert.equal(usage.at(-1), theirs.at(-1)); // inodes
  bok(['snapshots', 'commit', 'bctr-committed', 'bctr-active']);
  assert.equal((JSON.parse(cok(['snapshots', 'info', 'bctr-committed'])) as { Kind: string }).Kind, 'Committed');
  bok(['snapshots', 'view', 'bctr-view', 'bctr-committed']);
  assert.equal((JSON.parse(cok(['snapshots', 'info', 'bctr-view'])) as { Kind: string }).Kind, 'View');
  const r = bctr(['snapshots', 'rm', 'bctr-view', 'bctr-committed', 'bctr-no-such']);
  assert.equal(r.status, 1, 'a missing key fails the command');
  assert.match(r.stderr, /bctr-no-such/);
  const left = firstColumn(cok(['snapshots', 'ls']));
  assert.ok(!left.includes('bctr-view') && !left.includes('bctr-committed'), left.join(' '));
});

test('leases: made by one, listed and removed by the other, with labels and expiry', { skip }, () => {
  assert.equal(
    bok(['leases', 'create', '--id', 'bctr-lease', '--label', 'team=blue', '--expires', '1h']).trim(),
    'bctr-lease',
  );
  const row = lines(cok(['leases', 'ls'])).find((l) => l.startsWith('bctr-lease '));
  assert.ok(row);
  assert.match(row, /team=blue/);
  const expiry = /containerd\.io\/gc\.expire=(\S+?)(,|\s|$)/.exec(row)?.[1];
  assert.ok(expiry, row);
  const inMs = Date.parse(expiry) - Date.now();
  assert.ok(inMs > 50 * 60_000 && inMs <= 3600_000, `expires in ${inMs} ms`);
  cok(['leases', 'create', '--id', 'ctr-lease', 'x=y']);
  const mine = lines(bok(['leases', 'ls'])).find((l) => l.startsWith('ctr-lease '));
  assert.ok(mine);
  assert.match(mine, /never|x=y/);
  bok(['leases', 'rm', 'bctr-lease', 'ctr-lease']);
  assert.deepEqual(firstColumn(cok(['leases', 'ls'])), []);
});

test('namespaces: -n and CONTAINERD_NAMESPACE choose the engine namespace; create, label, rm', { skip }, () => {
  bok(['namespaces', 'create', 'bctr-ns', 'team=red']);
  assert.match(cok(['namespaces', 'ls']), /bctr-ns\s+team=red/);
  bok(['namespaces', 'label', 'bctr-ns', 'stage=dev']);
  assert.match(cok(['namespaces', 'ls']), /bctr-ns\s+(stage=dev,team=red|team=red,stage=dev)/);
  // The pull goes where -n says; the default namespace's images are not there.
  assert.deepEqual(lines(bok(['-n', 'bctr-ns', 'images', 'ls', '-q'])), []);
  bok(['-n', 'bctr-ns', 'images', 'pull', '--plain-http', '--no-unpack', ref]);
  assert.deepEqual(lines(cok(['images', 'ls', '-q'], 'bctr-ns')), [ref]);
  // --no-unpack: content and image record, no snapshot in that namespace.
  assert.deepEqual(firstColumn(cok(['snapshots', 'ls'], 'bctr-ns')), []);
  // images unpack does it afterwards, through diff Apply and the snapshots service.
  const unpacked = bok(['-n', 'bctr-ns', 'images', 'unpack', ref]);
  const top = /unpacked \S+ to snapshot (sha256:[0-9a-f]{64}) \(overlayfs\)/.exec(unpacked)?.[1];
  assert.ok(top, unpacked);
  const chains = (JSON.parse(bok(['-n', 'bctr-ns', 'images', 'inspect', ref])) as { chainIds: string[] }).chainIds;
  assert.equal(chains.at(-1), top);
  assert.deepEqual(firstColumn(cok(['snapshots', 'ls'], 'bctr-ns')).sort(), [...chains].sort());
  assert.deepEqual(lines(bok(['images', 'ls', '-q'], { CONTAINERD_NAMESPACE: 'bctr-ns' })), [ref]);
  // Only an empty namespace goes, as ctr's.
  const busy = bctr(['namespaces', 'rm', 'bctr-ns']);
  assert.notEqual(busy.status, 0);
  assert.match(busy.stderr, /bctr-ns/);
  bok(['-n', 'bctr-ns', 'images', 'rm', '--sync', ref]);
  assert.equal(bok(['namespaces', 'rm', 'bctr-ns']).trim(), 'bctr-ns');
  assert.doesNotMatch(cok(['namespaces', 'ls']), /bctr-ns/);
});

test('what the API cannot serve fails saying so, never falling back to a local store', { skip }, () => {
  for (const args of [
    ['gc'],
    ['images', 'export', join(scratch, 'out.tar'), ref],
    ['images', 'import', join(scratch, 'in.tar')],
  ]) {
    const r = bctr(args);
    assert.notEqual(r.status, 0, `berth-ctr ${args.join(' ')} should fail`);
    assert.match(r.stderr, /not available with --address/, r.stderr);
  }
  assert.ok(!existsSync(join(scratch, 'out.tar')));
  // --root names a store: it makes no sense with an engine, and is refused.
  const both = bctr(['--root', untouchedRoot, 'images', 'ls']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--root and --address/);
});

test('an engine that does not answer is an error naming the address; --help says how each mode works', { skip }, () => {
  const gone = join(scratch, 'no-engine.sock');
  for (const r of [
    bctr(['images', 'ls'], { address: gone }),
    bctr(['images', 'ls'], { address: null, env: { BERTH_ADDRESS: gone } }),
  ]) {
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`no engine answers at ${gone.replace(/[.]/g, '\\.')}`));
  }
  const v = bctr(['version'], { address: gone });
  assert.notEqual(v.status, 0);
  assert.match(v.stdout, /^Client:/);
  const help = ok(bctr(['--help'], { address: null }), 'berth-ctr --help');
  assert.match(help, /Without --address \(and without \$BERTH_ADDRESS\) berth-ctr needs no daemon/);
  assert.match(help, /never falling back to a local store/);
  // Daemonless, version says there is no server.
  assert.match(ok(bctr(['version'], { address: null }), 'berth-ctr version'), /Server: none \(daemonless/);
});
