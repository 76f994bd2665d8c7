/**
 * A MovieStore held in plain maps: used by the simulator and unit tests, and
 * as the naive reference the sql.js store is checked against. Every operation
 * here is the obvious scan; the sql.js store must give the same answers.
 */
import { createHash } from 'node:crypto';
import { digestSortedRows } from '../../core/digest.js';
import type { MovieId, UpdateId, UserId } from '../../core/ids.js';
import {
  BASE_VERSION,
  canonicalUpdate,
  compareVersions,
  NO_GENRES_LISTED,
  OpError,
  round2,
  SEARCH_LIMIT_DEFAULT,
  titleKey,
  type AddedMovieRow,
  type ApplyOutcome,
  type ForgottenUserRow,
  type MovieSummary,
  type Overlay,
  type OverlayRow,
  type Query,
  type QueryResult,
  type Update,
  type Version,
} from '../../core/ops.js';
import type { MovieStore } from '../../core/store.js';

export interface SeedMovie {
  readonly movieId: number;
  readonly title: string;
  readonly genres: readonly string[];
}
export interface SeedRating {
  readonly userId: number;
  readonly movieId: number;
  readonly rating: number;
  readonly timestamp: number;
}

interface Row {
  rating: number | null;
  timestamp: number;
  version: Version;
  overlay: boolean;
}

const key = (u: number, m: number) => `${u}:${m}`;

/** Genres as queries show them: the no-genres marker is the empty list. */
export function shownGenres(genres: readonly string[]): string[] {
  return genres.filter((g) => g !== NO_GENRES_LISTED && g !== '');
}

/**
 * The store digest: exactly `digestSortedRows(live ratings)` while no movie
 * was added and no user forgotten (so digests of untouched stores stay what
 * they always were), otherwise that digest folded with one line per added
 * movie (by id) and per user tombstone (by user). Both stores call this.
 */
export function storeDigest(ratingsDigest: string, movies: readonly AddedMovieRow[], forgotten: readonly ForgottenUserRow[]): string {
  if (movies.length === 0 && forgotten.length === 0) return ratingsDigest;
  const h = createHash('sha256');
  h.update(`ratings ${ratingsDigest}\n`);
  for (const m of movies) h.update(`movie ${m.movieId} ${JSON.stringify(m.title)} ${JSON.stringify(shownGenres(m.genres))}\n`);
  for (const f of forgotten) h.update(`forgotten ${f.userId} ${f.order} ${JSON.stringify(f.uid)}\n`);
  return h.digest('hex').slice(0, 16);
}

export class MemoryStore implements MovieStore {
  private readonly movies = new Map<number, SeedMovie>();
  /** (user:movie) → row; tombstones have rating null. */
  private readonly rows = new Map<string, Row & { userId: number; movieId: number }>();
  /** Movies added since load, with the version of the addMovie that added them. */
  private readonly added = new Map<number, Version>();
  /** User tombstones: the highest forgetUser version per user. */
  private readonly forgotten = new Map<number, Version>();

  constructor(movies: readonly SeedMovie[], ratings: readonly SeedRating[]) {
    for (const m of movies) this.movies.set(m.movieId, m);
    for (const r of ratings) {
      this.rows.set(key(r.userId, r.movieId), { ...r, version: BASE_VERSION, overlay: false });
    }
  }

  hasMovie(id: MovieId): boolean {
    return this.movies.has(id);
  }

  private movieOrThrow(id: MovieId): SeedMovie {
    const m = this.movies.get(id);
    if (!m) throw new OpError('UNKNOWN_MOVIE', `there is no movie with id ${id}`);
    return m;
  }

  private stats(movieId: number): { average: number | null; count: number } {
    let sum = 0;
    let count = 0;
    for (const r of this.rows.values()) {
      if (r.movieId === movieId && r.rating !== null) {
        sum += r.rating;
        count++;
      }
    }
    return { average: count === 0 ? null : round2(sum / count), count };
  }

  query(q: Query): QueryResult {
    switch (q.kind) {
      case 'avg': {
        const m = this.movieOrThrow(q.movieId);
        return { kind: 'avg', movieId: q.movieId, title: m.title, ...this.stats(q.movieId) };
      }
      case 'movie': {
        const m = this.movieOrThrow(q.movieId);
        return { kind: 'movie', movieId: q.movieId, title: m.title, genres: m.genres, ...this.stats(q.movieId) };
      }
      case 'get': {
        const m = this.movieOrThrow(q.movieId);
        const r = this.rows.get(key(q.userId, q.movieId));
        const live = r && r.rating !== null ? r : undefined;
        return {
          kind: 'get',
          userId: q.userId,
          movieId: q.movieId,
          title: m.title,
          rating: live ? live.rating : null,
          timestamp: live ? live.timestamp : null,
        };
      }
      case 'mine': {
        const ratings = [...this.rows.values()]
          .filter((r) => r.userId === q.userId && r.rating !== null && this.movies.has(r.movieId))
          .sort((a, b) => a.movieId - b.movieId)
          .map((r) => ({
            movieId: r.movieId as MovieId,
            title: this.movies.get(r.movieId)!.title,
            rating: r.rating as number,
            timestamp: r.timestamp,
          }));
        return { kind: 'mine', userId: q.userId, ratings };
      }
      case 'search': {
        const words = q.words.toLowerCase().split(/\s+/).filter(Boolean);
        const genre = q.genre?.toLowerCase();
        const hits: MovieSummary[] = [];
        for (const m of [...this.movies.values()].sort((a, b) => a.movieId - b.movieId)) {
          const t = m.title.toLowerCase();
          if (!words.every((w) => t.includes(w))) continue;
          if (genre && !m.genres.some((g) => g.toLowerCase() === genre)) continue;
          hits.push({ movieId: m.movieId as MovieId, title: m.title, genres: m.genres });
        }
        return { kind: 'search', movies: hits.slice(0, q.limit ?? SEARCH_LIMIT_DEFAULT), total: hits.length };
      }
    }
  }

