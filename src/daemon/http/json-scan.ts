// A JSON syntax check fed chunk by chunk, in the words of Go's encoding/json
// ("invalid character 'a' looking for beginning of value"), which is what
// dockerd answers a malformed body with. It keeps a stack of open containers
// and a few bytes of state, never the text: so a body too large to buffer can
// still be read as it arrives and refused at its first wrong byte, as
// dockerd's streaming decoder does, instead of by its size alone.

import type { Readable } from 'node:stream';

type Ctx = 'object-key' | 'object-colon' | 'object-value' | 'object-next' | 'array-value' | 'array-next';

type Lit = { word: string; at: number };

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Go's quoteChar: the byte as it appears in encoding/json's messages. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  const s = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  if (c >= 0x80) return `'\\x${c.toString(16)}'`;
  return `'${s.replace(/\\u00([0-9a-f]{2})/, '\\x$1')}'`;
}

export class JsonScanner {
  private readonly stack: Ctx[] = [];
  /** Where the scanner is inside a scalar, if it is. */
  private mode: 'none' | 'string' | 'escape' | 'unicode' | 'number' | 'literal' | 'done' = 'none';
  private unicodeLeft = 0;
  private numState: 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp' = 'int';
  private lit: Lit = { word: '', at: 0 };
  private error: string | undefined;
  private started = false;

  /** The first syntax error in what was fed so far, or undefined. */
  feed(chunk: Uint8Array): string | undefined {
    for (let i = 0; i < chunk.length && !this.error; i++) this.step(chunk[i]!);
    return this.error;
  }

  /** At the end of the input: the error, or "unexpected EOF" (Go's decoder) for an unfinished value. */
  end(): string | undefined {
    if (this.error) return this.error;
    if (this.mode === 'number' && !this.stack.length && this.numberCanEnd()) return undefined;
    if (!this.started) return 'EOF';
    return this.mode === 'done' ? undefined : 'unexpected EOF';
  }

  private fail(c: number, what: string): void {
    this.error = `invalid character ${quoteChar(c)} ${what}`;
  }

  private numberCanEnd(): boolean {
    return this.numState === 'zero' || this.numState === 'int' || this.numState === 'frac' || this.numState === 'exp';
  }

  /** A value ended: what may come next is its container's separator (or nothing at the top). */
  private valueDone(): void {
    const top = this.stack.length - 1;
    if (top < 0) this.mode = 'done';
    else {
      this.mode = 'none';
      this.stack[top] = this.stack[top] === 'array-value' ? 'array-next' : 'object-next';
    }
  }

  private beginValue(c: number): void {
    this.started = true;
    if (c === 0x7b) {
      this.stack.push('object-key');
      this.mode = 'none';
    } else if (c === 0x5b) {
      this.stack.push('array-value');
      this.mode = 'none';
      this.emptyArray = true;
    } else if (c === 0x22) this.mode = 'string';
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.mode = 'number';
      this.numState = c === 0x2d ? 'sign' : c === 0x30 ? 'zero' : 'int';
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      this.mode = 'literal';
      this.lit = { word: c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null', at: 1 };
    } else this.fail(c, 'looking for beginning of value');
  }

  /** `[` just opened: `]` may close it at once. */
  private emptyArray = false;

