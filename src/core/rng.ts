/**
 * A small seeded pseudo-random generator (mulberry32). Deterministic across
 * platforms; its whole state is one 32-bit number, so it can live inside a
 * pure state machine's state and be copied with it — which is what the
 * replica and front-end cores and the simulator need. The data generator
 * uses src/data/rng.ts instead (xoshiro128**, with sampling helpers), whose
 * exact sequence the committed data file depends on.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element; throws on an empty list. */
  pick<T>(items: readonly T[]): T;
  /** A new array with the items shuffled (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** The current state, to resume later with `rngFromState`. */
  state(): number;
}

export function rngFromState(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j] as (typeof out)[number], out[i] as (typeof out)[number]];
      }
      return out;
    },
    state: () => s,
  };
  return rng;
}

/** Mixes a text into a 32-bit seed (FNV-1a), e.g. to derive per-replica seeds from one run seed. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
