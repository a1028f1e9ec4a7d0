// containerd's filter syntax (github.com/containerd/containerd/filters), as
// ctr and every containerd client write it:
//
//   filter   := selector ( ',' selector )*          all selectors must match
//   selector := fieldpath ( op value )?             no op: the field is present
//   fieldpath:= field ( '.' field )*
//   field    := quoted | [A-Za-z_][A-Za-z0-9_]*
//   op       := '==' | '!=' | '~='                  ~= is a regular expression
//   value    := quoted | /regexp/ | [^\s,"]+
//   quoted   := "…" with Go's escapes
//
// A request's list of filters is a disjunction: an object is kept when any
// one filter matches; an empty list keeps everything. A syntax error is an
// InvalidArgument naming the filter and the position, as containerd's is.

import { BerthError } from '../../common/errors.js';

export type Operator = '==' | '!=' | '~=';

export interface Selector {
  path: string[];
  op?: Operator;
  value?: string;
  re?: RegExp;
}

/** One filter: a conjunction of selectors. */
export type Filter = Selector[];

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}

  fail(what: string): never {
    throw new BerthError(
      'berth-engine',
      'invalid-argument',
      // containerd's form: the character at fault between >| |<, none past the end
      `filters: parse error: [${
        this.pos < this.src.length
          ? `${this.src.slice(0, this.pos)} >|${this.src[this.pos]}|< ${this.src.slice(this.pos + 1)}`
          : this.src
      }]: ${what}`,
      {
        field: 'filters',
      },
    );
  }

  skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  peek(n = 1): string {
    return this.src.slice(this.pos, this.pos + n);
  }

  done(): boolean {
    return this.pos >= this.src.length;
  }

  /** A Go-style double-quoted string starting at pos. */
  quoted(): string {
    const quote = this.src[this.pos];
    this.pos++;
    let out = '';
    while (!this.done()) {
      const c = this.src[this.pos++]!;
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      if (this.done()) break;
      const e = this.src[this.pos++]!;
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        '\\': '\\',
        '"': '"',
        "'": "'",
        '/': '/',
        a: '\x07',
        b: '\b',
        f: '\f',
        v: '\v',
      };
      if (e in simple) {
        // Inside /regexp/ a backslash escape other than \/ belongs to the regexp.
        out += quote === '/' && e !== '/' ? '\\' + e : simple[e]!;
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = this.src.slice(this.pos, this.pos + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) this.fail(`invalid escape \\${e}${hex}`);
        this.pos += len;
        out += String.fromCodePoint(parseInt(hex, 16));
      } else if (quote === '/') {
        out += '\\' + e;
      } else {
        this.fail(`invalid escape \\${e}`);
      }
    }
    this.fail('unterminated quoted string');
  }

  field(): string {
    this.skipSpace();
    const c = this.peek();
    if (c === '"') return this.quoted();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected field or quoted');
    this.pos += m[0].length;
    return m[0];
  }

  value(op: Operator): { value: string; quoted: boolean } {
    this.skipSpace();
    const c = this.peek();
    if (c === '"') return { value: this.quoted(), quoted: true };
    if (c === '/' && op === '~=') return { value: this.quoted(), quoted: true };
    const m = /^[^\s,"]+/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected value or quoted');
    this.pos += m[0].length;
    return { value: m[0], quoted: false };
  }
}

function parseOne(src: string): Filter {
  const s = new Scanner(src);
  const out: Filter = [];
  for (;;) {
    const path = [s.field()];
    s.skipSpace();
    while (s.peek() === '.') {
      s.pos++;
      path.push(s.field());
      s.skipSpace();
    }
    const two = s.peek(2);
    if (two === '==' || two === '!=' || two === '~=') {
      s.pos += 2;
      const op = two;
      const { value } = s.value(op);
      const sel: Selector = { path, op, value };
      if (op === '~=') {
        try {
          sel.re = new RegExp(value);
        } catch (e) {
          s.fail(`invalid regexp ${JSON.stringify(value)}: ${(e as Error).message}`);
        }
      }
      out.push(sel);
    } else {
      out.push({ path });
    }
    s.skipSpace();
    if (s.done()) return out;
    if (s.peek() !== ',') s.fail('expected a comma or end of input');
    s.pos++;
  }
}

/** Parses each of a request's filters (ORed); syntax errors are InvalidArgument. */
export function parseFilters(filters: readonly string[]): Filter[] {
  return filters.filter((f) => f.trim() !== '').map(parseOne);
}

/** What a filter sees of an object: the value at a field path, or undefined when absent. */
export type Adaptor = (path: readonly string[]) => string | undefined;

export function matchSelector(sel: Selector, field: Adaptor): boolean {
  const v = field(sel.path);
  if (sel.op === undefined) return v !== undefined;
  if (v === undefined) return sel.op === '!=';
  switch (sel.op) {
    case '==':
      return v === sel.value;
    case '!=':
      return v !== sel.value;
    case '~=':
      return sel.re!.test(v);
  }
}

/** Kept when the list is empty or any filter has every selector matching. */
export function matchAny(filters: readonly Filter[], field: Adaptor): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => f.every((sel) => matchSelector(sel, field)));
}

/** The adaptor for a `labels` map: `labels.<key>` (the key may be quoted to hold dots). */
export function labelField(labels: Record<string, string>, path: readonly string[]): string | undefined {
  if (path.length < 2) return undefined;
  const key = path.slice(1).join('.');
  return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
}
