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
  | { readonly kind: 'delete'; readonly userId: UserId; readonly movieId: MovieId; readonly timestamp: number }
  /**
   * Forced: sequenced by the primary, totally ordered with every other forced
   * or immediate update. `title` carries the year, MovieLens style:
   * "Title (1995)". The movie id is given when it is applied (the highest id
   * so far + 1): every replica applies forced updates in the same order, so
   * they all give the same id, and no two movies get the same one.
   */
  | { readonly kind: 'addMovie'; readonly title: string; readonly genres: readonly string[] }
  /**
   * Immediate: ordered with respect to every update. Removes every rating of
   * the user whose version is below its own, and keeps later-arriving ones
   * below it out (a user tombstone), so every replica ends with the same
   * ratings of that user whatever order it received them in.
   */
  | { readonly kind: 'forgetUser'; readonly userId: UserId };

/** The three orderings of lazy replication (Ladin et al. 1992). */
export type Ordering = 'causal' | 'forced' | 'immediate';

export function orderingOf(u: Update): Ordering {
  switch (u.kind) {
    case 'rate':
    case 'delete':
      return 'causal';
    case 'addMovie':
      return 'forced';
    case 'forgetUser':
      return 'immediate';
  }
}

/** What applying a forced or immediate update did (returned to the client). */
export type ApplyOutcome =
  | { readonly kind: 'addMovie'; readonly movieId: MovieId; readonly title: string; readonly existed: boolean }
  /** `removed` is unknown (absent) when the replica answering got the forget's effect in a snapshot instead of applying it. */
  | { readonly kind: 'forgetUser'; readonly userId: UserId; readonly removed?: number | undefined };

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
  | 'INTERNAL'
  /** A forced or immediate update reached a replica that is not the primary (the reply may name the primary). */
  | 'NOT_PRIMARY'
  /** No primary is elected (election in progress, or no majority of replicas reachable). */
  | 'NO_PRIMARY'
  | 'BAD_TITLE'
  | 'BAD_GENRE';

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
 * The MovieLens genre vocabulary in MovieLens spelling (the same names as
 * GENRES in src/data/schema.ts, which this module cannot import: it loads
 * sql.js), plus the marker MovieLens writes for a movie without genres.
 * Alphabetical, so sorting genres by their index here sorts them by name.
 */
