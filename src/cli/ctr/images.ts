// berth-ctr images ls|rm|tag|inspect|import|export|unpack (pull is ./pull.ts, push ./registry.ts).

import { existsSync, statSync } from 'node:fs';
import { importImages, exportImages, applyChanges, parsePlatform, type ExportFormat } from '../../image/index.js';
import { unpack } from '../../storage/index.js';
import { bool, need, parseArgs, str, multi, usageError } from './args.js';
import type { Context } from './context.js';
import { imageListing, inspectVerb, platformFlag } from './describe.js';
import { eachArg, LIST_FLAGS } from './verbs.js';

async function ls(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, LIST_FLAGS);
  const list = ctx.storage.images.list();
  if (bool(p.flags, 'quiet')) ctx.io.out(list.map((i) => i.name + '\n').join(''));
  else ctx.io.out(await imageListing(ctx.storage.content, list, bool(p.flags, 'json')));
  return 0;
}

async function rm(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr images rm NAME...');
  return eachArg(ctx.io, p.args, async (n) => {
    const r = ctx.storage.images.get(n);
    ctx.storage.images.delete(n);
    ctx.io.out(`${r.name}\n`);
  });
}

async function tag(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr images tag SOURCE TARGET...');
  const [src, ...targets] = p.args as [string, ...string[]];
  for (const t of targets) ctx.io.out(`${ctx.storage.images.tag(src, t).name}\n`);
  return 0;
}

const inspect = inspectVerb<Context>(
  (ctx) => ctx.storage.content,
  async (ctx, name) => ctx.storage.images.get(name),
);

async function doImport(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    'base-name': { kind: 'string' },
    name: { kind: 'string' },
    rootfs: { kind: 'bool' },
    platform: { kind: 'string' },
    message: { kind: 'string', alias: 'm' },
    'no-compress': { kind: 'bool' },
    change: { kind: 'multi', alias: 'c' },
  });
  need(
    p,
    1,
    'berth-ctr images import [--base-name REPO] [--name NAME] [--rootfs [--change INSTR]...] FILE|DIR|- [NAME]',
  );
  if (multi(p.flags, 'change').length && !bool(p.flags, 'rootfs'))
    throw usageError('--change applies to --rootfs imports only');
  const src = p.args[0]!;
  const input = src === '-' ? process.stdin : src;
  const platform = str(p.flags, 'platform') ? parsePlatform(str(p.flags, 'platform')!) : undefined;
  const name = str(p.flags, 'name') ?? (bool(p.flags, 'rootfs') ? p.args[1] : undefined);
  const imported = await importImages(ctx.storage, input, {
    baseName: str(p.flags, 'base-name'),
    name,
    rootfs: bool(p.flags, 'rootfs'),
    rootfsOptions: {
      platform,
      message: str(p.flags, 'message'),
      compress: bool(p.flags, 'no-compress') ? 'none' : 'gzip',
      config: applyChanges({}, multi(p.flags, 'change')),
    },
  });
  for (const i of imported) ctx.io.out(`${i.name} ${i.target.digest}\n`);
  return 0;
}

async function doExport(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    format: { kind: 'string' },
    platform: { kind: 'string' },
    'keep-docker-media-types': { kind: 'bool' },
  });
  need(p, 2, 'berth-ctr images export [--format oci|oci-dir|docker] [--platform P] OUT NAME...');
  const [out, ...names] = p.args as [string, ...string[]];
  let format = str(p.flags, 'format') as ExportFormat | undefined;
  if (format !== undefined && !['oci', 'oci-dir', 'docker'].includes(format))
    throw usageError(`--format must be oci, oci-dir or docker, not "${format}"`);
  if (!format) format = out.endsWith('/') || (existsSync(out) && statSync(out).isDirectory()) ? 'oci-dir' : 'oci';
  const platform = str(p.flags, 'platform') ? parsePlatform(str(p.flags, 'platform')!) : undefined;
  const r = await exportImages(ctx.storage, names, out, {
    format,
    platform,
    keepDockerMediaTypes: bool(p.flags, 'keep-docker-media-types'),
  });
  ctx.io.out(`exported ${r.images} image(s), ${r.blobs} blob(s) to ${out}\n`);
  return 0;
}

async function unpackCmd(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { platform: { kind: 'string' } });
  need(p, 1, 'berth-ctr images unpack [--platform P] NAME');
  const r = await unpack(ctx.storage, p.args[0]!, { platform: platformFlag(str(p.flags, 'platform')) }, (pr) => {
    if (pr.status !== 'unpacking')
      ctx.io.out(`layer ${pr.digest}: ${pr.status === 'exists' ? 'already unpacked' : 'unpacked'}\n`);
  });
  ctx.io.out(`unpacked ${p.args[0]} to snapshot ${r.chainId ?? '(no layers)'}\n`);
  return 0;
}

export const imageVerbs: Record<string, (ctx: Context, argv: string[]) => Promise<number>> = {
  ls,
  list: ls,
  rm,
  remove: rm,
  tag,
  inspect,
  import: doImport,
  export: doExport,
  unpack: unpackCmd,
};
