// The layering of ../shared/ARCHITECTURE.md as checks that fail `npm test`
// (scripts/test.mjs runs `depcruise`). Layers, bottom up: common; runtime,
// image, snapshot; storage (above image and snapshot); api (generated
// types of the wire protocols); engine; daemon, client; cli (every binary's
// entry).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle, inside a layer or across layers.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'common-is-the-bottom',
      comment: 'src/common imports nothing else of Berth.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'runtime-imports-only-common',
      comment: 'The runtime library stands alone: it imports src/common and itself only.',
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: '^src/', pathNot: '^src/(common|runtime)/' },
    },
    {
      name: 'image-is-not-above-anything',
      comment: 'The image layer imports src/common and itself only (no runtime, no snapshot: src/storage joins them).',
      severity: 'error',
      from: { path: '^src/image/' },
      to: { path: '^src/', pathNot: '^src/(common|image)/' },
    },
    {
      name: 'snapshot-is-not-above-anything',
      comment: 'The snapshot layer imports src/common and itself only (no runtime, no image: src/storage joins them).',
      severity: 'error',
      from: { path: '^src/snapshot/' },
      to: { path: '^src/', pathNot: '^src/(common|snapshot)/' },
    },
    {
      name: 'storage-sits-on-image-and-snapshot',
      comment: 'src/storage reaches the image and snapshot layers through their public entries only.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/(common|storage)/',
          '^src/image/index\\.ts$',
          '^src/image/registry/index\\.ts$',
          '^src/snapshot/index\\.ts$',
        ],
      },
    },
    {
      name: 'nothing-below-imports-the-daemons',
      comment: 'Libraries never import the engine, the daemon, its client or a CLI.',
      severity: 'error',
      from: { path: '^src/(common|runtime|image|snapshot|storage|shim|api)/' },
      to: { path: '^src/(engine|daemon|client|cli)/' },
    },
    {
      name: 'engine-never-imports-the-daemon',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(daemon|client|cli)/' },
    },
    {
      name: 'daemon-and-client-never-import-a-cli',
      severity: 'error',
      from: { path: '^src/(daemon|client)/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'api-for-the-servers-and-clients',
      comment: 'The wire protocols (src/api) are for the engine, the daemon, its client and the CLIs.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(api|engine|daemon|client|cli)/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'cli-uses-public-entries',
      comment:
        "A CLI (src/cli/**) reaches a layer through its public entry (index.ts, or src/image's store-free storeless.ts) only.",
      severity: 'error',
      from: { path: '^src/cli/' },
      to: {
        path: '^src/(runtime|image|snapshot|storage|engine|daemon|client)/',
        pathNot: [
          '^src/(runtime|image|image/registry|snapshot|storage|engine|daemon|client)/index\\.ts$',
          '^src/image/storeless\\.ts$',
        ],
      },
    },
    {
      name: 'clients-use-the-store-free-image-entry',
      comment:
        "The clients of a store served by a daemon (src/client, src/daemon) reach src/image through its store-free entry (storeless.ts) or the registry client's (registry/index.ts) only: never a module of its own, never index.ts, which opens SQLite.",
      severity: 'error',
      from: { path: '^src/(client|daemon)/' },
      to: {
        path: '^src/image/',
        pathNot: ['^src/image/storeless\\.ts$', '^src/image/registry/index\\.ts$'],
      },
    },
    {
      name: 'clients-never-open-a-store',
      comment: "src/client and src/daemon reach stores through containerd's API only: no storage or snapshot layer.",
      severity: 'error',
      from: { path: '^src/(client|daemon)/' },
      to: { path: '^src/(storage|snapshot)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/api/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
