// The functions a docker --format template can call: Go's builtins (and, or,
// not, len, index, slice, print, printf, println, the comparisons, html, js,
// urlquery) and docker's own (json, split, join, title, lower, upper, pad,
// truncate), plus the header variants docker uses to render `table` headers.

import { goJSON, goType, isMap, printValue, truth, formatFloat } from './values.js';

export class FuncError extends Error {}

export type Func = (...args: unknown[]) => unknown;

function want(name: string, args: unknown[], n: number): void {
  if (args.length !== n) throw new FuncError(`wrong number of args for ${name}: want ${n} got ${args.length}`);
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new FuncError(`wrong type for value; expected string; got ${goType(v)}`);
  return v;
}

function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new FuncError(`wrong type for value; expected int; got ${goType(v)}`);
  return v;
}

/** Go's basic-kind comparison for eq/ne. */
function basicEq(a: unknown, b: unknown): boolean {
  const nil = (x: unknown) => x === undefined || x === null;
  if (nil(a) || nil(b)) return nil(a) && nil(b);
  if (typeof a !== typeof b || typeof a === 'object') {
    if (typeof a === 'object' || typeof b === 'object') throw new FuncError('non-comparable types');
    throw new FuncError('incompatible types for comparison');
  }
  return a === b;
}

function order(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a !== typeof b) throw new FuncError('incompatible types for comparison');
  throw new FuncError('invalid type for comparison');
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a, false);
  });
  return out;
}

/** A subset of fmt.Sprintf: flags -+0 and space, width, precision; verbs v s d q t f e g x X c %. */
export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return (
    format.replace(
      /%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g,
      (_m, flags: string, w?: string, p?: string, verb?: string) => {
        if (verb === '%') return '%';
        const width = w === '*' ? Number(args[ai++]) : w !== undefined ? Number(w) : undefined;
        const prec = p === '*' ? Number(args[ai++]) : p !== undefined ? Number(p) : undefined;
        if (ai >= args.length) return `%!${verb}(MISSING)`;
        const a = args[ai++];
        let s: string;
        switch (verb) {
          case 'v':
            s = printValue(a, false);
            break;
          case 's':
            s = typeof a === 'string' ? a : printValue(a, false);
            if (prec !== undefined) s = [...s].slice(0, prec).join('');
            break;
          case 'q':
            s = JSON.stringify(typeof a === 'string' ? a : printValue(a, false));
            break;
          case 'd':
            s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${goType(a)}=${printValue(a, false)})`;
            if (flags.includes('+') && typeof a === 'number' && a >= 0) s = '+' + s;
            break;
          case 't':
            s = typeof a === 'boolean' ? String(a) : `%!t(${goType(a)}=${printValue(a, false)})`;
            break;
          case 'f':
          case 'F':
            s = typeof a === 'number' ? a.toFixed(prec ?? 6) : `%!f(${goType(a)}=${printValue(a, false)})`;
            break;
          case 'e':
            s =
              typeof a === 'number'
                ? a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2')
                : `%!e(${goType(a)})`;
            break;
          case 'g':
            s =
              typeof a === 'number'
                ? prec !== undefined
                  ? String(Number(a.toPrecision(prec)))
                  : formatFloat(a)
                : `%!g(${goType(a)})`;
            break;
          case 'x':
          case 'X': {
            if (typeof a === 'number') s = Math.trunc(a).toString(16);
            else s = Buffer.from(typeof a === 'string' ? a : printValue(a, false)).toString('hex');
            if (verb === 'X') s = s.toUpperCase();
            break;
          }
          case 'c':
            s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${goType(a)})`;
            break;
          default:
            s = `%!${verb}(${goType(a)}=${printValue(a, false)})`;
        }
        if (width !== undefined && [...s].length < width) {
          const padLen = width - [...s].length;
          if (flags.includes('-')) s = s + ' '.repeat(padLen);
          else if (flags.includes('0') && /[dfeEgxX]/.test(verb ?? '')) {
            const neg = s.startsWith('-') || s.startsWith('+') ? s.slice(0, 1) : '';
            s = neg + '0'.repeat(padLen) + s.slice(neg.length);
          } else s = ' '.repeat(padLen) + s;
        }
        return s;
      },
    ) +
    (ai < args.length
      ? `%!(EXTRA ${args
          .slice(ai)
          .map((a) => `${goType(a)}=${printValue(a, false)}`)
          .join(', ')})`
      : '')
  );
}

/** strings.Title: the first letter of each word in upper case. */
function title(s: string): string {
  let prevSep = true;
  let out = '';
  for (const ch of s) {
    const isSep = !/[\p{L}\p{N}_]/u.test(ch);
    out += prevSep && !isSep ? ch.toUpperCase() : ch;
    prevSep = isSep;
  }
  return out;
}

