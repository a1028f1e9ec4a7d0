// A real registry for the tests: Debian's docker-registry (distribution 2.8)
// on 127.0.0.1, a free port, a temp storage dir, optionally behind htpasswd
// Basic auth, token auth (with a small token server here that signs JWTs
// with a key made by openssl), or TLS (a CA made on the spot, put in a temp
// certs.d as Docker expects). `stop()` kills it and removes everything.
// Also: build a busybox image on the spot into a content store.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from './busybox.js';
import { closeServer, listenLocal } from './servers.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function haveRegistry(): boolean {
  return existsSync(REGISTRY_BIN);
}

/** Why the tests that need docker-registry skip, or false when it is there. */
export const registryMissing: string | false = haveRegistry()
  ? false
  : 'docker-registry is not installed (apt-get install docker-registry)';

export function haveHtpasswd(): boolean {
  try {
    execFileSync('htpasswd', ['-h'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // htpasswd -h exits 2 after printing usage; ENOENT means it is missing
    return (e as { code?: string }).code !== 'ENOENT';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Pki {
  caCert: string; // paths
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** `dir`/`name`.key and a self-signed `name`.crt for `subj`, valid two days. */
function selfSigned(dir: string, name: string, subj: string, extra: string[] = []): void {
  const out = ['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subj];
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...out, ...extra], dir);
}

/** `dir`/`name`.key and `name`.crt for `subj`, signed by the CA in `dir` with the extensions `ext`. */
function caSigned(dir: string, name: string, subj: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj],
    dir,
  );
  const ca = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'];
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, ...ca, '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`],
    dir,
  );
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  selfSigned(dir, 'ca', '/CN=Berth Test CA', [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  caSigned(
    dir,
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:registry.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  caSigned(dir, 'client', '/CN=berth-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

// ---- token server ----

export interface TokenRequestRecord {
  account?: string;
  user?: string;
  scopes: string[];
  service?: string;
  granted: { type: string; name: string; actions: string[] }[];
}

export interface TokenServer {
  url: string;
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/**
 * A Docker token-auth server: GET /token?service=&scope=... with optional
 * Basic credentials. Users in `users` get what they ask for; anonymous
 * requests get pull on repositories under `public/` only.
 */
export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  mkdirSync(dir, { recursive: true });
  selfSigned(dir, 'token', '/CN=berth-test-token-issuer');
  const keyPem = readFileSync(join(dir, 'token.key'), 'utf8');
  const certPem = readFileSync(join(dir, 'token.crt'), 'utf8');
  const certDer = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const requests: TokenRequestRecord[] = [];
  const port = await freePort();
  const server: Server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (u.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const dec = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = dec.indexOf(':');
      const name = dec.slice(0, i);
      const pass = dec.slice(i + 1);
      if (users[name] !== pass) {
        requests.push({
          user: name,
          scopes: u.searchParams.getAll('scope'),
          granted: [],
          service: u.searchParams.get('service') ?? undefined,
        });
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      user = name;
    }
    const scopes = u.searchParams.getAll('scope');
    const granted: TokenRequestRecord['granted'] = [];
    for (const s of scopes) {
      const parts = s.split(':');
      if (parts.length < 3) continue;
      const type = parts[0]!;
      const actions = parts[parts.length - 1]!.split(',');
      const name = parts.slice(1, -1).join(':');
      if (type !== 'repository') continue;
      const allowed = user ? actions : name.startsWith('public/') ? actions.filter((a) => a === 'pull') : [];
      if (allowed.length) granted.push({ type, name, actions: allowed });
    }
    requests.push({
      user,
      account: u.searchParams.get('account') ?? undefined,
      scopes,
      granted,
      service: u.searchParams.get('service') ?? undefined,
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: u.searchParams.get('service') ?? service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access: granted,
    };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signing).sign(keyPem);
    const token = `${signing}.${b64url(sig)}`;
    // Alternate the two field names the spec allows.
    const body =
      requests.length % 2 === 0
        ? { token, expires_in: 300, issued_at: new Date().toISOString() }
        : { access_token: token, expires_in: 300 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await listenLocal(server, port);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certPath: join(dir, 'token.crt'),
    requests,
    stop: () => closeServer(server),
  };
}

// ---- the registry ----

export interface RegistryInstance {
  /** "127.0.0.1:PORT" */
  host: string;
  port: number;
  url: string;
  dir: string;
  /** For TLS registries: a certs.d dir holding <host>/ca.crt (and a client pair when required). */
  certsDir: string;
  pki?: Pki;
  token?: TokenServer;
  users: Record<string, string>;
  logFile: string;
  stop(): Promise<void>;
}

export interface RegistryStartOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
  tls?: boolean;
  /** Require a client certificate (TLS only). */
  clientAuth?: boolean;
}

// Registries not stopped yet, with their processes.
const running = new Map<RegistryInstance, ChildProcess>();

export async function startRegistry(opts: RegistryStartOptions = {}): Promise<RegistryInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const users = opts.users ?? { alice: 's3cret-pass' };
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const certsDir = join(dir, 'certs.d');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let pki: Pki | undefined;
  if (opts.tls) {
    pki = makePki(join(dir, 'pki'));
    lines.push('  tls:', `    certificate: ${pki.serverCert}`, `    key: ${pki.serverKey}`);
    if (opts.clientAuth) lines.push('    clientcas:', `      - ${pki.caCert}`);
    const hd = join(certsDir, host);
    mkdirSync(hd, { recursive: true });
    writeFileSync(join(hd, 'ca.crt'), readFileSync(pki.caCert));
    if (opts.clientAuth) {
      writeFileSync(join(hd, 'client.cert'), readFileSync(pki.clientCert));
      writeFileSync(join(hd, 'client.key'), readFileSync(pki.clientKey));
    }
  }
  let token: TokenServer | undefined;
  if (opts.auth === 'htpasswd') {
    const entries = Object.entries(users).map(([u, p]) =>
      execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim(),
    );
    writeFileSync(join(dir, 'htpasswd'), entries.join('\n') + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`);
  } else if (opts.auth === 'token') {
    token = await startTokenServer(join(dir, 'token'), users);
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${token.realm}`,
      `    service: ${token.service}`,
      `    issuer: ${token.issuer}`,
      `    rootcertbundle: ${token.certPath}`,
    );
  }
  const cfg = join(dir, 'config.yml');
  writeFileSync(cfg, lines.join('\n') + '\n');
  const logFile = join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  const scheme = opts.tls ? 'https' : 'http';
  const inst: RegistryInstance = {
    host,
    port,
    url: `${scheme}://${host}`,
    dir,
    certsDir,
    pki,
    token,
    users,
    logFile,
    stop: async () => {
      running.delete(inst);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await token?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.set(inst, child);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = readFileSync(logFile, 'utf8');
      await inst.stop();
      throw new Error(`docker-registry exited (${child.exitCode}): ${log.slice(-2000)}`);
    }
    if (await probe(inst.url, pki)) break;
    if (Date.now() > deadline) {
      await inst.stop();
      throw new Error('docker-registry did not start within 15 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return inst;
}

function probe(base: string, pki?: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL('/v2/', base);
    const opts = pki
      ? { ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }
      : {};
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: 'GET', ...opts }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
    req.end();
  });
}

process.on('exit', () => {
  // Last resort: a test that forgot stop(), or a file ended by the runner's
  // forced exit before its after hook ran, must not leave registries behind.
  for (const [r, child] of running) {
    child.kill('SIGKILL');
    rmSync(r.dir, { recursive: true, force: true });
  }
});

// ---- images built on the spot ----

export interface BuiltImage {
  manifest: { mediaType: string; digest: string; size: number };
  manifestBytes: Buffer;
  config: { mediaType: string; digest: string; size: number };
  configBytes: Buffer;
  layers: { mediaType: string; digest: string; size: number; bytes: Buffer; diffId: string }[];
}

export function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

let busyboxTar: Buffer | undefined;
/** The busybox root filesystem as an uncompressed tar (made once per process). */
export function busyboxLayerTar(): Buffer {
  if (!busyboxTar) {
    const d = mkdtempSync(join(tmpdir(), 'berth-bb-'));
    try {
      makeBusyboxRootfs(join(d, 'root'));
      busyboxTar = execFileSync(
        'tar',
        ['-C', join(d, 'root'), '--numeric-owner', '--sort=name', '--mtime=@0', '-cf', '-', '.'],
        { maxBuffer: 64 * 1024 * 1024 },
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }
  return busyboxTar;
}

/** A tar holding one file, for extra small layers. */
export function oneFileTar(name: string, content: Buffer): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'berth-lt-'));
  try {
    writeFileSync(join(d, name), content);
    return execFileSync('tar', ['-C', d, '--numeric-owner', '--mtime=@0', '-cf', '-', name]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export function hostArch(): string {
  return (
    (
      { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', ia32: '386' } as Record<
        string,
        string
      >
    )[process.arch] ?? process.arch
  );
}

/** An image: busybox layer plus `extraLayers` small ones, OCI or Docker media types. */
export function buildImage(
  opts: {
    format?: 'oci' | 'docker';
    extraLayers?: Buffer[];
    arch?: string;
    label?: string;
    /** Extra fields of the image config's `config` (Healthcheck, Shell...). */
    config?: Record<string, unknown>;
  } = {},
): BuiltImage {
  const oci = (opts.format ?? 'oci') === 'oci';
  const tars = [busyboxLayerTar(), ...(opts.extraLayers ?? [])];
  const layers = tars.map((t) => {
    const gz = gzipSync(t, { level: 1 });
    return {
      mediaType: oci
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      digest: sha256(gz),
      size: gz.length,
      bytes: gz,
      diffId: sha256(t),
    };
  });
  const cfg = {
    architecture: opts.arch ?? hostArch(),
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: {
      Cmd: ['/bin/sh'],
      Env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin'],
      Labels: opts.label ? { 'test.label': opts.label } : {},
      ...opts.config,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'berth test' })),
  };
  const configBytes = Buffer.from(JSON.stringify(cfg));
  const config = {
    mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
    digest: sha256(configBytes),
    size: configBytes.length,
  };
  const man = {
    schemaVersion: 2,
    mediaType: oci
      ? 'application/vnd.oci.image.manifest.v1+json'
      : 'application/vnd.docker.distribution.manifest.v2+json',
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(man, null, 2));
  return {
    manifest: { mediaType: man.mediaType, digest: sha256(manifestBytes), size: manifestBytes.length },
    manifestBytes,
    config,
    configBytes,
    layers,
  };
}

/** An OCI index over several built images, each with its platform. */
export function buildIndex(images: { image: BuiltImage; os: string; architecture: string; variant?: string }[]): {
  bytes: Buffer;
  desc: { mediaType: string; digest: string; size: number };
} {
  const idx = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map(({ image, os, architecture, variant }) => ({
      ...image.manifest,
      platform: { os, architecture, ...(variant ? { variant } : {}) },
    })),
  };
  const bytes = Buffer.from(JSON.stringify(idx));
  return { bytes, desc: { mediaType: idx.mediaType, digest: sha256(bytes), size: bytes.length } };
}

/** Put a built image's blobs and manifest into a content store (anything with `put`). */
export async function storeImage(
  store: { put(data: Uint8Array, expected?: { digest?: string; mediaType?: string }): Promise<unknown> },
  img: BuiltImage,
): Promise<void> {
  for (const l of img.layers) await store.put(l.bytes, { digest: l.digest, mediaType: l.mediaType });
  await store.put(img.configBytes, { digest: img.config.digest, mediaType: img.config.mediaType });
  await store.put(img.manifestBytes, { digest: img.manifest.digest, mediaType: img.manifest.mediaType });
}

export function haveSkopeo(): boolean {
  return existsSync('/usr/bin/skopeo');
}

/** skopeo with no policy surprises: accept anything, registries over plain HTTP allowed by flag. */
export function skopeo(args: string[], env: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-skopeo-'));
  try {
    const policy = join(d, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    return execFileSync('skopeo', ['--policy', policy, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
