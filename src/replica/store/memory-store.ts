/**
 * A MovieStore held in plain maps: used by the simulator and unit tests, and
 * as the naive reference the sql.js store is checked against.
 */
import { digestSortedRows } from '../../core/digest.js';
import type { MovieId, UpdateId, UserId } from '../../core/ids.js';
import {
  BASE_VERSION,
  compareVersions,
  OpError,
  round2,
  SEARCH_LIMIT_DEFAULT,
  type MovieSummary,
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

export class MemoryStore implements MovieStore {
  private readonly movies = new Map<number, SeedMovie>();
  /** (user:movie) → row; tombstones have rating null. */
  private readonly rows = new Map<string, Row & { userId: number; movieId: number }>();

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

  apply(u: Update, version: Version): void {
    if (!this.movies.has(u.movieId)) return;
    this.write(u.userId, u.movieId, u.kind === 'rate' ? u.rating : null, u.timestamp, version);
  }

  private write(userId: number, movieId: number, rating: number | null, timestamp: number, version: Version): void {
    const k = key(userId, movieId);
    const cur = this.rows.get(k);
    if (cur && compareVersions(version, cur.version) <= 0) return;
    this.rows.set(k, { userId, movieId, rating, timestamp, version, overlay: true });
  }

  exportOverlay(): OverlayRow[] {
    return [...this.rows.values()]
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
  }

  importOverlay(rows: readonly OverlayRow[]): void {
    for (const r of rows) {
      if (!this.movies.has(r.movieId)) continue;
      this.write(r.userId, r.movieId, r.rating, r.timestamp, { order: r.order, uid: r.uid });
    }
  }

  digest(): string {
    const live = [...this.rows.values()]
      .filter((r) => r.rating !== null)
      .sort((a, b) => a.userId - b.userId || a.movieId - b.movieId)
      .map((r) => ({ userId: r.userId, movieId: r.movieId, rating: r.rating as number, timestamp: r.timestamp }));
    return digestSortedRows(live);
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
