// The lexer of Go's text/template, as docker's --format uses it: text
// outside actions, and inside {{ }} the items of a pipeline. `{{- ` and ` -}}`
// trim the white space next to the action, as in Go.

export type ItemType =
  | 'text'
  | 'left'
  | 'right'
  | 'field' // .Name
  | 'variable' // $ or $name
  | 'identifier' // function name or keyword
  | 'dot'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare' // :=
  | 'assign' // =
  | 'comma'
  | 'space'
  | 'eof';

export interface Item {
  type: ItemType;
  val: string;
  /** Byte offset in the template source. */
  pos: number;
}

export class TemplateSyntaxError extends Error {}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string): boolean => /[A-Za-z0-9_]/.test(c) || c > '\x7f';

/** The line (1-based) of byte offset `pos` in `src`. */
export function lineOf(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === '\n') n++;
  return n;
}

export function lex(src: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  const fail = (msg: string, at: number): never => {
    throw new TemplateSyntaxError(`template: :${lineOf(src, at)}: ${msg}`);
  };
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      items.push({ type: 'text', val: src.slice(i), pos: i });
      break;
    }
    let text = src.slice(i, open);
    const trimLeft =
      src.startsWith('{{- ', open) ||
      src.startsWith('{{-\t', open) ||
      src.startsWith('{{-\n', open) ||
      src.startsWith('{{-\r', open);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) items.push({ type: 'text', val: text, pos: i });
    i = open + 2 + (trimLeft ? 2 : 0);
    items.push({ type: 'left', val: '{{', pos: open });
    // A comment: {{/* ... */}}
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i);
      if (end < 0) fail('unclosed comment', i);
      i = end + 2;
      const rt = src.startsWith(' -}}', i);
      if (rt) i += 1;
      if (!src.startsWith(src[i] === '-' ? '-}}' : '}}', i)) fail('comment ends before closing delimiter', i);
      i += src[i] === '-' ? 3 : 2;
      items.pop();
      if (rt) while (i < src.length && isSpace(src[i]!)) i++;
      continue;
    }
    let parenDepth = 0;
    for (;;) {
      if (i >= src.length) fail('unclosed action', i);
      const c = src[i]!;
      if (src.startsWith('}}', i)) {
        if (parenDepth > 0) fail('unclosed left paren', i);
        items.push({ type: 'right', val: '}}', pos: i });
        i += 2;
        break;
      }
      const start = i;
      if (isSpace(c)) {
        while (i < src.length && isSpace(src[i]!)) i++;
        // " -}}": the right delimiter that trims the space after it.
        if (src.startsWith('-}}', i)) {
          items.push({ type: 'right', val: '}}', pos: i });
          i += 3;
          while (i < src.length && isSpace(src[i]!)) i++;
          break;
        }
        items.push({ type: 'space', val: src.slice(start, i), pos: start });
        continue;
      }
      if (c === '|') {
        items.push({ type: 'pipe', val: c, pos: i++ });
      } else if (c === '(') {
        parenDepth++;
        items.push({ type: 'leftParen', val: c, pos: i++ });
      } else if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) fail(`unexpected right paren`, i);
        items.push({ type: 'rightParen', val: c, pos: i++ });
      } else if (c === ',') {
        items.push({ type: 'comma', val: c, pos: i++ });
      } else if (c === ':') {
        if (src[i + 1] !== '=') fail('expected :=', i);
        items.push({ type: 'declare', val: ':=', pos: i });
        i += 2;
      } else if (c === '=') {
        items.push({ type: 'assign', val: '=', pos: i++ });
      } else if (c === '"') {
        i++;
        while (src[i] !== '"') {
          if (i >= src.length || src[i] === '\n') fail('unterminated quoted string', start);
          if (src[i] === '\\') i++;
          i++;
        }
        i++;
        items.push({ type: 'string', val: src.slice(start, i), pos: start });
      } else if (c === '`') {
        const end = src.indexOf('`', i + 1);
        if (end < 0) fail('unterminated raw quoted string', start);
        i = end + 1;
        items.push({ type: 'rawString', val: src.slice(start, i), pos: start });
      } else if (c === "'") {
        i++;
        while (src[i] !== "'") {
          if (i >= src.length || src[i] === '\n') fail('unterminated character constant', start);
          if (src[i] === '\\') i++;
          i++;
        }
        i++;
        items.push({ type: 'char', val: src.slice(start, i), pos: start });
      } else if (c === '$') {
        i++;
        while (i < src.length && isAlnum(src[i]!)) i++;
        items.push({ type: 'variable', val: src.slice(start, i), pos: start });
      } else if (c === '.') {
        if (/[0-9]/.test(src[i + 1] ?? '')) {
          i = lexNumber(src, i);
          items.push({ type: 'number', val: src.slice(start, i), pos: start });
        } else if (isAlnum(src[i + 1] ?? '')) {
          i++;
          while (i < src.length && isAlnum(src[i]!)) i++;
          items.push({ type: 'field', val: src.slice(start, i), pos: start });
        } else {
          items.push({ type: 'dot', val: '.', pos: i++ });
        }
      } else if (/[0-9+-]/.test(c)) {
        i = lexNumber(src, i);
        if (i === start) fail(`bad character ${JSON.stringify(c)}`, i);
        items.push({ type: 'number', val: src.slice(start, i), pos: start });
      } else if (isAlnum(c)) {
        while (i < src.length && isAlnum(src[i]!)) i++;
        const word = src.slice(start, i);
        const type: ItemType = word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier';
        items.push({ type, val: word, pos: start });
      } else {
        fail(`unexpected ${goQuoteChar(c)} in command`, i);
      }
    }
  }
  items.push({ type: 'eof', val: '', pos: src.length });
  return items;
}

function lexNumber(src: string, i: number): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9_]+)?)/.exec(
    src.slice(i),
  );
  return i + (m ? m[0].length : 0);
}

function goQuoteChar(c: string): string {
  return `<${c}>`;
}
