// Image commands: images (image ls), pull, push, tag, rmi, history, image
// prune, save, load, import, image inspect.

import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command, Ctx } from '../command.js';
import { filterFlag, formatFlag, inspectFormatFlag } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { ellipsis, formatRows, struct, truncateID } from '../formatter.js';
import { goTimeString, humanDuration, humanSize, humanSizeWithPrecision } from '../units.js';
import { displayStream } from '../progress.js';
import { registryAuthHeader, registryOf } from '../auth.js';
import { filterQuery } from './filters.js';
import { confirm } from '../prompt.js';
import { inspectAll } from './inspect.js';
import { DaemonError, readAll } from '../client.js';
import { checkReference, referenceError } from '../reference.js';

interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Containers: number;
}

/** docker.io/library/x → x; docker.io/u/x → u/x. */
export function familiar(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

function splitRef(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, ''];
}

const imageHeader = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

function imageRow(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean) {
  const na = (n: number) => (n === -1 ? 'N/A' : humanSize(n));
  return struct('*formatter.imageContext', {
    ID: () => (trunc ? truncateID(img.Id) : img.Id),
    Repository: () => repo,
    Tag: () => tag,
    Digest: () => digest,
    CreatedSince: () => humanDuration(Date.now() - img.Created * 1000) + ' ago',
    CreatedAt: () => goTimeString(img.Created),
    Size: () => humanSizeWithPrecision(img.Size, 3),
    Containers: () => (img.Containers === -1 ? 'N/A' : String(img.Containers)),
    VirtualSize: () => humanSize(img.VirtualSize ?? img.Size),
    SharedSize: () => na(img.SharedSize),
    UniqueSize: () => (img.SharedSize === -1 ? 'N/A' : humanSize(img.Size - img.SharedSize)),
  });
}

async function images(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const filters = [...f.list('filter')];
  if (args[0]) filters.push(`reference=${args[0]}`);
  const list = await ctx.client.get<ImageSummary[]>('/images/json', {
    all: f.bool('all') || undefined,
    filters: filterQuery(filters),
  });
  const trunc = !f.bool('no-trunc');
  const digests = f.bool('digests');
  let format = f.string('format');
  if (f.bool('quiet')) format = '{{.ID}}';
  else if (!format || format === 'table') {
    format = digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  }
  const rows = [];
  for (const img of list) {
    const tags = new Map<string, string[]>();
    const dgs = new Map<string, string[]>();
    for (const t of img.RepoTags ?? []) {
      if (t === '<none>:<none>') continue;
      const [r, tag] = splitRef(t);
      (tags.get(familiar(r)) ?? tags.set(familiar(r), []).get(familiar(r))!).push(tag);
    }
    for (const d of img.RepoDigests ?? []) {
      if (d === '<none>@<none>') continue;
      const [r, dg] = splitRef(d);
      (dgs.get(familiar(r)) ?? dgs.set(familiar(r), []).get(familiar(r))!).push(dg);
    }
    const needDigest = digests || format.includes('{{.Digest}}');
    for (const [repo, ts] of tags) {
      const ds = needDigest ? (dgs.get(repo) ?? []) : [];
      dgs.delete(repo);
      for (const t of ts.sort()) {
        if (ds.length === 0) rows.push(imageRow(img, repo, t, '<none>', trunc));
        else for (const d of ds) rows.push(imageRow(img, repo, t, d, trunc));
      }
    }
    for (const [repo, ds] of dgs) for (const d of ds) rows.push(imageRow(img, repo, '<none>', d, trunc));
    if (tags.size === 0 && (img.RepoDigests ?? []).filter((d) => d !== '<none>@<none>').length === 0)
      rows.push(imageRow(img, '<none>', '<none>', '<none>', trunc));
  }
  ctx.out(formatRows(format, rows, imageHeader));
  return 0;
}

function authHeaders(ctx: Ctx, ref: string): Record<string, string> {
  const a = registryAuthHeader(ctx.configDir, registryOf(ref));
  return a ? { 'X-Registry-Auth': a } : {};
}

/** The reference as the daemon wants it (tag "latest" when none), and whether a tag was given. */
export function normaliseRef(ref: string): { image: string; tag: string; defaulted: boolean } {
  const [name, tag] = splitRef(ref);
  if (ref.includes('@')) return { image: name, tag: ref.slice(ref.indexOf('@') + 1), defaulted: false };
  return { image: name, tag: tag || 'latest', defaulted: !tag };
}

