// The Go text/template engine behind --format: the outputs and error texts
// below are what Go's text/template (with docker's functions) gives for the
// same template and data.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Template,
  Struct,
  TemplateSyntaxError,
  TemplateExecError,
  withAliases,
} from '../../../src/cli/berth/template/index.js';
import { tabwrite } from '../../../src/cli/berth/tabwriter.js';
import { formatRows, templateString } from '../../../src/cli/berth/formatter.js';

const data = {
  Name: 'web',
  Labels: { app: 'shop', tier: 'front' },
  Ports: ['80/tcp', '443/tcp'],
  N: 3,
  F: 2.5,
  Big: 1000000,
  Empty: '',
  Nil: null,
  Nested: { Inner: { Deep: 'x' } },
  List: [{ K: 'a' }, { K: 'b' }],
};

const run = (src: string, dot: unknown = data) => Template.parse(src).execute(dot);

describe('template: fields, printing and functions', () => {
  it('prints fields, maps, slices as fmt %v does', () => {
    assert.equal(run('{{.Name}}'), 'web');
    assert.equal(run('{{.Labels}}'), 'map[app:shop tier:front]');
    assert.equal(run('{{.Ports}}'), '[80/tcp 443/tcp]');
    assert.equal(run('{{.N}} {{.F}} {{.Big}}'), '3 2.5 1000000');
    assert.equal(run('{{.Nested.Inner.Deep}}'), 'x');
    assert.equal(run('{{.Missing}}'), '<no value>');
    assert.equal(run('{{.Nil}}'), '<nil>');
    assert.equal(run('{{.List}}'), '[map[K:a] map[K:b]]');
  });

  it('docker functions: json, join, split, upper, lower, title, pad, truncate', () => {
    assert.equal(run('{{json .Labels}}'), '{"app":"shop","tier":"front"}');
    assert.equal(run('{{json .Name}}'), '"web"');
    assert.equal(run('{{json "<&>"}}'), '"<&>"', 'the json function does not escape HTML');
    assert.equal(run('{{join .Ports ", "}}'), '80/tcp, 443/tcp');
    assert.equal(run('{{join .Labels ","}}'), 'front,shop', 'a map joins its values, sorted');
    assert.equal(run('{{split "a:b:c" ":"}}'), '[a b c]');
    assert.equal(run('{{index (split "a:b:c" ":") 1}}'), 'b');
    assert.equal(run('{{upper .Name}} {{lower "ABC"}} {{title "hello wide-world"}}'), 'WEB abc Hello Wide-World');
    assert.equal(run('[{{pad .Name 2 1}}][{{pad .Empty 2 1}}]'), '[  web ][]');
    assert.equal(run('{{truncate "abcdef" 3}} {{truncate "ab" 3}}'), 'abc ab');
  });

  it('builtins: printf, print, println, len, index, slice, not, and, or, comparisons', () => {
    assert.equal(
      run('{{printf "%s=%d %5.1f|%-4s|%q %v %x" .Name .N .F "ab" "q" .Ports 255}}'),
      'web=3   2.5|ab  |"q" [80/tcp 443/tcp] ff',
    );
    assert.equal(run('{{printf "%d"}}'), '%!d(MISSING)');
    assert.equal(run('{{print 1 2 "a" "b" 3}}'), '1 2ab3', 'a space only between two non-strings');
    assert.equal(run('{{println .Name .N}}'), 'web 3\n');
    assert.equal(run('{{len .Ports}} {{len .Labels}} {{len .Name}}'), '2 2 3');
    assert.equal(run('{{index .Labels "app"}}|{{index .Labels "nope"}}|{{index .Ports 0}}'), 'shop||80/tcp');
    assert.equal(run('{{slice .Name 1 2}}'), 'e');
    assert.equal(run('{{not .Empty}} {{and .N .Name}} {{or .Empty .Nil "z"}}'), 'true web z');
    assert.equal(
      run('{{eq .N 3}} {{ne .Name "web"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{eq .Name "x" "web"}}'),
      'true false true true true false true',
    );
  });

  it('control: if/else if/else, range with variables and else, with, break, continue', () => {
    assert.equal(run('{{if eq .N 1}}one{{else if eq .N 3}}three{{else}}many{{end}}'), 'three');
    assert.equal(run('{{range $i, $p := .Ports}}{{$i}}={{$p}};{{end}}'), '0=80/tcp;1=443/tcp;');
    assert.equal(run('{{range $k, $v := .Labels}}{{$k}}:{{$v}} {{end}}'), 'app:shop tier:front ');
    assert.equal(run('{{range .Nil}}x{{else}}none{{end}}'), 'none');
    assert.equal(run('{{range .List}}{{.K}}{{end}}'), 'ab');
    assert.equal(run('{{range .Ports}}{{if eq . "443/tcp"}}{{break}}{{end}}{{.}}{{end}}'), '80/tcp');
    assert.equal(run('{{range .Ports}}{{if eq . "80/tcp"}}{{continue}}{{end}}{{.}}{{end}}'), '443/tcp');
    assert.equal(run('{{with .Nested.Inner}}{{.Deep}}{{end}}{{with .Empty}}no{{else}}empty{{end}}'), 'xempty');
    assert.equal(run('{{$x := .N}}{{$x = 7}}{{$x}} {{$.Name}}'), '7 web');
    assert.equal(run('{{range .List}}{{$.Name}}-{{.K}} {{end}}'), 'web-a web-b ');
  });

  it('pipelines, parentheses, literals, comments and whitespace trimming', () => {
    assert.equal(run('{{.Name | upper | printf "<%s>"}}'), '<WEB>');
    assert.equal(run('{{(index .List 1).K}}'), 'b');
    assert.equal(run("{{'a'}} {{0x1F}} {{1e3}} {{-2}} {{true}} {{`raw\\n`}}"), '97 31 1000 -2 true raw\\n');
    assert.equal(run('a {{- /* gone */ -}} b'), 'ab');
    assert.equal(run('a  {{- .Name -}}  b\n'), 'awebb\n');
    assert.equal(run('{{"\\t\\u00e9"}}'), '\té');
  });

  it('a Struct: methods with arguments, unknown fields name the type', () => {
    const s = new Struct('*formatter.ContainerContext', {
      ID: () => 'abc',
      Label: (k: unknown) => ({ a: '1' })[String(k)] ?? '',
    });
    assert.equal(run('{{.ID}} {{.Label "a"}}[{{.Label "b"}}]', s), 'abc 1[]');
    assert.throws(() => run('{{.Nope}}', s), {
      message:
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext',
    });
    assert.equal(
      run('{{json .}}', new Struct('x', { B: () => '<b>', A: () => 1, M: (x: unknown) => x })),
      '{"A":1,"B":"\\u003cb\\u003e"}',
    );
  });

  it('Go field names of API objects (ID for Id)', () => {
    assert.equal(run('{{.ID}} {{.Id}}', withAliases({ Id: 'x1' }, { ID: 'Id' })), 'x1 x1');
  });

  it("syntax errors and execution errors carry Go's texts", () => {
    const syntax = (src: string, msg: string) =>
      assert.throws(
        () => Template.parse(src),
        (e: unknown) => e instanceof TemplateSyntaxError && e.message === msg,
      );
    syntax('{{.Name', 'template: :1: unclosed action');
    syntax('{{nofunc .Name}}', 'template: :1: function "nofunc" not defined');
    syntax('{{if .N}}x', 'template: :1: unexpected EOF');
    syntax('{{$undefined}}', 'template: :1: undefined variable "$undefined"');
    syntax('{{end}}', 'template: :1: unexpected {{end}}');
    syntax('{{}}', 'template: :1: missing value for command');
    syntax('x\n{{.A | 3}}', 'template: :2: non executable command in pipeline stage 2');
    const exec = (src: string, msg: string) =>
      assert.throws(
        () => run(src),
        (e: unknown) => e instanceof TemplateExecError && e.message === msg,
      );
    exec(
      '{{index .Ports 5}}',
      'template: :1:2: executing "" at <index .Ports 5>: error calling index: index out of range: 5',
    );
    exec('{{len .N}}', 'template: :1:2: executing "" at <len .N>: error calling len: len of type int');
    exec(
      'ab\n {{join .N ","}}',
      'template: :2:3: executing "" at <join .N ",">: error calling join: expected slice, got int',
    );
    exec(
      '{{lt .Name 1}}',
      'template: :1:2: executing "" at <lt .Name 1>: error calling lt: incompatible types for comparison',
    );
  });
});

