/**
 * Percentiles and summaries used by every benchmark figure.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { median, percentile, percentileSorted, round, sortNumbers, summarize } from '../../bench/stats.js';

const test = suite('bench stats');

test('p0 is the minimum, p100 the maximum, p50 the median', () => {
  const xs = [5, 1, 4, 2, 3];
  assert.is(percentile(xs, 0), 1);
  assert.is(percentile(xs, 100), 5);
  assert.is(percentile(xs, 50), 3);
});

test('percentiles interpolate linearly between the nearest ranks', () => {
  assert.is(percentile([1, 2, 3, 4], 50), 2.5);
  // rank (n-1)·p = 3·0.9 = 2.7 → 3 + 0.7·(4-3)
  assert.ok(Math.abs(percentile([1, 2, 3, 4], 90) - 3.7) < 1e-12);
  // 101 samples 0..100: the p-th percentile is p itself
  const hundred = Array.from({ length: 101 }, (_, i) => 100 - i);
  for (const p of [1, 5, 50, 95, 99]) assert.ok(Math.abs(percentile(hundred, p) - p) < 1e-9, `p${p}`);
});

test('a single sample is every percentile', () => {
  for (const p of [0, 1, 50, 99, 100]) assert.is(percentileSorted([7], p), 7);
});

test('numbers sort numerically, not as text', () => {
  assert.equal(sortNumbers([10, 9, 100, 1.5]), [1.5, 9, 10, 100]);
  assert.is(percentile([10, 9, 100], 0), 9);
});

test('no samples or a percentile outside 0..100 is refused', () => {
  assert.throws(() => percentile([], 50), /no samples/);
  assert.throws(() => percentile([1], 101), /0 to 100/);
  assert.throws(() => percentile([1], -1), /0 to 100/);
  assert.throws(() => percentile([1], NaN), /0 to 100/);
});

test('summary holds count, mean and the usual percentiles; ordered p50 ≤ p95 ≤ p99 ≤ max', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  const s = summarize(xs);
  assert.is(s.n, 1000);
  assert.is(s.mean, 499.5);
  assert.is(s.min, 0);
  assert.is(s.max, 999);
  assert.ok(Math.abs(s.p50 - 499.5) < 1e-9);
  assert.ok(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max);
  assert.ok(Math.abs(s.p99 - 989.01) < 1e-9);
});

test('an empty summary has n = 0 and finite zeros; non-finite samples are refused', () => {
  const s = summarize([]);
  assert.is(s.n, 0);
  for (const v of Object.values(s)) assert.ok(Number.isFinite(v));
  assert.throws(() => summarize([1, NaN]), /finite/);
  assert.throws(() => summarize([Infinity]), /finite/);
});

test('median of repeated runs; round keeps a few significant decimals', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.ok(Number.isNaN(median([])));
  assert.is(round(0.123456), 0.123);
  assert.is(round(12.3456), 12.35);
  assert.is(round(1234.56), 1234.6);
});

test.run();