export function fullName(name: string): string {
  const reg = registryOf(name);
  if (reg !== 'docker.io') return name;
  const n = name.replace(/^(docker\.io|index\.docker\.io)\//, '');
  return `docker.io/${n.includes('/') ? n : `library/${n}`}`;
}

export async function pullImage(
  ctx: Ctx,
  ref: string,
  opts: { platform?: string; quiet?: boolean; all?: boolean; out?: NodeJS.WritableStream & { isTTY?: boolean } },
): Promise<void> {
  checkReference(ref);
  const { image, tag, defaulted } = normaliseRef(ref);
  const out = opts.out ?? process.stdout;
  if (defaulted && !opts.all && !opts.quiet) out.write('Using default tag: latest\n');
  const res = await ctx.client.request('POST', '/images/create', {
    query: { fromImage: image, tag: opts.all ? undefined : tag, platform: opts.platform || undefined },
    headers: authHeaders(ctx, image),
  });
  if (opts.quiet) {
    const sink = { write: () => true, isTTY: false };
    await displayStream(res.body, sink);
  } else await displayStream(res.body, out);
}

async function pull(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const ref = args[0]!;
  await pullImage(ctx, ref, { platform: f.string('platform'), quiet: f.bool('quiet'), all: f.bool('all-tags') });
  const { image, tag } = normaliseRef(ref);
  ctx.out(`${fullName(image)}${f.bool('all-tags') ? '' : ref.includes('@') ? `@${tag}` : `:${tag}`}\n`);
  return 0;
}

async function push(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const { image, tag, defaulted } = normaliseRef(args[0]!);
  if (defaulted && !f.bool('all-tags') && !f.bool('quiet')) ctx.out('Using default tag: latest\n');
  const res = await ctx.client.request('POST', `/images/${encodeURIComponent(image)}/push`, {
    query: { tag: f.bool('all-tags') ? undefined : tag },
    headers: { 'X-Registry-Auth': registryAuthHeader(ctx.configDir, registryOf(image)) ?? 'e30=' },
  });
  if (f.bool('quiet')) {
    await displayStream(res.body, { write: () => true });
    ctx.out(`${fullName(image)}:${tag}\n`);
  } else await displayStream(res.body, process.stdout);
  return 0;
}

async function tag(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const bad = referenceError(args[1]!);
  if (bad) throw new CliError(`Error parsing reference: "${args[1]}" is not a valid repository/tag: ${bad}`, 1);
  const { image, tag } = normaliseRef(args[1]!);
  await ctx.client
    .request('POST', `/images/${encodeURIComponent(args[0]!)}/tag`, { query: { repo: image, tag } })
    .then((r) => r.body.resume());
  return 0;
}

async function rmi(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  let failed = false;
  for (const a of args) {
    try {
      const res = await ctx.client.json<{ Untagged?: string; Deleted?: string }[]>(
        'DELETE',
        `/images/${encodeURIComponent(a)}`,
        {
          query: { force: f.bool('force') || undefined, noprune: f.bool('no-prune') || undefined },
        },
      );
      for (const r of res) ctx.out(r.Untagged ? `Untagged: ${r.Untagged}\n` : `Deleted: ${r.Deleted}\n`);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      ctx.err(e.message + '\n');
      // With --force a missing image is reported but is not a failure (docker's rule).
      if (!(f.bool('force') && e instanceof DaemonError && e.status === 404)) failed = true;
    }
  }
  return failed ? 1 : 0;
}

interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

async function history(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const items = await ctx.client.get<HistoryItem[]>(`/images/${encodeURIComponent(args[0]!)}/history`);
  const trunc = !f.bool('no-trunc');
  const human = f.has('human') ? f.bool('human') : true;
  let format = f.string('format');
  if (f.bool('quiet')) format = '{{.ID}}';
  else if (!format || format === 'table')
    format = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
  const rows = items.map((h) =>
    struct('*formatter.historyContext', {
      ID: () => (h.Id === '<missing>' ? h.Id : trunc ? truncateID(h.Id) : h.Id),
      CreatedSince: () =>
        human
          ? humanDuration(Date.now() - h.Created * 1000) + ' ago'
          : new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z'),
      CreatedAt: () => new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z'),
      CreatedBy: () => {
        const c = h.CreatedBy.replace(/\t/g, ' ');
        return trunc ? ellipsis(c, 45) : c;
      },
      Size: () => (human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size)),
      Comment: () => h.Comment,
    }),
  );
  ctx.out(
    formatRows(format, rows, {
      ID: 'IMAGE',
      CreatedSince: 'CREATED',
      CreatedAt: 'CREATED AT',
      CreatedBy: 'CREATED BY',
      Size: 'SIZE',
      Comment: 'COMMENT',
    }),
  );
  return 0;
}

