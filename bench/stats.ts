// Shared by the benchmarks: the q-quantile of sorted samples, interpolated
// between the two nearest ranks (NaN for none), and the median of unsorted ones.

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(xs: number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** A runner's wall times (ms) in order of measure, and its CPU time over all of them. */
export interface Summary {
  name: string;
  n: number;
  median: number;
  p90: number;
  min: number;
  mean: number;
  /** CPU ms per run (NaN when not measured). */
  cpu: number;
  times: number[];
}

export function summarize(name: string, ms: number[], cpuTotal = NaN): Summary {
  const s = [...ms].sort((a, b) => a - b);
  return {
    name,
    n: s.length,
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    min: s[0] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    cpu: cpuTotal / s.length,
    times: ms,
  };
}