  apply(u: Update, version: Version): ApplyOutcome | undefined {
    switch (u.kind) {
      case 'rate':
      case 'delete':
        if (this.movies.has(u.movieId)) this.write(u.userId, u.movieId, u.kind === 'rate' ? u.rating : null, u.timestamp, version);
        return undefined;
      case 'addMovie': {
        const c = canonicalUpdate(u) as Extract<Update, { kind: 'addMovie' }>;
        const k = titleKey(c.title);
        const same = [...this.movies.values()].filter((m) => titleKey(m.title) === k).sort((a, b) => a.movieId - b.movieId)[0];
        if (same) return { kind: 'addMovie', movieId: same.movieId as MovieId, title: same.title, existed: true };
        const id = Math.max(0, ...this.movies.keys()) + 1;
        this.addMovie(id, c.title, c.genres, version);
        return { kind: 'addMovie', movieId: id as MovieId, title: c.title, existed: false };
      }
      case 'forgetUser':
        return { kind: 'forgetUser', userId: u.userId, removed: this.forget(u.userId, version) };
    }
  }

  private addMovie(movieId: number, title: string, genres: readonly string[], version: Version): void {
    this.movies.set(movieId, { movieId, title, genres: shownGenres(genres) });
    this.added.set(movieId, version);
  }

  /** Sets the user's tombstone (keeping the highest) and removes every row of the user not above it; returns the live ratings removed. */
  private forget(userId: number, version: Version): number {
    const cur = this.forgotten.get(userId);
    if (!cur || compareVersions(version, cur) > 0) this.forgotten.set(userId, version);
    let removed = 0;
    for (const [k, r] of this.rows) {
      if (r.userId !== userId || compareVersions(r.version, version) > 0) continue;
      this.rows.delete(k);
      if (r.rating !== null) removed++;
    }
    return removed;
  }

  private write(userId: number, movieId: number, rating: number | null, timestamp: number, version: Version): void {
    const t = this.forgotten.get(userId);
    if (t && compareVersions(version, t) <= 0) return;
    const k = key(userId, movieId);
    const cur = this.rows.get(k);
    if (cur && compareVersions(version, cur.version) <= 0) return;
    this.rows.set(k, { userId, movieId, rating, timestamp, version, overlay: true });
  }

  exportOverlay(): Overlay {
    const ratings: OverlayRow[] = [...this.rows.values()]
      .filter((r) => r.overlay)
      .sort((a, b) => a.userId - b.userId || a.movieId - b.movieId)
      .map((r) => ({
        userId: r.userId as UserId,
        movieId: r.movieId as MovieId,
        rating: r.rating,
        timestamp: r.timestamp,
        order: r.version.order,
        uid: r.version.uid as UpdateId | '',
      }));
    return { ratings, movies: this.addedRows(), forgotten: this.forgottenRows() };
  }

  private addedRows(): AddedMovieRow[] {
    return [...this.added.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([id, ver]) => {
        const m = this.movies.get(id)!;
        return { movieId: id as MovieId, title: m.title, genres: m.genres, order: ver.order, uid: ver.uid as UpdateId | '' };
      });
  }

  private forgottenRows(): ForgottenUserRow[] {
    return [...this.forgotten.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([user, ver]) => ({ userId: user as UserId, order: ver.order, uid: ver.uid as UpdateId | '' }));
  }

  /** Movies first (their ids are explicit; one already present is kept), then user tombstones, then rating rows: all last-writer-wins. */
  importOverlay(o: Overlay): void {
    for (const m of o.movies) {
      if (!this.movies.has(m.movieId)) this.addMovie(m.movieId, m.title, m.genres, { order: m.order, uid: m.uid });
    }
    for (const f of o.forgotten) this.forget(f.userId, { order: f.order, uid: f.uid });
    for (const r of o.ratings) {
      if (!this.movies.has(r.movieId)) continue;
      this.write(r.userId, r.movieId, r.rating, r.timestamp, { order: r.order, uid: r.uid });
    }
  }

  digest(): string {
    const live = [...this.rows.values()]
      .filter((r) => r.rating !== null)
      .sort((a, b) => a.userId - b.userId || a.movieId - b.movieId)
      .map((r) => ({ userId: r.userId, movieId: r.movieId, rating: r.rating as number, timestamp: r.timestamp }));
    return storeDigest(digestSortedRows(live), this.addedRows(), this.forgottenRows());
  }

  ratingCount(): number {
    let n = 0;
    for (const r of this.rows.values()) if (r.rating !== null) n++;
    return n;
  }

  movieCount(): number {
    return this.movies.size;
  }

  /**
   * For the simulator's checker: the version of every row (tombstones
   * included) that a query reads, keyed `user:movie`. Not part of MovieStore.
   */
  versionsReadBy(q: Query): Map<string, Version> {
    const out = new Map<string, Version>();
    for (const [k, r] of this.rows) {
      const hit =
        (q.kind === 'get' && r.userId === q.userId && r.movieId === q.movieId) ||
        (q.kind === 'mine' && r.userId === q.userId) ||
        ((q.kind === 'avg' || q.kind === 'movie') && r.movieId === q.movieId);
      if (hit) out.set(k, r.version);
    }
    return out;
  }

  /** For the simulator: the version of one row, if any. */
  versionOf(userId: number, movieId: number): Version | undefined {
    return this.rows.get(key(userId, movieId))?.version;
  }
}
