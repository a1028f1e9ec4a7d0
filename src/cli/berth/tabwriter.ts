// Go's text/tabwriter as docker's tables use it (minwidth 10, tabwidth 1,
// padding 3, padchar ' ', no flags): tab-terminated cells are aligned in
// column blocks of consecutive lines; the text after a line's last tab is not
// part of any column. Widths count runes, as Go does.

interface Cell {
  text: string;
  width: number;
}

export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines: Cell[][] = text
    .split('\n')
    .map((l) => l.split(/[\t\v]/).map((t) => ({ text: t, width: [...t].length })));
  const endsWithNewline = text.endsWith('\n');
  if (endsWithNewline) lines.pop();
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      let s = '';
      lines[i]!.forEach((c, j) => {
        s += c.text;
        if (j < widths.length) s += ' '.repeat(Math.max(0, widths[j]! - c.width));
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let th = line0; th < line1; th++) {
      if (column >= lines[th]!.length - 1) continue;
      writeLines(line0, th);
      line0 = th;
      let width = minwidth;
      for (; th < line1; th++) {
        const line = lines[th]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + padding);
      }
      widths.push(width);
      format(line0, th);
      widths.pop();
      line0 = th;
      th--;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}
