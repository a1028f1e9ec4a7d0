// The parser of Go's text/template: the tree of text, actions and the
// control structures (if/else, range, with, break, continue), with pipelines
// of commands whose arguments are fields, variables, functions, literals and
// parenthesized pipelines. Functions are checked at parse time, as Go does.

import { lex, lineOf, TemplateSyntaxError, type Item } from './lexer.js';

export type Arg =
  | { type: 'field'; pos: number; ident: string[] }
  | { type: 'variable'; pos: number; ident: string[] }
  | { type: 'identifier'; pos: number; name: string }
  | { type: 'dot'; pos: number }
  | { type: 'nil'; pos: number }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'string'; pos: number; text: string; quoted: string }
  | { type: 'number'; pos: number; value: number; text: string; isInt: boolean }
  | { type: 'chain'; pos: number; node: Arg; field: string[] }
  | Pipe;

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  type: 'pipe';
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | { type: 'if' | 'range' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { type: 'break' | 'continue'; pos: number };

export class Parser {
  private items: Item[];
  private i = 0;
  private vars: string[][] = [['$']];
  private rangeDepth = 0;

  constructor(
    private src: string,
    private funcs: Set<string>,
  ) {
    this.items = lex(src);
  }

  private fail(msg: string, pos?: number): never {
    const at = pos ?? this.items[Math.min(this.i, this.items.length - 1)]!.pos;
    throw new TemplateSyntaxError(`template: :${lineOf(this.src, at)}: ${msg}`);
  }

  private peek(): Item {
    return this.items[this.i]!;
  }
  private next(): Item {
    return this.items[this.i++]!;
  }
  private nextNonSpace(): Item {
    let it = this.next();
    while (it.type === 'space') it = this.next();
    return it;
  }
  private peekNonSpace(): Item {
    let j = this.i;
    while (this.items[j]!.type === 'space') j++;
    return this.items[j]!;
  }
  private skipSpace(): void {
    while (this.peek().type === 'space') this.i++;
  }

  parse(): Node[] {
    const { list, end } = this.parseList();
    if (end) this.fail(`unexpected {{${end}}}`);
    return list;
  }

  /** Nodes up to EOF or to an {{end}}/{{else}} (returned, consumed up to its keyword). */
  private parseList(): { list: Node[]; end?: 'end' | 'else'; endPos?: number } {
    const list: Node[] = [];
    for (;;) {
      const it = this.next();
      if (it.type === 'eof') return { list };
      if (it.type === 'text') {
        list.push({ type: 'text', text: it.val });
        continue;
      }
      // left delimiter
      const kw = this.peekNonSpace();
      if (kw.type === 'identifier') {
        switch (kw.val) {
          case 'end':
          case 'else':
            this.nextNonSpace();
            return { list, end: kw.val, endPos: kw.pos };
          case 'if':
          case 'range':
          case 'with':
            this.nextNonSpace();
            list.push(this.parseControl(kw.val, kw.pos));
            continue;
          case 'break':
          case 'continue': {
            this.nextNonSpace();
            if (this.rangeDepth === 0) this.fail(`{{${kw.val}}} outside {{range}}`, kw.pos);
            if (this.nextNonSpace().type !== 'right')
              this.fail(`unexpected ${this.items[this.i - 1]!.val} in {{${kw.val}}}`);
            list.push({ type: kw.val, pos: kw.pos });
            continue;
          }
          case 'define':
          case 'template':
          case 'block':
            this.fail(`{{${kw.val}}} is not supported by berth's templates`, kw.pos);
        }
      }
      const pipe = this.parsePipeline('command', true);
      list.push({ type: 'action', pos: pipe.pos, pipe });
    }
  }

  private parseControl(kind: 'if' | 'range' | 'with', pos: number): Node {
    this.vars.push([]);
    if (kind === 'range') this.rangeDepth++;
    const pipe = this.parsePipeline(kind, true);
    const body = this.parseList();
    let elseList: Node[] | undefined;
    if (body.end === undefined) this.fail('unexpected EOF');
    if (kind === 'range') this.rangeDepth--;
    if (body.end === 'else') {
      const nxt = this.peekNonSpace();
      // {{else if ...}} / {{else with ...}}: a nested control in the else branch.
      if ((kind === 'if' && nxt.val === 'if') || (kind === 'with' && nxt.val === 'with')) {
        this.nextNonSpace();
        elseList = [this.parseControl(kind, nxt.pos)];
      } else {
        if (this.nextNonSpace().type !== 'right') this.fail('unexpected token in else');
        const e = this.parseList();
        if (e.end !== 'end') this.fail(e.end === 'else' ? 'expected end; found {{else}}' : 'unexpected EOF');
        if (this.nextNonSpace().type !== 'right') this.fail('unexpected token in end');
        elseList = e.list;
      }
    } else if (this.nextNonSpace().type !== 'right') {
      this.fail('unexpected token in end');
    }
    this.vars.pop();
    return { type: kind, pos, pipe, list: body.list, elseList };
  }

  private declare(name: string): void {
    this.vars[this.vars.length - 1]!.push(name);
  }
  private known(name: string): boolean {
    return this.vars.some((s) => s.includes(name));
  }

  /** A pipeline up to the right delimiter (or right paren when `inParens`). */
  private parsePipeline(context: string, atAction: boolean, inParens = false): Pipe {
    const start = this.peekNonSpace().pos;
    const pipe: Pipe = { type: 'pipe', pos: start, decl: [], isAssign: false, cmds: [] };
    // Declarations: $x := / $x = / $i, $e :=
    const save = this.i;
    const v = this.nextNonSpace();
    if (v.type === 'variable') {
      const after = this.nextNonSpace();
      if (after.type === 'declare' || after.type === 'assign') {
        pipe.isAssign = after.type === 'assign';
        if (pipe.isAssign && !this.known(v.val)) this.fail(`undefined variable "${v.val}"`, v.pos);
        if (!pipe.isAssign) this.declare(v.val);
        pipe.decl.push(v.val);
      } else if (after.type === 'comma' && context === 'range') {
        const v2 = this.nextNonSpace();
        if (v2.type !== 'variable') this.fail(`range can only initialize variables`);
        const d = this.nextNonSpace();
        if (d.type !== 'declare' && d.type !== 'assign') this.fail(`expected := or =; found ${d.val}`);
        this.declare(v.val);
        this.declare(v2.val);
        pipe.decl.push(v.val, v2.val);
      } else {
        this.i = save;
      }
    } else {
      this.i = save;
    }
    for (;;) {
      const t = this.peekNonSpace();
      if ((t.type === 'right' && !inParens) || (t.type === 'rightParen' && inParens)) {
        this.nextNonSpace();
        break;
      }
      if (t.type === 'eof') this.fail(atAction ? 'unclosed action' : 'unexpected EOF');
      if (t.type === 'right' && inParens) this.fail('unclosed left paren', t.pos);
      if (t.type === 'rightParen') this.fail('unexpected right paren', t.pos);
      pipe.cmds.push(this.parseCommand());
    }
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`);
    for (let k = 1; k < pipe.cmds.length; k++) {
      const first = pipe.cmds[k]!.args[0]!;
      if (['bool', 'dot', 'nil', 'number', 'string'].includes(first.type)) {
        this.fail(`non executable command in pipeline stage ${k + 1}`);
      }
    }
    return pipe;
  }

  private parseCommand(): Command {
    this.skipSpace();
    const cmd: Command = { pos: this.peek().pos, args: [] };
    for (;;) {
      this.skipSpace();
      const t = this.peek();
      if (t.type === 'right' || t.type === 'rightParen' || t.type === 'eof') break;
      if (t.type === 'pipe') {
        this.next();
        if (cmd.args.length === 0) this.fail('missing command');
        return cmd;
      }
      cmd.args.push(this.parseOperand());
      // Operands must be separated by spaces.
      const n = this.peek();
      if (
        n.type !== 'space' &&
        n.type !== 'right' &&
        n.type !== 'rightParen' &&
        n.type !== 'pipe' &&
        n.type !== 'eof'
      ) {
        this.fail(`unexpected ${quoteItem(n)} in operand`, n.pos);
      }
    }
    if (cmd.args.length === 0) this.fail('missing command');
    return cmd;
  }

  private parseOperand(): Arg {
    const t = this.next();
    let node: Arg;
    switch (t.type) {
      case 'field':
        node = { type: 'field', pos: t.pos, ident: t.val.slice(1).split('.') };
        break;
      case 'variable':
        if (!this.known(t.val)) this.fail(`undefined variable "${t.val}"`, t.pos);
        node = { type: 'variable', pos: t.pos, ident: [t.val] };
        break;
      case 'identifier':
        if (!this.funcs.has(t.val)) this.fail(`function "${t.val}" not defined`, t.pos);
        node = { type: 'identifier', pos: t.pos, name: t.val };
        break;
      case 'dot':
        node = { type: 'dot', pos: t.pos };
        break;
      case 'nil':
        node = { type: 'nil', pos: t.pos };
        break;
      case 'bool':
        node = { type: 'bool', pos: t.pos, value: t.val === 'true' };
        break;
      case 'string':
        node = { type: 'string', pos: t.pos, text: unquote(t.val), quoted: t.val };
        break;
      case 'rawString':
        node = { type: 'string', pos: t.pos, text: t.val.slice(1, -1), quoted: t.val };
        break;
      case 'char': {
        const s = unquote('"' + t.val.slice(1, -1).replace(/"/g, '\\"') + '"');
        node = { type: 'number', pos: t.pos, value: s.codePointAt(0) ?? 0, text: t.val, isInt: true };
        break;
      }
      case 'number': {
        const clean = t.val.replace(/_/g, '');
        const value = /^[+-]?0[xXbBoO]/.test(clean) ? parseIntPrefixed(clean) : Number(clean);
        if (!Number.isFinite(value)) this.fail(`illegal number syntax: "${t.val}"`, t.pos);
        node = {
          type: 'number',
          pos: t.pos,
          value,
          text: t.val,
          isInt: !/[.eE]/.test(clean) || /^[+-]?0[xX]/.test(clean),
        };
        break;
      }
      case 'leftParen':
        node = this.parsePipeline('parenthesized pipeline', false, true);
        break;
      default:
        this.fail(`unexpected ${quoteItem(t)} in operand`, t.pos);
    }
    // A field chain after the operand: (x).A.B or $x.A.B
    if (this.peek().type === 'field') {
      // As Go: the chained node is positioned at its first chained field.
      const chainPos = this.peek().pos;
      const chain: string[] = [];
      while (this.peek().type === 'field') chain.push(...this.next().val.slice(1).split('.'));
      if (node.type === 'variable' || node.type === 'field') {
        node.ident.push(...chain);
        node.pos = chainPos;
      } else {
        if (['bool', 'string', 'number', 'nil', 'dot'].includes(node.type))
          this.fail(`unexpected . after term ${JSON.stringify(t.val)}`);
        node = { type: 'chain', pos: chainPos, node, field: chain };
      }
    }
    return node;
  }
}

function parseIntPrefixed(s: string): number {
  const neg = s.startsWith('-');
  const body = s.replace(/^[+-]/, '');
  const base = /^0[xX]/.test(body) ? 16 : /^0[bB]/.test(body) ? 2 : 8;
  const v = parseInt(body.slice(2), base);
  return neg ? -v : v;
}

function quoteItem(t: Item): string {
  if (t.type === 'eof') return 'EOF';
  return `"${t.val}"`;
}

/** A Go interpreted string literal's value. */
export function unquote(q: string): string {
  const body = q.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        return /^[0-7]{3}$/.test(e) ? String.fromCharCode(parseInt(e, 8)) : e;
    }
  });
}

/** The source form of an argument, for Go's "at <...>" error context. */
export function argString(a: Arg): string {
  switch (a.type) {
    case 'field':
      return '.' + a.ident.join('.');
    case 'variable':
      return a.ident.join('.');
    case 'identifier':
      return a.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'string':
      return a.quoted;
    case 'number':
      return a.text;
    case 'chain':
      return `${a.node.type === 'pipe' ? `(${pipeString(a.node)})` : argString(a.node)}.${a.field.join('.')}`;
    case 'pipe':
      return `(${pipeString(a)})`;
  }
}

export function pipeString(p: Pipe): string {
  const decl = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map((c) => c.args.map(argString).join(' ')).join(' | ');
}
