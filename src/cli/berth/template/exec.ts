// The executor of a parsed template: walks the tree with a dot and a stack
// of variables, evaluates pipelines left to right (each command's result
// becomes the last argument of the next), and raises Go's error messages
// ("template: :1:2: executing "" at <.Nope>: can't evaluate field ...").

import { argString, type Arg, type Command, type Node, type Pipe } from './parser.js';
import { lineOf } from './lexer.js';
import { builtins, FuncError, type Func } from './funcs.js';
import { goAliases, goMethods, goType, isMap, printValue, Struct, truth } from './values.js';

export class TemplateExecError extends Error {}

type ControlNode = Extract<Node, { type: 'if' | 'range' | 'with' }>;

// {{break}} and {{continue}} unwind to the enclosing {{range}} as exceptions;
// they are caught there (walkRange) and never escape a template run.
class Break extends Error {}
class Continue extends Error {}

interface Var {
  name: string;
  value: unknown;
}

export class Executor {
  private vars: Var[] = [];
  private out: string[] = [];

  constructor(
    private src: string,
    private funcs: Record<string, Func>,
    /** Go's Option("missingkey=error"): a missing map key is an error, not "<no value>". */
    private missingKeyError = false,
  ) {}

  private fail(pos: number, at: string, msg: string): never {
    const line = lineOf(this.src, pos);
    const lastNl = this.src.lastIndexOf('\n', pos - 1);
    const col = pos - (lastNl + 1);
    throw new TemplateExecError(`template: :${line}:${col}: executing "" at <${at}>: ${msg}`);
  }

  run(nodes: Node[], dot: unknown): string {
    this.vars = [{ name: '$', value: dot }];
    this.out = [];
    try {
      this.walkList(nodes, dot);
    } catch (e) {
      // What was written before the error stays written (Go writes as it goes).
      if (e instanceof TemplateExecError) (e as TemplateExecError & { partial?: string }).partial = this.out.join('');
      throw e;
    }
    return this.out.join('');
  }

  private walkList(nodes: Node[], dot: unknown): void {
    for (const n of nodes) this.walk(n, dot);
  }

  private walk(n: Node, dot: unknown): void {
    switch (n.type) {
      case 'text':
        this.out.push(n.text);
        return;
      case 'action': {
        const v = this.evalPipe(n.pipe, dot);
        if (n.pipe.decl.length === 0) this.out.push(printValue(v));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipe(n.pipe, dot);
        if (truth(v)) this.walkList(n.list, n.type === 'with' ? v : dot);
        else if (n.elseList) this.walkList(n.elseList, dot);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(n, dot);
        return;
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }

  private walkRange(n: ControlNode, dot: unknown): void {
    const mark = this.vars.length;
    const v = this.evalPipe({ ...n.pipe, decl: [] }, dot);
    let entries: [unknown, unknown][];
    if (v === undefined || v === null) entries = [];
    else if (Array.isArray(v)) entries = v.map((e, i) => [i, e]);
    else if (isMap(v))
      entries = Object.keys(v)
        .sort()
        .map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v))
      entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else this.fail(n.pipe.pos, argString(n.pipe.cmds[0]!.args[0]!), `range can't iterate over ${printValue(v)}`);
    if (entries.length === 0) {
      if (n.elseList) this.walkList(n.elseList, dot);
      this.vars.length = mark;
      return;
    }
    for (const [k, e] of entries) {
      this.vars.length = mark;
      const d = n.pipe.decl;
      if (d.length === 1) this.vars.push({ name: d[0]!, value: e });
      else if (d.length === 2) this.vars.push({ name: d[0]!, value: k }, { name: d[1]!, value: e });
      try {
        this.walkList(n.list, e);
      } catch (x) {
        if (x instanceof Break) break;
        if (x instanceof Continue) continue;
        throw x;
      }
    }
    this.vars.length = mark;
  }

  private evalPipe(p: Pipe, dot: unknown): unknown {
    let value: unknown;
    let has = false;
    for (const c of p.cmds) {
      value = this.evalCommand(c, dot, has ? [value] : []);
      has = true;
    }
    for (const name of p.decl) {
      if (p.isAssign) {
        const v = [...this.vars].reverse().find((x) => x.name === name);
        if (v) v.value = value;
      } else this.vars.push({ name, value });
    }
    return value;
  }