  private step(c: number): void {
    switch (this.mode) {
      case 'string':
        if (c === 0x22) {
          const top = this.stack.length - 1;
          if (top >= 0 && this.stack[top] === 'object-key') {
            this.stack[top] = 'object-colon';
            this.mode = 'none';
          } else this.valueDone();
        } else if (c === 0x5c) this.mode = 'escape';
        else if (c < 0x20) this.fail(c, 'in string literal');
        return;
      case 'escape':
        if (c === 0x75) {
          this.mode = 'unicode';
          this.unicodeLeft = 4;
        } else if ('"\\/bfnrt'.includes(String.fromCharCode(c))) this.mode = 'string';
        else this.fail(c, 'in string escape code');
        return;
      case 'unicode':
        if (!/[0-9a-fA-F]/.test(String.fromCharCode(c))) this.fail(c, 'in \\u hexadecimal character escape');
        else if (--this.unicodeLeft === 0) this.mode = 'string';
        return;
      case 'literal':
        if (c !== this.lit.word.charCodeAt(this.lit.at))
          this.fail(c, `in literal ${this.lit.word} (expecting ${quoteChar(this.lit.word.charCodeAt(this.lit.at))})`);
        else if (++this.lit.at === this.lit.word.length) this.valueDone();
        return;
      case 'number':
        if (this.number(c)) return;
        this.valueDone();
        break; // the byte after the number is read as what follows a value
      case 'done':
        if (!WS.has(c)) this.fail(c, 'after top-level value');
        return;
      default:
        break;
    }
    if (this.error || WS.has(c)) return;
    const top = this.stack.length - 1;
    if (top < 0) {
      this.beginValue(c);
      return;
    }
    switch (this.stack[top]) {
      case 'object-key':
        if (c === 0x22) {
          this.afterComma = false;
          this.mode = 'string';
        } else if (c === 0x7d && this.emptyObject()) {
          this.stack.pop();
          this.valueDone();
        } else this.fail(c, 'looking for beginning of object key string');
        return;
      case 'object-colon':
        if (c === 0x3a) this.stack[top] = 'object-value';
        else this.fail(c, 'after object key');
        return;
      case 'object-value':
        this.beginValue(c);
        return;
      case 'object-next':
        if (c === 0x2c) {
          this.stack[top] = 'object-key';
          this.afterComma = true;
        } else if (c === 0x7d) {
          this.stack.pop();
          this.valueDone();
        } else this.fail(c, 'after object key:value pair');
        return;
      case 'array-value':
        if (c === 0x5d && this.emptyArray) {
          this.emptyArray = false;
          this.stack.pop();
          this.valueDone();
          return;
        }
        this.emptyArray = false;
        this.beginValue(c);
        return;
      case 'array-next':
        if (c === 0x2c) this.stack[top] = 'array-value';
        else if (c === 0x5d) {
          this.stack.pop();
          this.valueDone();
        } else this.fail(c, 'after array element');
        return;
    }
  }

  /** A key was expected after `{` (where `}` closes it) or after `,` (where it may not). */
  private afterComma = false;
  private emptyObject(): boolean {
    const ok = !this.afterComma;
    this.afterComma = false;
    return ok;
  }

  /** One byte of a number: true when it belongs to it. */
  private number(c: number): boolean {
    const digit = c >= 0x30 && c <= 0x39;
    switch (this.numState) {
      case 'sign':
        if (!digit) this.fail(c, 'in numeric literal');
        else this.numState = c === 0x30 ? 'zero' : 'int';
        return true;
      case 'zero':
      case 'int':
        if (digit && this.numState === 'int') return true;
        if (c === 0x2e) this.numState = 'dot';
        else if (c === 0x65 || c === 0x45) this.numState = 'e';
        else return false;
        return true;
      case 'dot':
        if (!digit) this.fail(c, 'after decimal point in numeric literal');
        else this.numState = 'frac';
        return true;
      case 'frac':
        if (digit) return true;
        if (c === 0x65 || c === 0x45) {
          this.numState = 'e';
          return true;
        }
        return false;
      case 'e':
        if (c === 0x2b || c === 0x2d) this.numState = 'esign';
        else if (digit) this.numState = 'exp';
        else this.fail(c, 'in exponent of numeric literal');
        return true;
      case 'esign':
        if (!digit) this.fail(c, 'in exponent of numeric literal');
        else this.numState = 'exp';
        return true;
      case 'exp':
        return digit;
    }
  }
}

/** Go's words for the first syntax error of a whole text, or undefined when it is valid JSON. */
export function syntaxError(text: string): string | undefined {
  const sc = new JsonScanner();
  return sc.feed(Buffer.from(text, 'utf8')) ?? sc.end();
}

/**
 * A body over the size bound, read as it arrives without being kept: its
 * first syntax error (dockerd's 400, answered at once), or undefined when it
 * is still valid JSON at the bound (refused by its size). Everything after is
 * read and dropped, never buffered nor cut, so the client, still writing,
 * gets the answer instead of a reset connection.
 */
export function scanOversized(body: Readable, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sc = new JsonScanner();
    let n = 0;
    let settled = false;
    const settle = (v: string | undefined) => {
      if (!settled) resolve(v);
      settled = true;
    };
    body.on('data', (c: Buffer) => {
      if (settled) return;
      const err = sc.feed(c);
      n += c.length;
      if (err || n > limit) settle(err);
    });
    body.on('end', () => settle(sc.end()));
    body.on('error', () => settle(undefined));
  });
}
