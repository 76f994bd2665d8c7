/**
 * The service's operations: what a client can ask and change.
 *
 * Queries read the replica's value; updates change it. Every field an update
 * writes (including the rating's timestamp) is fixed by the front end when the
 * update is issued, so every replica that applies it stores identical rows.
 */
import { MAX_MOVIE_ID, MAX_USER_ID, type MovieId, type UpdateId, type UserId } from './ids.js';

export type Query =
  | { readonly kind: 'avg'; readonly movieId: MovieId }
  | { readonly kind: 'get'; readonly userId: UserId; readonly movieId: MovieId }
  | { readonly kind: 'mine'; readonly userId: UserId }
  | { readonly kind: 'search'; readonly words: string; readonly genre?: string | undefined; readonly limit?: number | undefined }
  | { readonly kind: 'movie'; readonly movieId: MovieId };

export type Update =
  | {
      readonly kind: 'rate';
      readonly userId: UserId;
      readonly movieId: MovieId;
      /** 0.5 to 5.0 in half steps. */
      readonly rating: number;
      /** Unix seconds, fixed when the update is issued. */
      readonly timestamp: number;
    }
  | { readonly kind: 'delete'; readonly userId: UserId; readonly movieId: MovieId; readonly timestamp: number };

export type QueryKind = Query['kind'];
export type UpdateKind = Update['kind'];

export interface MovieSummary {
  readonly movieId: MovieId;
  readonly title: string;
  readonly genres: readonly string[];
}

export interface RatingOfUser {
  readonly movieId: MovieId;
  readonly title: string;
  readonly rating: number;
  readonly timestamp: number;
}

export type QueryResult =
  | { readonly kind: 'avg'; readonly movieId: MovieId; readonly title: string; readonly average: number | null; readonly count: number }
  | { readonly kind: 'get'; readonly userId: UserId; readonly movieId: MovieId; readonly title: string; readonly rating: number | null; readonly timestamp: number | null }
  | { readonly kind: 'mine'; readonly userId: UserId; readonly ratings: readonly RatingOfUser[] }
  | { readonly kind: 'search'; readonly movies: readonly MovieSummary[]; readonly total: number }
  | {
      readonly kind: 'movie';
      readonly movieId: MovieId;
      readonly title: string;
      readonly genres: readonly string[];
      readonly average: number | null;
      readonly count: number;
    };

/** Error codes a request can fail with; stable strings, shown to users and scripts. */
export type OpErrorCode =
  | 'UNKNOWN_MOVIE'
  | 'BAD_RATING'
  | 'BAD_USER'
  | 'BAD_MOVIE'
  | 'BAD_REQUEST'
  | 'NOT_YET_AVAILABLE'
  | 'EXPIRED'
  | 'UNAVAILABLE'
  | 'OFFLINE'
  | 'TIMEOUT'
  | 'UNAUTHORIZED'
  | 'NAME_TAKEN'
  | 'TOO_LARGE'
  | 'INTERNAL';

/** An expected, explainable failure (as opposed to a broken invariant, which throws Error). */
export class OpError extends Error {
  override name = 'OpError';
  constructor(
    readonly code: OpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const MIN_RATING = 0.5;
export const MAX_RATING = 5;
export const SEARCH_LIMIT_DEFAULT = 20;
export const SEARCH_LIMIT_MAX = 200;

export function isValidUserId(n: unknown): n is UserId {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 && n <= MAX_USER_ID;
}

export function isValidMovieId(n: unknown): n is MovieId {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 && n <= MAX_MOVIE_ID;
}

export function isValidRating(r: unknown): r is number {
  return typeof r === 'number' && Number.isFinite(r) && r >= MIN_RATING && r <= MAX_RATING && Number.isInteger(r * 2);
}

/**
 * Checks everything about an update that does not depend on the data
 * (ranges, half steps). Throws OpError with a precise reason.
 */
export function checkUpdateShape(u: Update): void {
  if (!isValidUserId(u.userId)) throw new OpError('BAD_USER', `invalid user id ${String(u.userId)}: use a whole number from 1 to ${MAX_USER_ID}`);
  if (!isValidMovieId(u.movieId)) throw new OpError('BAD_MOVIE', `invalid movie id ${String(u.movieId)}`);
  if (!Number.isSafeInteger(u.timestamp) || u.timestamp < 0) throw new OpError('BAD_REQUEST', 'the update timestamp must be whole Unix seconds');
  if (u.kind === 'rate' && !isValidRating(u.rating)) {
    throw new OpError('BAD_RATING', `rating ${String(u.rating)} is not allowed: use ${MIN_RATING} to ${MAX_RATING} in half steps (e.g. 3.5)`);
  }
}

/** Checks a query's arguments. Throws OpError. */
export function checkQueryShape(q: Query): void {
  switch (q.kind) {
    case 'avg':
    case 'movie':
      if (!isValidMovieId(q.movieId)) throw new OpError('BAD_MOVIE', `invalid movie id ${String(q.movieId)}`);
      return;
    case 'get':
      if (!isValidUserId(q.userId)) throw new OpError('BAD_USER', `invalid user id ${String(q.userId)}`);
      if (!isValidMovieId(q.movieId)) throw new OpError('BAD_MOVIE', `invalid movie id ${String(q.movieId)}`);
      return;
    case 'mine':
      if (!isValidUserId(q.userId)) throw new OpError('BAD_USER', `invalid user id ${String(q.userId)}`);
      return;
    case 'search':
      if (typeof q.words !== 'string' || q.words.length > 200) throw new OpError('BAD_REQUEST', 'search words must be text of at most 200 characters');
      if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > SEARCH_LIMIT_MAX)) {
        throw new OpError('BAD_REQUEST', `search limit must be 1 to ${SEARCH_LIMIT_MAX}`);
      }
      return;
  }
}

/**
 * The version that decides between concurrent writes of the same
 * (user, movie): last writer wins on the total order (order, uid).
 *
 * `order` is the sum of the entries of the update's `prev`. Both copies of an
 * update (the front end logs it at two replicas) carry the same prev, so they
 * carry the same version, whatever timestamps the two replicas gave them.
 * It extends causality: if update v causally follows u then v.prev ≥ some
 * copy of u's ts, and every copy's ts exceeds u.prev in one entry, so
 * sum(v.prev) > sum(u.prev). Rows loaded from the data file have order -1 and
 * so lose to any update.
 */
export interface Version {
  readonly order: number;
  readonly uid: string;
}

export const BASE_VERSION: Version = Object.freeze({ order: -1, uid: '' });

export function compareVersions(a: Version, b: Version): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

/** One row of the part of the ratings table written since load (tombstones included). */
export interface OverlayRow {
  readonly userId: UserId;
  readonly movieId: MovieId;
  /** null marks a deleted rating (a tombstone), which keeps its version so older writes cannot resurrect it. */
  readonly rating: number | null;
  readonly timestamp: number;
  readonly order: number;
  readonly uid: UpdateId | '';
}

/** Rounds an average to 2 decimals for display and comparison. */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
