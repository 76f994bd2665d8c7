/**
 * What the benchmarks ask: movie ids, search words and (user, movie) pairs
 * drawn from the data file, and the per-client model used to check answers.
 */
import type { MovieId, UserId } from '../src/core/ids.js';
import type { Query } from '../src/core/ops.js';
import { loadSeedData } from '../src/replica/store/sqlite-store.js';
import { rngFromState } from '../src/core/rng.js';

export interface Workload {
  /** Movies that exist in the data file. */
  readonly movies: readonly number[];
  /** Words that occur in titles (lower case, ≥ 3 letters). */
  readonly words: readonly string[];
  readonly genres: readonly string[];
  /** Users of the data file (ids with ratings). */
  readonly users: readonly number[];
  /** Existing (user, movie) ratings. */
  readonly pairs: readonly (readonly [number, number])[];
  readonly ratings: number;
}

export async function loadWorkload(dataFile: string, seed = 7): Promise<Workload> {
  const { movies, ratings } = await loadSeedData(dataFile);
  const rng = rngFromState(seed);
  const rnd = () => rng.next();
  const words = new Set<string>();
  const genres = new Set<string>();
  for (const m of movies) {
    for (const w of m.title.toLowerCase().split(/[^a-z]+/)) if (w.length >= 3 && !/^(the|and)$/.test(w)) words.add(w);
    for (const g of m.genres) genres.add(g);
  }
  const users = [...new Set(ratings.map((r) => r.userId as number))];
  const pairs: [number, number][] = [];
  for (let i = 0; i < 2000 && ratings.length > 0; i++) {
    const r = ratings[Math.floor(rnd() * ratings.length)]!;
    pairs.push([r.userId, r.movieId]);
  }
  return {
    movies: movies.map((m) => m.movieId as number),
    words: [...words].sort(),
    genres: [...genres].sort(),
    users,
    pairs,
    ratings: ratings.length,
  };
}

/** The client functions measured, in report order. */
export const FUNCTIONS = ['search', 'movie', 'avg', 'get', 'mine', 'rate', 'delete'] as const;
export type Fn = (typeof FUNCTIONS)[number];
export const QUERY_FUNCTIONS: readonly Fn[] = ['search', 'movie', 'avg', 'get', 'mine'];
export const UPDATE_FUNCTIONS: readonly Fn[] = ['rate', 'delete'];

export function pick<T>(rnd: () => number, xs: readonly T[]): T {
  if (xs.length === 0) throw new Error('pick from an empty list');
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** A seeded uniform [0, 1) source. */
export function random(seed: number): () => number {
  const rng = rngFromState(seed);
  return () => rng.next();
}

/** A random query of one kind against the data file (not the client's own rows). */
export function randomQuery(rnd: () => number, w: Workload, kind: 'search' | 'movie' | 'avg' | 'get' | 'mine'): Query {
  switch (kind) {
    case 'search':
      return rnd() < 0.25
        ? { kind: 'search', words: pick(rnd, w.words), genre: pick(rnd, w.genres) }
        : { kind: 'search', words: pick(rnd, w.words) };
    case 'movie':
      return { kind: 'movie', movieId: pick(rnd, w.movies) as MovieId };
    case 'avg':
      return { kind: 'avg', movieId: pick(rnd, w.movies) as MovieId };
    case 'get': {
      const [u, m] = pick(rnd, w.pairs);
      return { kind: 'get', userId: u as UserId, movieId: m as MovieId };
    }
    case 'mine':
      return { kind: 'mine', userId: pick(rnd, w.users) as UserId };
  }
}

/**
 * A benchmark client's own user ids start here: far above the data file's
 * users, so every rating such a user has is one this client wrote, and
 * `mine` / `get` must answer exactly the client's last writes.
 */
export const BENCH_USER_BASE = 1_000_000;

/** Half-star ratings 0.5 … 5.0. */
export function randomRating(rnd: () => number): number {
  return (1 + Math.floor(rnd() * 10)) / 2;
}