describe('tabwriter and table formats', () => {
  it('aligns tab-terminated cells in column blocks, min width 10, padding 3', () => {
    assert.equal(
      tabwrite('A\tBB\tC\nlonger-value\tx\ty\n'),
      'A              BB        C\nlonger-value   x         y\n',
    );
    // A line without tabs ends a column block; the last cell of a line is not padded.
    assert.equal(tabwrite('a\tb\nno tabs here\nccc\td\n'), 'a         b\nno tabs here\nccc       d\n');
    assert.equal(tabwrite('é\tx\n'), 'é         x\n', 'widths count runes');
  });

  it('docker format keys: table, table TEMPLATE, json, raw template with \\t and \\n', () => {
    assert.equal(templateString('table {{.A}}\\t{{.B}}'), '{{.A}}\t{{.B}}');
    assert.equal(templateString('json'), '{{json .}}');
    assert.equal(templateString('  {{.A}}\\n '), '{{.A}}\n');
    const rows = [
      new Struct('r', { A: () => 'one', B: () => 'x' }),
      new Struct('r', { A: () => 'three-long', B: () => 'y' }),
    ];
    assert.equal(
      formatRows('table {{.A}}\\t{{.B}}', rows, { A: 'COL A', B: 'COL B' }),
      'COL A        COL B\none          x\nthree-long   y\n',
    );
    assert.equal(formatRows('{{.A}}-{{.B}}', rows, {}), 'one-x\nthree-long-y\n');
    assert.equal(
      formatRows('table {{.A | upper}}', rows, { A: 'COL A' }),
      'COL A\nONE\nTHREE-LONG\n',
      'header functions leave column names as they are',
    );
  });
});