export const NO_GENRES_LISTED = '(no genres listed)';
export const GENRES = [
  'Action',
  'Adventure',
  'Animation',
  'Children',
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'IMAX',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;
const GENRE_BY_LOWER = new Map<string, string>([...GENRES, NO_GENRES_LISTED].map((g) => [g.toLowerCase(), g]));

export const MAX_GENRES = 20;
export const TITLE_MAX = 200;
export const YEAR_MIN = 1870;
export const YEAR_MAX = 2100;
/** A canonical title: the name, one space, the year in parentheses. */
const TITLE_FORM = /^(.+) \((\d{4})\)$/su;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Trims a title and collapses every run of white space to one space. */
export function canonicalTitle(title: string): string {
  const t = title.trim();
  // Most titles are already canonical: the test is cheaper than the replace.
  return /\s\s|[^\S ]/.test(t) ? t.replace(/\s+/g, ' ') : t;
}

/**
 * What two titles are compared by when deciding whether a movie already
 * exists: case ignored (JavaScript's toLowerCase) and spaces collapsed.
 */
export function titleKey(title: string): string {
  return canonicalTitle(title).toLowerCase();
}

/** The MovieLens spelling of a genre name given in any case, or undefined. */
export function canonicalGenre(name: string): string | undefined {
  return GENRE_BY_LOWER.get(name.trim().toLowerCase());
}

/**
 * A genre list in canonical form: MovieLens spelling, sorted, without
 * duplicates; the no-genres marker only alone, and an empty list becomes
 * [NO_GENRES_LISTED]. Names outside the vocabulary (only reachable without
 * checkUpdateShape) are kept trimmed, after the known ones.
 */
export function canonicalGenres(genres: readonly string[]): string[] {
  const known = new Set<string>();
  const other = new Set<string>();
  for (const g of genres) {
    const c = canonicalGenre(g);
    if (c !== undefined) known.add(c);
    else other.add(g.trim());
  }
  const rank = (g: string) => (GENRES as readonly string[]).indexOf(g);
  const out = [...[...known].filter((g) => g !== NO_GENRES_LISTED).sort((a, b) => rank(a) - rank(b)), ...[...other].sort()];
  return out.length === 0 ? [NO_GENRES_LISTED] : out;
}

/**
 * An update in the form every replica stores: an addMovie's title trimmed
 * with spaces collapsed and its genres canonical (see canonicalGenres).
 * Other kinds are returned as they are. Idempotent; meant for an update that
 * passed checkUpdateShape, and never throws.
 */
export function canonicalUpdate(u: Update): Update {
  if (u.kind !== 'addMovie') return u;
  return { kind: 'addMovie', title: canonicalTitle(u.title), genres: canonicalGenres(u.genres) };
}

function checkTitle(title: unknown): void {
  const form = `write it as "Title (YYYY)", e.g. "Toy Story (1995)": a name of 1 to ${TITLE_MAX} characters, a space, and the year ${YEAR_MIN} to ${YEAR_MAX} in parentheses`;
  if (typeof title !== 'string') throw new OpError('BAD_TITLE', `the title must be text: ${form}`);
  if (CONTROL.test(title)) throw new OpError('BAD_TITLE', `the title contains a control character (such as a tab or a line break): ${form}`);
  const m = TITLE_FORM.exec(canonicalTitle(title));
  if (!m) throw new OpError('BAD_TITLE', `title ${JSON.stringify(title)} does not end with the year in parentheses: ${form}`);
  const name = m[1]!;
  const year = Number(m[2]);
  if (year < YEAR_MIN || year > YEAR_MAX) throw new OpError('BAD_TITLE', `year ${m[2]} is out of range: ${form}`);
  // Length in characters (code points), as a person counts them.
  if ([...name].length > TITLE_MAX) throw new OpError('BAD_TITLE', `the name before the year has ${[...name].length} characters: ${form}`);
}

function checkGenres(genres: unknown): void {
  const allowed = `use any of ${GENRES.join(', ')} or "${NO_GENRES_LISTED}" (case does not matter)`;
  if (!Array.isArray(genres)) throw new OpError('BAD_GENRE', `genres must be a list of names: ${allowed}`);
  if (genres.length > MAX_GENRES) throw new OpError('BAD_GENRE', `at most ${MAX_GENRES} genres can be given`);
  for (const g of genres as unknown[]) {
    if (typeof g !== 'string' || canonicalGenre(g) === undefined) {
      throw new OpError('BAD_GENRE', `${JSON.stringify(g)} is not a MovieLens genre: ${allowed}`);
    }
  }
}

function checkUser(userId: unknown): void {
  if (!isValidUserId(userId)) throw new OpError('BAD_USER', `invalid user id ${String(userId)}: use a whole number from 1 to ${MAX_USER_ID}`);
}

/**
 * Checks everything about an update that does not depend on the data
 * (ranges, half steps, title form, genre names). Throws OpError with a
 * precise reason.
 */
export function checkUpdateShape(u: Update): void {
  switch (u.kind) {
    case 'rate':
    case 'delete':
      checkUser(u.userId);
      if (!isValidMovieId(u.movieId)) throw new OpError('BAD_MOVIE', `invalid movie id ${String(u.movieId)}`);
      if (!Number.isSafeInteger(u.timestamp) || u.timestamp < 0) throw new OpError('BAD_REQUEST', 'the update timestamp must be whole Unix seconds');
      if (u.kind === 'rate' && !isValidRating(u.rating)) {
        throw new OpError('BAD_RATING', `rating ${String(u.rating)} is not allowed: use ${MIN_RATING} to ${MAX_RATING} in half steps (e.g. 3.5)`);
      }
      return;
    case 'addMovie':
      checkTitle(u.title);
      checkGenres(u.genres);
      return;
    case 'forgetUser':
      checkUser(u.userId);
      return;
    default:
      throw new OpError('BAD_REQUEST', `unknown update kind ${JSON.stringify((u as { kind?: unknown }).kind)}`);
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

/** A movie added since load (by a forced addMovie), as a snapshot carries it. */
export interface AddedMovieRow {
  readonly movieId: MovieId;
  readonly title: string;
  readonly genres: readonly string[];
  readonly order: number;
  readonly uid: UpdateId | '';
}

/** A user tombstone (forgetUser): ratings of the user with a lower version are gone for good. */
export interface ForgottenUserRow {
  readonly userId: UserId;
  readonly order: number;
  readonly uid: UpdateId | '';
}

/** Everything written since load: what a snapshot transfers besides the core's log. */
export interface Overlay {
  readonly ratings: readonly OverlayRow[];
  readonly movies: readonly AddedMovieRow[];
  readonly forgotten: readonly ForgottenUserRow[];
}

/** Rounds an average to 2 decimals for display and comparison. */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
