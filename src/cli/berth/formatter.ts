// docker's formatter: a --format value ("table", "table TEMPLATE", "json",
// a raw template) applied to a list of contexts. Each row is the template's
// output plus a newline; a table renders the header by executing the same
// template on the column names, then aligns everything through tabwriter.

import { Template, TemplateExecError, TemplateSyntaxError, Struct, withMethods } from './template/index.js';
import { tabwrite } from './tabwriter.js';
import { CliError } from './errors.js';

export function templateString(format: string): string {
  if (format === 'table') return '';
  if (format === 'json') return '{{json .}}';
  let out = format.startsWith('table') ? format.slice('table'.length) : format;
  out = out.replace(/^ +| +$/g, '');
  return out.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

export function parseTemplate(src: string, prefix = 'template parsing error: '): Template {
  try {
    return Template.parse(src);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new CliError(`${prefix}${e.message}`, 1);
    throw e;
  }
}

/** Run a template; a failed execution becomes docker's message. */
export function executeTemplate(
  t: Template,
  dot: unknown,
  prefix = 'template parsing error: ',
  opts: { missingKeyError?: boolean } = {},
): string {
  try {
    return t.execute(dot, undefined, opts);
  } catch (e) {
    if (e instanceof TemplateExecError) throw new CliError(`${prefix}${e.message}`, 1);
    throw e;
  }
}

/**
 * Write `rows` with `format`: `header` maps field names to column titles.
 * Returns the text (the caller writes it, so that nothing is half-printed on
 * an error).
 */
export function formatRows(format: string, rows: unknown[], header: Record<string, string>): string {
  const tmpl = parseTemplate(templateString(format));
  let body = '';
  for (const r of rows) body += executeTemplate(tmpl, r) + '\n';
  if (!format.startsWith('table')) return body;
  let head: string;
  // docker's SubHeaderContext: a map of column names whose Label method
  // titles a label column with the label's last dotted part.
  const headerDot = withMethods(
    { ...header },
    { Label: (name: unknown) => String(name).split('.').pop()!.replace(/[-_]/g, ' ') },
  );
  try {
    head = tmpl.executeHeader(headerDot);
  } catch (e) {
    // docker ignores a header that fails to render and keeps what was written.
    head = (e as { partial?: string }).partial ?? '';
  }
  return tabwrite(head + '\n' + body);
}

export function struct(typeName: string, fields: Record<string, unknown>): Struct {
  return new Struct(typeName, fields);
}

/** The first 12 hex digits of an id, without its "sha256:" prefix. */
export function truncateID(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.slice(0, 12);
}

/** Ellipsis(s, n): cut to n runes, the last being "…". */
export function ellipsis(s: string, n: number): string {
  const r = [...s];
  if (r.length <= n) return s;
  if (n <= 1) return r.slice(0, n).join('');
  return r.slice(0, n - 1).join('') + '…';
}

/** Go's strconv.Quote for the common cases. */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u007f/gi, '\\x7f')
    .replace(/\\u00([0-1][0-9a-f])/gi, (_, h: string) => `\\x${h.toLowerCase()}`);
}
