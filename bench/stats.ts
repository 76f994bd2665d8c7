/**
 * Small statistics for the benchmarks: percentiles and summaries of latency
 * samples (milliseconds).
 *
 * Percentiles interpolate linearly between the two nearest ranks (the
 * "type 7" definition used by most spreadsheets and numpy's default): for n
 * sorted samples x[0..n-1], the p-th percentile sits at rank h = (n-1)·p/100
 * and is x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]). So p0 is the minimum, p100 the
 * maximum and p50 the usual median.
 */

export interface Summary {
  /** Number of samples. */
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

/** The p-th percentile (0 ≤ p ≤ 100) of samples already sorted ascending. Throws on an empty list. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0 to 100, got ${p}`);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = sorted[lo]!;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)]!;
  return a + (h - lo) * (b - a);
}

/** The p-th percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  return percentileSorted(sortNumbers(samples), p);
}

export function sortNumbers(samples: readonly number[]): number[] {
  // A typed array sorts numerically (Array#sort would compare as strings).
  return Array.from(Float64Array.from(samples).sort());
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('mean of no samples');
  let s = 0;
  for (const x of samples) s += x;
  return s / samples.length;
}

/** Summary of samples; an empty list gives n = 0 and zeros everywhere (callers check n). */
export function summarize(samples: readonly number[]): Summary {
  for (const x of samples) if (!Number.isFinite(x)) throw new RangeError(`sample is not a finite number: ${x}`);
  if (samples.length === 0) return { n: 0, mean: 0, p50: 0, p95: 0, p99: 0, min: 0, max: 0 };
  const s = sortNumbers(samples);
  return {
    n: s.length,
    mean: mean(s),
    p50: percentileSorted(s, 50),
    p95: percentileSorted(s, 95),
    p99: percentileSorted(s, 99),
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}

/** The median of a few numbers (e.g. repeated runs); empty → NaN. */
export function median(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : percentile(xs, 50);
}

/** Milliseconds since an origin taken with `now()`, with sub-microsecond resolution. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Rounds for display/JSON: 3 significant decimals below 10, 2 below 100, 1 above. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const d = a < 1 ? 3 : a < 10 ? 3 : a < 100 ? 2 : 1;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** A summary with every figure rounded (for JSON output). */
export function roundSummary(s: Summary): Summary {
  return { n: s.n, mean: round(s.mean), p50: round(s.p50), p95: round(s.p95), p99: round(s.p99), min: round(s.min), max: round(s.max) };
}