function indexOne(v: unknown, k: unknown): unknown {
  if (v === undefined || v === null) throw new FuncError('index of untyped nil');
  if (Array.isArray(v) || typeof v === 'string') {
    const i = int(k);
    const n = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
    if (i < 0 || i >= n) throw new FuncError(`index out of range: ${i}`);
    return typeof v === 'string' ? Buffer.from(v)[i] : v[i];
  }
  if (isMap(v)) {
    if (typeof k !== 'string') throw new FuncError(`value has type ${goType(k)}; should be string`);
    if (k in v) return v[k];
    // Go returns the zero value of the map's element type: "" for string maps.
    const vals = Object.values(v);
    return vals.length > 0 && vals.every((x) => typeof x === 'string') ? '' : undefined;
  }
  throw new FuncError(`can't index item of type ${goType(v)}`);
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goType(v)}`);
}

export const builtins: Record<string, Func> = {
  not: (...a) => (want('not', a, 1), !truth(a[0])),
  len: (...a) => (want('len', a, 1), length(a[0])),
  index: (...a) => {
    if (a.length < 1) throw new FuncError('wrong number of args for index: want at least 1 got 0');
    return a.slice(1).reduce((v, k) => indexOne(v, k), a[0]);
  },
  slice: (...a) => {
    const v = a[0];
    if (typeof v !== 'string' && !Array.isArray(v)) throw new FuncError(`can't slice item of type ${goType(v)}`);
    const [i = 0, j = v.length] = a.slice(1).map(int);
    if (i < 0 || j > v.length || i > j) throw new FuncError(`index out of range: ${j}`);
    return v.slice(i, j);
  },
  print: (...a) => sprint(a),
  printf: (...a) => {
    if (a.length < 1) throw new FuncError('wrong number of args for printf: want at least 1 got 0');
    return sprintf(str(a[0]), a.slice(1));
  },
  println: (...a) => a.map((x) => printValue(x, false)).join(' ') + '\n',
  eq: (...a) => {
    if (a.length < 2) throw new FuncError('missing argument for comparison');
    return a.slice(1).some((b) => basicEq(a[0], b));
  },
  ne: (...a) => (want('ne', a, 2), !basicEq(a[0], a[1])),
  lt: (...a) => (want('lt', a, 2), order(a[0], a[1]) < 0),
  le: (...a) => (want('le', a, 2), order(a[0], a[1]) <= 0),
  gt: (...a) => (want('gt', a, 2), order(a[0], a[1]) > 0),
  ge: (...a) => (want('ge', a, 2), order(a[0], a[1]) >= 0),
  html: (...a) =>
    sprint(a).replace(
      /[<>&'"\0]/g,
      (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!,
    ),
  js: (...a) =>
    sprint(a).replace(/[\\'"<>&=]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  // and/or are evaluated lazily by the executor; these serve pipelines.
  and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
  call: (...a) => {
    if (typeof a[0] !== 'function') throw new FuncError(`non-function of type ${goType(a[0])}`);
    return (a[0] as Func)(...a.slice(1));
  },
};

export const dockerFuncs: Record<string, Func> = {
  json: (...a) => (want('json', a, 1), goJSON(a[0])),
  split: (...a) => {
    want('split', a, 2);
    const [s, sep] = [str(a[0]), str(a[1])];
    return sep === '' ? [...s] : s.split(sep);
  },
  join: (...a) => {
    want('join', a, 2);
    const [v, sep] = [a[0], str(a[1])];
    if (v === undefined || v === null) return '';
    if (Array.isArray(v)) return v.map((e) => printValue(e, false)).join(sep);
    if (isMap(v))
      return Object.values(v)
        .map((e) => printValue(e, false))
        .sort()
        .join(sep);
    throw new FuncError(`expected slice, got ${goType(v)}`);
  },
  title: (...a) => (want('title', a, 1), title(str(a[0]))),
  lower: (...a) => (want('lower', a, 1), str(a[0]).toLowerCase()),
  upper: (...a) => (want('upper', a, 1), str(a[0]).toUpperCase()),
  pad: (...a) => {
    want('pad', a, 3);
    const s = str(a[0]);
    return s === '' ? s : ' '.repeat(int(a[1])) + s + ' '.repeat(int(a[2]));
  },
  truncate: (...a) => {
    want('truncate', a, 2);
    const s = str(a[0]);
    const n = int(a[1]);
    return Buffer.byteLength(s) < n ? s : Buffer.from(s).subarray(0, n).toString();
  },
};

/** docker's HeaderFunctions: a table header keeps the column name intact. */
export const headerFuncs: Record<string, Func> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

export const allFuncNames = new Set([...Object.keys(builtins), ...Object.keys(dockerFuncs)]);
