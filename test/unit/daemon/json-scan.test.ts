// berthd's JSON syntax check against Go's encoding/json words (what dockerd
// answers a malformed body with), fed whole and one byte at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonScanner, syntaxError } from '../../../src/daemon/http/json-scan.js';

const cases: [string, string | undefined][] = [
  ['{bad', "invalid character 'b' looking for beginning of object key string"],
  ['aaaa', "invalid character 'a' looking for beginning of value"],
  ['{"a" 1}', "invalid character '1' after object key"],
  ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
  ['[1 2]', "invalid character '2' after array element"],
  ['trux', "invalid character 'x' in literal true (expecting 'e')"],
  ['{"a":-x}', "invalid character 'x' in numeric literal"],
  ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
  ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
  ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
  ['{"a":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"],
  ['{"a":"\n"}', "invalid character '\\n' in string literal"],
  ['{"a":"\u0001"}', "invalid character '\\x01' in string literal"],
  ['{}x', "invalid character 'x' after top-level value"],
  ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
  ['[1,]', "invalid character ']' looking for beginning of value"],
  ['{"a":01}', "invalid character '1' after object key:value pair"],
  ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
  ['{"a":1', 'unexpected EOF'],
  ['', 'EOF'],
  [' 12 ', undefined],
  ['{}', undefined],
  ['[]', undefined],
  ['{"a":[1,2,{"b":null}],"c":true,"d":-1.5e+3,"e":"\\u00e9\\n","f":[],"g":{}}', undefined],
];

test("the first syntax error in Go's words, whole or a byte at a time", () => {
  for (const [text, want] of cases) {
    assert.equal(syntaxError(text), want, JSON.stringify(text));
    const sc = new JsonScanner();
    let got: string | undefined;
    for (const byte of Buffer.from(text)) got ??= sc.feed(Uint8Array.of(byte));
    assert.equal(got ?? sc.end(), want, `${JSON.stringify(text)} byte by byte`);
  }
});

test('valid JSON is what JSON.parse accepts', () => {
  for (const [text, want] of cases) if (want === undefined) assert.doesNotThrow(() => JSON.parse(text), text);
});
