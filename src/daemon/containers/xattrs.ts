// Extended attributes of a mounted tree, read with getfattr (Node.js and Bun
// have no xattr calls): the file capabilities docker diff compares, and the
// quoting of the names getfattr prints.

import { execFile } from 'node:child_process';

/**
 * Path (from the root, "/x/y") → hex of its security.capability, for every
 * file of the tree that has one: moby compares it too, and a write drops it
 * without changing anything else a stat shows. One getfattr for the tree.
 */
export async function capabilitiesUnder(root: string): Promise<Map<string, string>> {
  const args = ['-R', '-h', '-P', '--absolute-names', '-d', '-m', '^security\\.capability$', '-e', 'hex', root];
  // getfattr exits 1 when some file cannot be read (a socket...): what it printed still holds.
  const text = await new Promise<string>((res) =>
    execFile('getfattr', args, { maxBuffer: 256 * 1024 * 1024 }, (_e, stdout) => res(stdout ?? '')),
  );
  const caps = new Map<string, string>();
  let file: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) file = unescapeGetfattr(line.slice('# file: '.length));
    else if (file && line.startsWith('security.capability=')) {
      const rel = file === root ? '/' : file.slice(root.length);
      caps.set(rel, line.slice('security.capability='.length));
    }
  }
  return caps;
}

/** getfattr's quoting: backslash-octal for bytes outside the printable set, "\\" for a backslash. */
export function unescapeGetfattr(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else bytes.push(...Buffer.from(s[i]!));
  }
  return Buffer.from(bytes).toString('utf8');
}
