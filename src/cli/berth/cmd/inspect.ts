// inspect (any object), container/image/volume/network inspect: the
// daemon's JSON, indented as docker prints it, or a template per object.

import type { Command, Ctx } from '../command.js';
import { inspectFormatFlag } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { executeTemplate, parseTemplate, templateString } from '../formatter.js';
import { DaemonError } from '../client.js';
import { inspectLayers } from './layers.js';
import { withAliases } from '../template/index.js';

export type Kind = 'container' | 'image' | 'volume' | 'network';

const paths: Record<Kind, (id: string) => string> = {
  container: (id) => `/containers/${encodeURIComponent(id)}/json`,
  image: (id) => `/images/${encodeURIComponent(id)}/json`,
  volume: (id) => `/volumes/${encodeURIComponent(id)}`,
  network: (id) => `/networks/${encodeURIComponent(id)}`,
};

/** json.MarshalIndent's HTML escaping. */
function goIndent(v: unknown): string {
  return JSON.stringify(v, null, 4).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

async function fetchOne(ctx: Ctx, id: string, kinds: Kind[], size: boolean): Promise<unknown> {
  for (const k of kinds) {
    try {
      const v = await ctx.client.get<Record<string, unknown>>(
        paths[k](id),
        k === 'container' && size ? { size: true } : undefined,
      );
      // docker 28 formats images and networks through their Go structs first
      // (ID answers for "Id"), containers through the JSON map only.
      return k === 'image' || k === 'network' ? withAliases(v, { ID: 'Id' }) : v;
    } catch (e) {
      // One kind asked for: the daemon's own answer; several: docker's "No such object".
      if (!(e instanceof DaemonError) || e.status !== 404 || kinds.length === 1) throw e;
    }
  }
  const what = kinds.length === 1 ? kinds[0] : 'object';
  throw new CliError(`Error: No such ${what}: ${id}`, 1);
}

export async function inspectAll(ctx: Ctx, f: Flags, args: string[], kind?: Kind): Promise<number> {
  const type = kind ?? (f.string('type') as Kind | '');
  if (type && !(type in paths)) throw new CliError(`"${type}" is not a valid value for --type`, 1);
  const kinds: Kind[] = type ? [type] : ['container', 'image', 'volume', 'network'];
  const format = f.string('format');
  const tmpl = format && format !== 'json' ? parseTemplate(templateString(format)) : undefined;
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const id of args) {
    try {
      found.push(await fetchOne(ctx, id, kinds, f.bool('size')));
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(e.message);
    }
  }
  let out = '';
  // docker 28 runs the template on the daemon's JSON as a map, missing keys being errors.
  if (tmpl) {
    // Each object's text is kept only if its template ran to the end; nothing at all is one empty line.
    for (const v of found) {
      try {
        out += executeTemplate(tmpl, v, undefined, { missingKeyError: true }) + '\n';
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        errors.push(e.message);
      }
    }
    if (out === '') out = '\n';
  } else if (format === 'json')
    out = JSON.stringify(found).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026') + '\n';
  else out = goIndent(found) + '\n';
  ctx.out(out);
  if (errors.length) throw new CliError(errors.join('\n'), 1);
  return 0;
}

async function inspect(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  if (f.bool('layers')) return inspectLayers(ctx, args);
  return inspectAll(ctx, f, args);
}

export const inspectCmd: Command = {
  name: 'inspect',
  use: '[OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Docker objects',
  flags: [
    inspectFormatFlag,
    {
      name: 'layers',
      type: 'bool',
      usage: 'berth: show what each layer of the stack (daemon, containerd, runc, kernel) knows about a container',
    },
    { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', usage: 'Only inspect objects of the given type' },
  ],
  args: { min: 1 },
  run: inspect,
};
