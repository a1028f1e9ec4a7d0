// Docker's progress bar text ("[=====>     ] 1.2MB/3.4MB"), which the docker
// CLI prints as it is when the output is not a terminal.

export function bar(current: number, total: number): string {
  const width = 50;
  const n = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const fmt = (b: number) =>
    b >= 1e6 ? `${(b / 1e6).toFixed(3)}MB` : b >= 1e3 ? `${(b / 1e3).toFixed(0)}kB` : `${b}B`;
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? '>' : ''}${' '.repeat(width - n)}] ${fmt(current)}/${fmt(total)}`;
}
