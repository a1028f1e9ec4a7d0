// Generates containerd's API for Berth from the .proto files Debian ships
// (golang-github-containerd-containerd-dev, with gogo-protobuf's and
// googleapis' imports, and libprotobuf-dev's well-known types):
//   src/api/gen/codecs.js        static encoders/decoders of every message and
//                                the method table of every service, what the
//                                daemons and clients load (gen-codecs.mjs);
//   src/api/gen/descriptor.json  the protobufjs descriptor (tests compare the
//                                static codecs with protobufjs's reflection);
//   src/api/gen/**.ts            TypeScript types of every message and
//                                service (proto-loader-gen-types).
// Nothing here is committed: the build makes it from the packages, so the
// definitions are containerd's own, not a copy. Skipped when up to date.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { generateCodecs } from './gen-codecs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/api/gen');
const go = '/usr/share/gocode/src';
const api = `${go}/github.com/containerd/containerd`;

export const includeDirs = [go, `${go}/github.com/gogo/protobuf`, `${go}/github.com/gogo/googleapis`, '/usr/include'];

// containerd's v1 services, its event payloads, and the runtime options
// dockerd and ctr send (runc v2 options, the v1 linux runtime's).
export const protoFiles = [
  ...[
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
  ].map((s) => `${api}/api/services/${s}/v1/${s}.proto`),
  `${api}/api/services/namespaces/v1/namespace.proto`,
  ...['container', 'content', 'image', 'namespace', 'snapshot', 'task'].map((e) => `${api}/api/events/${e}.proto`),
  `${api}/runtime/v2/runc/options/oci.proto`,
  `${api}/runtime/linux/runctypes/runc.proto`,
  // the cgroup statistics a task's Metrics carry (golang-github-containerd-cgroups-dev)
  `${go}/github.com/containerd/cgroups/stats/v1/metrics.proto`,
  `${go}/github.com/containerd/cgroups/v2/stats/metrics.proto`,
];

function newestInput() {
  let t = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  t = Math.max(t, statSync(join(dirname(fileURLToPath(import.meta.url)), 'gen-codecs.mjs')).mtimeMs);
  for (const f of protoFiles) t = Math.max(t, statSync(f).mtimeMs);
  return t;
}

export function generate() {
  const missing = protoFiles.filter((f) => !existsSync(f));
  if (missing.length) {
    throw new Error(
      `gen-api: containerd's .proto files are missing (${missing[0]}): install golang-github-containerd-containerd-dev ` +
        'golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev libprotobuf-dev (scripts/setup.sh does)',
    );
  }
  const stamp = join(out, '.stamp');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestInput()) return;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const rootNs = new protobuf.Root();
  rootNs.resolvePath = (_origin, target) => {
    if (target.startsWith('/')) return target;
    for (const d of includeDirs) if (existsSync(join(d, target))) return join(d, target);
    return target;
  };
  rootNs.loadSync(protoFiles, { keepCase: true });
  rootNs.resolveAll();
  // The descriptor: for tests that check the static codecs against protobufjs's reflection.
  writeFileSync(join(out, 'descriptor.json'), JSON.stringify(rootNs.toJSON({ keepComments: false })));
  generateCodecs(rootNs, out);

  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
      '--grpcLib=@grpc/grpc-js',
      `--outDir=${out}`,
      ...includeDirs.flatMap((d) => ['-I', d]),
      ...loaderFlags,
      ...protoFiles,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // The generator writes extension-less relative imports; NodeNext wants .js.
  fixImports(out);
  writeFileSync(stamp, new Date().toISOString() + '\n');
}

// The options every Berth user of the API loads with (src/api/load.ts uses
// the same): field names as in the .proto (containerd's JSON is snake_case),
// 64-bit integers as JS numbers (sizes and times fit in 2^53), enums as
// their names, defaults filled in, oneofs named.
export const loaderFlags = ['--keepCase', '--longs=Number', '--enums=String', '--defaults', '--oneofs'];

function fixImports(dir) {
  for (const f of execFileSync('find', [dir, '-name', '*.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    const src = readFileSync(f, 'utf8');
    const fixed = src.replace(/from '(\.{1,2}\/[^']+)'/g, (_m, p) => `from '${p}.js'`);
    if (fixed !== src) writeFileSync(f, fixed);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) generate();