async function imagePrune(ctx: Ctx, f: Flags): Promise<number> {
  if (!f.bool('force')) {
    const what = f.bool('all') ? 'all images without at least one container associated to them' : 'all dangling images';
    if (!(await confirm(ctx, `WARNING! This will remove ${what}.`))) return 0;
  }
  const filters = [...f.list('filter'), f.bool('all') ? 'dangling=false' : 'dangling=true'];
  const r = await ctx.client.json<{
    ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null;
    SpaceReclaimed: number;
  }>('POST', '/images/prune', { query: { filters: filterQuery(filters) } });
  let s = '';
  if (r.ImagesDeleted?.length)
    s += `Deleted Images:\n${r.ImagesDeleted.map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`)).join('\n')}\n\n`;
  ctx.out(s + `Total reclaimed space: ${humanSizeWithPrecision(r.SpaceReclaimed, 3)}\n`);
  return 0;
}

async function save(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const output = f.string('output');
  if (!output && process.stdout.isTTY)
    throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  const res = await ctx.client.request('GET', '/images/get', { query: { names: args } });
  if (output) {
    // Done when the file is written and closed, not when the response ends:
    // the CLI exits right after, and a cut tar is worse than no tar.
    await pipeline(res.body, createWriteStream(output));
    return 0;
  }
  await new Promise<void>((resolve, reject) => {
    res.body.pipe(process.stdout, { end: false });
    res.body.on('end', () => process.stdout.write('', () => resolve()));
    res.body.on('error', reject);
  });
  return 0;
}

async function load(ctx: Ctx, f: Flags): Promise<number> {
  const input = f.string('input');
  if (!input && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty', 1);
  const body = input ? createReadStream(input) : process.stdin;
  const res = await ctx.client.request('POST', '/images/load', {
    query: { quiet: f.bool('quiet') || !process.stdout.isTTY || undefined },
    body,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  if (String(res.headers['content-type']).includes('json')) await displayStream(res.body, process.stdout);
  else ctx.out((await readAll(res.body)).toString());
  return 0;
}

async function importImage(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const src = args[0]!;
  const ref = args[1];
  const q: Record<string, string | string[] | undefined> = {
    message: f.string('message') || undefined,
    changes: f.list('change'),
    platform: f.string('platform') || undefined,
  };
  if (ref) {
    const { image, tag } = normaliseRef(ref);
    q.repo = image;
    q.tag = tag;
  }
  let body: NodeJS.ReadableStream | undefined;
  if (src === '-') {
    q.fromSrc = '-';
    body = process.stdin;
  } else if (/^https?:\/\//.test(src)) q.fromSrc = src;
  else {
    q.fromSrc = '-';
    body = createReadStream(src);
  }
  const res = await ctx.client.request('POST', '/images/create', {
    query: q,
    body,
    headers: body ? { 'Content-Type': 'application/x-tar' } : {},
  });
  let id = '';
  await displayStream(res.body, { write: (s: string) => ((id += s), true) });
  ctx.out(id.trim().split('\n').pop() + '\n');
  return 0;
}

export const imagesFlags = [
  { name: 'all', short: 'a', type: 'bool' as const, usage: 'Show all images (default hides intermediate images)' },
  { name: 'digests', type: 'bool' as const, usage: 'Show digests' },
  filterFlag(),
  formatFlag(),
  { name: 'no-trunc', type: 'bool' as const, usage: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool' as const, usage: 'Only show image IDs' },
  { name: 'tree', type: 'bool' as const, usage: 'List multi-platform images as a tree (EXPERIMENTAL)', hidden: true },
];

export const imagesCmd: Command = {
  name: 'images',
  use: '[OPTIONS] [REPOSITORY[:TAG]]',
  short: 'List images',
  common: true,
  flags: imagesFlags,
  args: { max: 1 },
  run: images,
  aliasPaths: ['image ls', 'image list'],
};
const pullFlags = [
  { name: 'all-tags', short: 'a', type: 'bool' as const, usage: 'Download all tagged images in the repository' },
  { name: 'disable-content-trust', type: 'bool' as const, usage: 'Skip image verification', default: true },
  { name: 'platform', type: 'string' as const, usage: 'Set platform if server is multi-platform capable' },
  { name: 'quiet', short: 'q', type: 'bool' as const, usage: 'Suppress verbose output' },
];
export const pullCmd: Command = {
  name: 'pull',
  use: '[OPTIONS] NAME[:TAG|@DIGEST]',
  short: 'Download an image from a registry',
  common: true,
  flags: pullFlags,
  args: { min: 1, max: 1 },
  run: pull,
  aliasPaths: ['image pull'],
};
export const pushCmd: Command = {
  name: 'push',
  use: '[OPTIONS] NAME[:TAG]',
  short: 'Upload an image to a registry',
  common: true,
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', usage: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', usage: 'Skip image signing', default: true },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
  ],
  args: { min: 1, max: 1 },
  run: push,
  aliasPaths: ['image push'],
};
export const tagCmd: Command = {
  name: 'tag',
  use: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  args: { min: 2, max: 2 },
  run: tag,
  aliasPaths: ['image tag'],
};
export const rmiCmd: Command = {
  name: 'rmi',
  use: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', type: 'bool', usage: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', usage: 'Do not delete untagged parents' },
  ],
  args: { min: 1 },
  run: rmi,
  aliasPaths: ['image rm', 'image remove'],
};
export const historyCmd: Command = {
  name: 'history',
  use: '[OPTIONS] IMAGE',
  short: 'Show the history of an image',
  flags: [
    formatFlag(),
    { name: 'human', short: 'H', type: 'bool', usage: 'Print sizes and dates in human readable format', default: true },
    { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
  ],
  args: { min: 1, max: 1 },
  run: history,
  aliasPaths: ['image history'],
};
export const saveCmd: Command = {
  name: 'save',
  use: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
  args: { min: 1 },
  run: save,
  aliasPaths: ['image save'],
};
export const loadCmd: Command = {
  name: 'load',
  use: '[OPTIONS]',
  short: 'Load an image from a tar archive or STDIN',
  flags: [
    { name: 'input', short: 'i', type: 'string', usage: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the load output' },
  ],
  run: load,
  aliasPaths: ['image load'],
};
export const importCmd: Command = {
  name: 'import',
  use: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  short: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', usage: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  ],
  args: { min: 1, max: 2 },
  run: importImage,
  aliasPaths: ['image import'],
};

export const imageCmd: Command = {
  name: 'image',
  use: 'COMMAND',
  short: 'Manage images',
  sub: [
    { ...historyCmd, aliasPaths: ['history'] },
    { ...importCmd, aliasPaths: ['import'] },
    {
      name: 'inspect',
      use: '[OPTIONS] IMAGE [IMAGE...]',
      short: 'Display detailed information on one or more images',
      flags: [inspectFormatFlag],
      args: { min: 1 },
      run: (ctx, f, a) => inspectAll(ctx, f, a, 'image'),
    },
    { ...loadCmd, aliasPaths: ['load'] },
    { ...imagesCmd, name: 'ls', aliases: ['list'], aliasPaths: ['images'] },
    {
      name: 'prune',
      use: '[OPTIONS]',
      short: 'Remove unused images',
      flags: [
        { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images, not just dangling ones' },
        { name: 'filter', type: 'list', typeName: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
        { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
      ],
      run: imagePrune,
    },
    { ...pullCmd, aliasPaths: ['pull'] },
    { ...pushCmd, aliasPaths: ['push'] },
    { ...rmiCmd, name: 'rm', aliases: ['remove'], aliasPaths: ['rmi'] },
    { ...saveCmd, aliasPaths: ['save'] },
    { ...tagCmd, aliasPaths: ['tag'] },
  ],
};