  private evalCommand(c: Command, dot: unknown, final: unknown[]): unknown {
    const first = c.args[0]!;
    const rest = c.args.slice(1);
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, first.ident, first, rest, final, dot);
      case 'variable': {
        const v = this.lookupVar(first.ident[0]!);
        if (first.ident.length === 1) {
          this.noArgs(first, rest, final);
          return v;
        }
        return this.evalFieldChain(v, first.ident.slice(1), first, rest, final, dot);
      }
      case 'chain': {
        const base = this.evalArg(first.node, dot);
        return this.evalFieldChain(base, first.field, first, rest, final, dot);
      }
      case 'identifier':
        return this.evalFunction(first, rest, final, dot, c.args.map(argString).join(' '));
      case 'pipe':
        this.noArgs(first, rest, final);
        return this.evalPipe(first, dot);
      default:
        this.noArgs(first, rest, final);
        return this.evalArg(first, dot);
    }
  }

  private noArgs(a: Arg, rest: Arg[], final: unknown[]): void {
    if (rest.length > 0 || final.length > 0)
      this.fail(a.pos, argString(a), `can't give argument to non-function ${argString(a)}`);
  }

  private lookupVar(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return undefined;
  }

  private evalArg(a: Arg, dot: unknown): unknown {
    switch (a.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'bool':
        return a.value;
      case 'string':
        return a.text;
      case 'number':
        return a.value;
      case 'pipe':
        return this.evalPipe(a, dot);
      case 'field':
        return this.evalFieldChain(dot, a.ident, a, [], [], dot);
      case 'variable': {
        const v = this.lookupVar(a.ident[0]!);
        return a.ident.length === 1 ? v : this.evalFieldChain(v, a.ident.slice(1), a, [], [], dot);
      }
      case 'chain':
        return this.evalFieldChain(this.evalArg(a.node, dot), a.field, a, [], [], dot);
      case 'identifier':
        return this.evalFunction(a, [], [], dot, a.name);
    }
  }

  /** .A.B.C: only the last element may take the command's arguments. */
  private evalFieldChain(
    recv: unknown,
    ident: string[],
    node: Arg,
    rest: Arg[],
    final: unknown[],
    dot: unknown,
  ): unknown {
    let v = recv;
    for (let i = 0; i < ident.length; i++) {
      const last = i === ident.length - 1;
      v = this.evalField(v, ident[i]!, node, last ? rest : [], last ? final : [], dot);
    }
    return v;
  }

  private evalField(recv: unknown, name: string, node: Arg, rest: Arg[], final: unknown[], dot: unknown): unknown {
    const at = argString(node);
    const hasArgs = rest.length > 0 || final.length > 0;
    if (recv instanceof Struct) {
      if (!(name in recv.fields)) this.fail(node.pos, at, `can't evaluate field ${name} in type ${recv.typeName}`);
      const f = recv.fields[name];
      if (typeof f === 'function') {
        const args = [...rest.map((a) => this.evalArg(a, dot)), ...final];
        try {
          return (f as Func)(...args);
        } catch (e) {
          if (e instanceof TemplateExecError) throw e;
          this.fail(node.pos, at, `error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (hasArgs) this.fail(node.pos, at, `${name} has arguments but cannot be invoked as function`);
      return f;
    }
    if (isMap(recv)) {
      const method = goMethods.get(recv)?.[name];
      if (method) return method(...rest.map((a) => this.evalArg(a, dot)), ...final);
      if (hasArgs) this.fail(node.pos, at, `${name} is not a method but has arguments`);
      if (Object.prototype.hasOwnProperty.call(recv, name)) return recv[name];
      const alias = goAliases.get(recv)?.[name];
      if (alias !== undefined) return recv[alias];
      if (this.missingKeyError) this.fail(node.pos, at, `map has no entry for key "${name}"`);
      return undefined;
    }
    if (recv === undefined) return undefined;
    if (recv === null) this.fail(node.pos, at, `nil pointer evaluating interface {}.${name}`);
    this.fail(node.pos, at, `can't evaluate field ${name} in type ${goType(recv)}`);
  }

  /** `cmd` is the whole command's text: Go reports a failed call at <index .X 5>, not at <index>. */
  private evalFunction(
    id: Extract<Arg, { type: 'identifier' }>,
    rest: Arg[],
    final: unknown[],
    dot: unknown,
    cmd: string,
  ): unknown {
    const fn = this.funcs[id.name] ?? builtins[id.name];
    if (!fn) this.fail(id.pos, id.name, `"${id.name}" is not a defined function`);
    // and/or stop at the first argument that decides (Go 1.18+).
    if (id.name === 'and' || id.name === 'or') {
      const all = [...rest.map((a) => () => this.evalArg(a, dot)), ...final.map((f) => () => f)];
      if (all.length === 0) this.fail(id.pos, cmd, `wrong number of args for ${id.name}: want at least 1 got 0`);
      let v: unknown;
      for (const get of all) {
        v = get();
        if (truth(v) !== (id.name === 'and')) return v;
      }
      return v;
    }
    const args = [...rest.map((a) => this.evalArg(a, dot)), ...final];
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof TemplateExecError) throw e;
      const msg =
        e instanceof FuncError && e.message.startsWith('wrong number of args')
          ? e.message
          : `error calling ${id.name}: ${e instanceof Error ? e.message : String(e)}`;
      this.fail(id.pos, cmd, msg);
    }
  }
}
