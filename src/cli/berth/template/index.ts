// Go text/template for docker's --format: parse once, execute per object.
// `parse` throws TemplateSyntaxError ("template: :1: unclosed action"),
// `execute` throws TemplateExecError with the output written before the error.

import { Parser, type Node } from './parser.js';
import { Executor, TemplateExecError } from './exec.js';
import { allFuncNames, dockerFuncs, headerFuncs, type Func } from './funcs.js';
import { TemplateSyntaxError } from './lexer.js';

export { Struct, withAliases, withMethods } from './values.js';
export { TemplateSyntaxError, TemplateExecError };

export class Template {
  private constructor(
    readonly source: string,
    private nodes: Node[],
  ) {}

  static parse(source: string): Template {
    return new Template(source, new Parser(source, allFuncNames).parse());
  }

  execute(dot: unknown, funcs: Record<string, Func> = dockerFuncs, opts: { missingKeyError?: boolean } = {}): string {
    return new Executor(this.source, funcs, opts.missingKeyError).run(this.nodes, dot);
  }

  /** With docker's header functions, as a `table` header is rendered. */
  executeHeader(dot: unknown): string {
    return new Executor(this.source, { ...dockerFuncs, ...headerFuncs }).run(this.nodes, dot);
  }
}
