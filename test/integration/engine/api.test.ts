// berth-engine at the wire, below ctr: a call without a namespace, an
// unknown service and method, a request that is not a valid protobuf
// message, a content Write that commits without a ref and one that
// disconnects mid-stream. Each gets the status containerd gives, and the
// engine keeps serving.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { connect, constants as h2 } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { which } from '../../helpers/daemons.js';
import { startEngine, type Engine } from './helpers.js';

const skip =
  (!which('ctr') && 'ctr is not installed (apt-get install containerd)') || (process.getuid?.() !== 0 && 'needs root');

let eng: Engine;

before(async () => {
  if (skip) return;
  eng = await startEngine('berth-eng-api-');
});

after(async () => {
  await eng?.stop();
});

type Unary = (req: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, res?: unknown) => void) => void;

function call(
  service: string,
  method: string,
  req: object,
  ns?: string,
): Promise<{ err: grpc.ServiceError | null; res?: unknown }> {
  const Ctor = clientConstructor(service);
  const c = new Ctor(`unix://${eng.sock}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (ns !== undefined) md.set(NAMESPACE_HEADER, ns);
  const fn = (c as unknown as Record<string, Unary>)[method]!.bind(c);
  return new Promise((resolve) =>
    fn(req, md, (err, res) => {
      c.close();
      resolve({ err, res });
    }),
  );
}

/** One raw gRPC call with `body` as the message bytes (framed, not encoded). */
function rawCall(
  path: string,
  body: Buffer,
  ns = 'default',
): Promise<{ status: string | undefined; message: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = connect('http://localhost', { createConnection: () => netConnect(eng.sock) });
    session.on('error', reject);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
      [NAMESPACE_HEADER]: ns,
    });
    let status: string | undefined;
    let message: string | undefined;
    const take = (h: Record<string, string | string[] | number | undefined>) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('end', () => {
      session.close();
      resolve({ status, message });
    });
    req.end(frame);
  });
}

test('a call without a namespace is FailedPrecondition, a malformed one InvalidArgument', { skip }, async () => {
  let r = await call('containerd.services.images.v1.Images', 'List', {});
  assert.equal(r.err?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(r.err.details, /namespace is required/);
  r = await call('containerd.services.images.v1.Images', 'List', {}, 'bad/ns');
  assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.err.details, /namespace: identifier "bad\/ns" must match/);
});

test('unknown services and methods are Unimplemented, never a fake success', { skip }, async () => {
  const svc = await rawCall('/containerd.services.nope.v1.Nope/List', Buffer.alloc(0));
  assert.equal(svc.status, String(grpc.status.UNIMPLEMENTED));
  const raw = await rawCall('/containerd.services.images.v1.Images/Nope', Buffer.alloc(0));
  assert.equal(raw.status, String(grpc.status.UNIMPLEMENTED));
});

test('a request that is not a valid message gets an error status; the engine keeps serving', { skip }, async () => {
  // Field 1 (name, a string) with a length running past the end of the message.
  const raw = await rawCall('/containerd.services.images.v1.Images/Get', Buffer.from([0x0a, 0x7f, 0x61]));
  assert.notEqual(raw.status, undefined);
  assert.notEqual(raw.status, '0');
  const ok = await call('containerd.services.version.v1.Version', 'Version', {});
  assert.equal(ok.err, null);
  assert.equal((ok.res as { version: string }).version, '0.1.0');
});

test('images Create validates the record and names the field', { skip }, async () => {
  const Images = 'containerd.services.images.v1.Images';
  let r = await call(
    Images,
    'Create',
    {
      image: {
        name: 'x',
        target: { media_type: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:nothex', size: 1 },
      },
    },
    'default',
  );
  assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.err.details, /target\.digest "sha256:nothex": invalid checksum digest format/);
  r = await call(
    Images,
    'Create',
    { image: { name: '', target: { media_type: 'a', digest: `sha256:${'a'.repeat(64)}`, size: 1 } } },
    'default',
  );
  assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
  r = await call(
    Images,
    'Create',
    {
      image: {
        name: 'x',
        labels: { k: 'v'.repeat(5000) },
        target: { media_type: 'a', digest: `sha256:${'a'.repeat(64)}`, size: 1 },
      },
    },
    'default',
  );
  assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.err.details, /label key and value greater than maximum size/);
  r = await call(
    Images,
    'Update',
    { image: { name: 'nope', target: { media_type: 'a', digest: `sha256:${'a'.repeat(64)}`, size: 1 } } },
    'default',
  );
  assert.equal(r.err?.code, grpc.status.NOT_FOUND);
  assert.match(r.err.details, /image "nope": not found/);
  // Nothing was created by the refused calls.
  const list = await call(Images, 'List', {}, 'default');
  assert.deepEqual((list.res as { images: unknown[] }).images, []);
});
