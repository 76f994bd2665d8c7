/**
 * A seeded pseudo-random generator with the sampling helpers a data generator
 * needs (ranges, weighted picks, Zipf-like popularity, normal noise).
 *
 * The core is xoshiro128** (Blackman & Vigna): 128 bits of state, period
 * 2^128 − 1, good statistical quality, and only 32-bit integer operations, so
 * a seed gives the same sequence on every platform. The state is filled from
 * the seed with splitmix32, so nearby seeds (1, 2, 3) give unrelated streams.
 *
 * Only `uint32()` touches the state; every helper is built on it, so the
 * number of draws a helper makes is part of its documented behaviour:
 * changing a helper changes every sequence that uses it. `normal()` uses
 * Math.log/sqrt/cos, which V8 computes with its own portable (fdlibm) code,
 * so results are the same on every machine running the same Node major.
 */

import { seedFrom } from '../core/rng.js';

/** Mixes a text into a 32-bit seed (FNV-1a), e.g. `new Rng(seedOf('users'))`. */
export const seedOf: (text: string) => number = seedFrom;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any number (its low 32 bits are used) or a text (hashed with `seedOf`). */
  constructor(seed: number | string) {
    let s = (typeof seed === 'string' ? seedOf(seed) : seed) >>> 0;
    // splitmix32 to spread the seed over the four words.
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** An independent generator derived from this one's next draw and a label (e.g. one per user). */
  fork(label: string | number = ''): Rng {
    return new Rng((this.uint32() ^ seedOf(String(label))) >>> 0);
  }

  /** Uniform 32-bit unsigned integer. One draw. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), 32 bits of precision. One draw. */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [lo, hi], both inclusive. One draw. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) throw new RangeError(`bad integer range [${lo}, ${hi}]`);
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Uniform real in [lo, hi). One draw. */
  range(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  /** True with probability p. One draw. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element; throws on an empty list. One draw. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /**
   * An element chosen with probability proportional to its weight (weights
   * ≥ 0, not all 0). Linear in the list length; for many draws from the same
   * weights use `weightedSampler`. One draw.
   */
  weightedPick<T>(items: readonly T[], weights: readonly number[]): T {
    if (items.length === 0 || items.length !== weights.length) throw new RangeError('weightedPick needs as many weights as items');
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new RangeError('weightedPick needs a positive total weight');
    let x = this.float() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i] as number;
      if (x < 0) return items[i] as T;
    }
    return items[items.length - 1] as T; // rounding left x ≥ 0 after the last weight
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. length − 1 draws. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  /** Normal (Gaussian) with the given mean and standard deviation (Box–Muller). Two draws. */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.float(); // (0, 1]: log(0) is avoided
    const v = this.float();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal: exp(normal(mu, sigma)); heavy-tailed positive sizes. Two draws. */
  logNormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  /** Zipf-like rank in 1..n: P(k) ∝ 1 / k^s. Builds a table each call; for many draws use `zipfSampler`. */
  zipf(n: number, s: number): number {
    return zipfSampler(n, s)(this);
  }
}

/**
 * Draws indices 0..weights.length−1 with probability proportional to the
 * weights, by binary search on the cumulative sums: O(n) to build, O(log n)
 * per draw, one draw of the generator per sample.
 */
export function weightedSampler(weights: readonly number[]): (rng: Rng) => number {
  const cum = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} is ${w}: weights must be finite and ≥ 0`);
    total += w;
    cum[i] = total;
  }
  if (!(total > 0)) throw new RangeError('weightedSampler needs a positive total weight');
  return (rng) => {
    const x = rng.float() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/** Draws ranks 1..n with P(k) ∝ 1 / k^s (s = 1 is classic Zipf; smaller s is flatter). */
export function zipfSampler(n: number, s: number): (rng: Rng) => number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`zipf needs n ≥ 1, got ${n}`);
  const weights = Array.from({ length: n }, (_, i) => 1 / Math.pow(i + 1, s));
  const sample = weightedSampler(weights);
  return (rng) => sample(rng) + 1;
}
