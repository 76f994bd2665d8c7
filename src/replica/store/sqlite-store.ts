/**
 * The production MovieStore: the data file opened with sql.js (SQLite in
 * WebAssembly) as an in-memory database.
 *
 * Layout in memory (see src/data/schema.ts for the file):
 * - main.movies, main.ratings: the file's tables. `ratings` holds exactly the
 *   live ratings — base rows and rows written since load — so every query
 *   reads one table.
 * - temp.overlay: every row written since load with its LWW version
 *   (`ord`, `uid`); a NULL rating is a tombstone. A (user, movie) with no
 *   overlay row and a row in `ratings` is a base row, at BASE_VERSION.
 * - temp.movie_text: titles and genres lower-cased at load exactly as
 *   JavaScript's `toLowerCase()` does (SQLite's lower() for all-ASCII rows,
 *   where the two agree; JavaScript for the rest), so search matches what
 *   MemoryStore matches.
 * - temp.added_movies: the version of each movie added since load (by
 *   addMovie or a snapshot); the movie itself is inserted into main.movies
 *   and temp.movie_text like a movie of the file, so every query sees it.
 * - temp.forgotten: user tombstones (forgetUser), the highest version per
 *   user. Rows of a forgotten user not above it are deleted from ratings and
 *   overlay alike, and writes not above it are ignored; `tombstones` mirrors
 *   the table in a Map so a normal write pays one Map lookup.
 * TEMP tables live only in this process: the file never holds replica state.
 *
 * Versions are compared in JavaScript (compareVersions), not in SQL: SQLite
 * orders text by UTF-8 bytes, JavaScript by UTF-16 units, and the two disagree
 * on some characters. A write is read → compare → write.
 */
import { readFile } from 'node:fs/promises';
import type { Database, SqlValue, Statement } from 'sql.js';
import { digestSortedRows, type DigestRow } from '../../core/digest.js';
import type { MovieId, UpdateId, UserId } from '../../core/ids.js';
import {
  BASE_VERSION,
  compareVersions,
  OpError,
  round2,
  SEARCH_LIMIT_DEFAULT,
  canonicalUpdate,
  titleKey,
  type AddedMovieRow,
  type ApplyOutcome,
  type ForgottenUserRow,
  type MovieSummary,
  type Overlay,
  type OverlayRow,
  type Query,
  type QueryResult,
  type RatingOfUser,
  type Update,
  type Version,
} from '../../core/ops.js';
import type { MovieStore } from '../../core/store.js';
import { createIndexes, formatGenres, MOVIES_COLUMNS, NO_GENRES, parseGenres, RATINGS_COLUMNS, sqlJs } from '../../data/schema.js';
import { shownGenres, storeDigest, type SeedMovie, type SeedRating } from './memory-store.js';

export { sqlJs } from '../../data/schema.js';

/** Runs a prepared statement to completion and returns its rows; always leaves it reset. */
function all(stmt: Statement, params: SqlValue[]): SqlValue[][] {
  try {
    stmt.bind(params);
    const rows: SqlValue[][] = [];
    while (stmt.step()) rows.push(stmt.get());
    return rows;
  } finally {
    stmt.reset();
  }
}

/** The first row of a prepared statement, or undefined; always leaves it reset. */
function first(stmt: Statement, params: SqlValue[]): SqlValue[] | undefined {
  try {
    stmt.bind(params);
    return stmt.step() ? stmt.get() : undefined;
  } finally {
    stmt.reset();
  }
}

function run(stmt: Statement, params: SqlValue[]): void {
  try {
    stmt.run(params);
  } finally {
    stmt.reset();
  }
}

/** Escapes LIKE's wildcards so a search word matches literally (used with ESCAPE '\'). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

// ---------------------------------------------------------------------------
// Load-time preparation of the in-memory copy.

/** SQLite's column affinity rules (https://sqlite.org/datatype3.html §3.1). */
function affinity(declared: string): 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC' {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t === '' || t.includes('BLOB')) return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

interface ColumnInfo {
  readonly type: string;
  readonly pk: number;
}

function tableColumns(db: Database, table: string): Map<string, ColumnInfo> {
  const cols = new Map<string, ColumnInfo>();
  const res = db.exec("SELECT name, type, pk FROM pragma_table_info(?, 'main')", [table]);
  for (const [name, type, pk] of res[0]?.values ?? []) cols.set(String(name), { type: String(type ?? ''), pk: Number(pk) });
  return cols;
}

/** For each index on `table`: its columns in order and whether it is unique. */
function tableIndexes(db: Database, table: string): { name: string; unique: boolean; columns: string[] }[] {
  const res = db.exec(`SELECT name, "unique" FROM pragma_index_list(?, 'main')`, [table]);
  return (res[0]?.values ?? []).map(([name, unique]) => ({
    name: String(name),
    unique: Number(unique) === 1,
    columns: (db.exec("SELECT name FROM pragma_index_info(?, 'main') ORDER BY seqno", [String(name)])[0]?.values ?? []).map((r) => String(r[0])),
  }));
}

function requireColumns(cols: Map<string, ColumnInfo>, table: string, names: readonly string[]): void {
  if (cols.size === 0) throw new Error(`the data file has no ${table} table`);
  for (const n of names) if (!cols.has(n)) throw new Error(`the data file's ${table} table has no ${n} column`);
}

/**
 * True when the tables have the typed shape this store queries directly:
 * integer ids and timestamps, real ratings, movieId the movies' key and
 * (userId, movieId) unique in ratings. Anything else (e.g. a hand-made file
 * whose columns have no declared types and hold ids as text) is rebuilt.
 */
function hasTypedShape(db: Database): boolean {
  const movies = tableColumns(db, 'movies');
  const ratings = tableColumns(db, 'ratings');
  requireColumns(movies, 'movies', MOVIES_COLUMNS);
  requireColumns(ratings, 'ratings', RATINGS_COLUMNS);
  const m = (n: string) => movies.get(n) as ColumnInfo;
  const r = (n: string) => ratings.get(n) as ColumnInfo;
  const moviesOk =
    m('movieId').type.toUpperCase() === 'INTEGER' &&
    m('movieId').pk === 1 &&
    [...movies.values()].filter((c) => c.pk > 0).length === 1 &&
    affinity(m('title').type) === 'TEXT' &&
    affinity(m('genres').type) === 'TEXT';
  const ratingsOk =
    affinity(r('userId').type) === 'INTEGER' &&
    affinity(r('movieId').type) === 'INTEGER' &&
    affinity(r('timestamp').type) === 'INTEGER' &&
    affinity(r('rating').type) === 'REAL' &&
    tableIndexes(db, 'ratings').some((ix) => ix.unique && ix.columns.length === 2 && ix.columns.includes('userId') && ix.columns.includes('movieId'));
  return moviesOk && ratingsOk;
}

/** Rebuilds movies and ratings as typed tables, converting every value once. */
function rebuildTyped(db: Database): void {
  db.run(`
    ALTER TABLE main.movies RENAME TO movies_as_loaded;
    ALTER TABLE main.ratings RENAME TO ratings_as_loaded;
    CREATE TABLE main.movies (
      movieId INTEGER PRIMARY KEY,
      title   TEXT NOT NULL,
      genres  TEXT NOT NULL
    );
    CREATE TABLE main.ratings (
      userId    INTEGER NOT NULL,
      movieId   INTEGER NOT NULL,
      rating    REAL    NOT NULL,
      timestamp INTEGER NOT NULL,
      PRIMARY KEY (userId, movieId)
    ) WITHOUT ROWID;
    INSERT INTO main.movies (movieId, title, genres)
      SELECT CAST(movieId AS INTEGER), CAST(title AS TEXT), CAST(genres AS TEXT)
      FROM main.movies_as_loaded ORDER BY 1;
    INSERT OR REPLACE INTO main.ratings (userId, movieId, rating, timestamp)
      SELECT CAST(userId AS INTEGER), CAST(movieId AS INTEGER), CAST(rating AS REAL), CAST(timestamp AS INTEGER)
      FROM main.ratings_as_loaded ORDER BY 1, 2;
    DROP TABLE main.movies_as_loaded;
    DROP TABLE main.ratings_as_loaded;
  `);
}

/** Creates an index for "ratings of a movie" / "ratings of a user" unless one already leads with that column. */
function ensureIndexes(db: Database): void {
  const leading = new Set(tableIndexes(db, 'ratings').map((ix) => ix.columns[0]));
  if (!leading.has('movieId')) createIndexes(db);
  if (!leading.has('userId')) db.run('CREATE INDEX IF NOT EXISTS main.ratings_by_user ON ratings (userId, movieId)');
}

const WORKING_STATE_SQL = `
CREATE TEMP TABLE overlay (
  userId    INTEGER NOT NULL,
  movieId   INTEGER NOT NULL,
  rating    REAL,              -- NULL: a tombstone (a deleted rating)
  timestamp INTEGER NOT NULL,
  ord       INTEGER NOT NULL,  -- Version.order
  uid       TEXT    NOT NULL,  -- Version.uid
  PRIMARY KEY (userId, movieId)
) WITHOUT ROWID;
CREATE TEMP TABLE movie_text (
  movieId   INTEGER PRIMARY KEY,
  title     TEXT NOT NULL,
  genres    TEXT NOT NULL,
  title_lc  TEXT NOT NULL,     -- title.toLowerCase()
  genres_lc TEXT NOT NULL      -- '|' + lower-cased genres joined by '|' + '|'
);
CREATE TEMP TABLE added_movies (
  movieId   INTEGER PRIMARY KEY,
  ord       INTEGER NOT NULL,
  uid       TEXT    NOT NULL
);
CREATE TEMP TABLE forgotten (
  userId    INTEGER PRIMARY KEY,
  ord       INTEGER NOT NULL,
  uid       TEXT    NOT NULL
);
`;

/** Lower-cased genres as matched by search: '|action|comedy|', '||' for none. */
function genresKey(column: string): string {
  return `|${parseGenres(column)
    .map((g) => g.toLowerCase())
    .join('|')}|`;
}

/**
 * Fills temp.movie_text. SQLite's lower() folds ASCII only, which for an
 * all-ASCII text is exactly toLowerCase(); the few rows with other characters
 * (length in characters ≠ length in bytes) are lower-cased in JavaScript.
 * One INSERT … SELECT keeps load fast (per-row calls cost ~15 µs each).
 */
function fillMovieText(db: Database): void {
  db.run(`
    INSERT INTO temp.movie_text (movieId, title, genres, title_lc, genres_lc)
    SELECT movieId, title, genres, lower(title),
           CASE WHEN genres IN ('${NO_GENRES}', '') THEN '||' ELSE '|' || lower(genres) || '|' END
    FROM main.movies
  `);
  const other = db.exec(`
    SELECT movieId, title, genres FROM temp.movie_text
    WHERE length(title) <> length(CAST(title AS BLOB)) OR length(genres) <> length(CAST(genres AS BLOB))
  `);
  const rows = other[0]?.values ?? [];
  if (rows.length === 0) return;
  const fix = db.prepare('UPDATE temp.movie_text SET title_lc = ?, genres_lc = ? WHERE movieId = ?');
  try {
    for (const [id, title, genres] of rows) fix.run([String(title).toLowerCase(), genresKey(String(genres)), id as number]);
  } finally {
    fix.free();
  }
}

function prepareWorkingState(db: Database): void {
  // Nothing here needs crash safety: the copy lives in memory only.
  db.run('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY;');
  db.run('BEGIN');
  try {
    if (!hasTypedShape(db)) rebuildTyped(db);
    ensureIndexes(db);
    db.run(WORKING_STATE_SQL);
    fillMovieText(db);
    db.run('COMMIT');
  } catch (err) {
    db.run('ROLLBACK');
    throw err;
  }
}

// ---------------------------------------------------------------------------

export class SqliteStore implements MovieStore {
  private readonly s: {
    movie: Statement;
    stats: Statement;
    get: Statement;
    mine: Statement;
    overlayGet: Statement;
    overlayPut: Statement;
    ratingPut: Statement;
    ratingDelete: Statement;
    overlayAll: Statement;
    digest: Statement;
    maxMovieId: Statement;
    moviePut: Statement;
    movieTextPut: Statement;
    addedPut: Statement;
    addedAll: Statement;
    forgottenPut: Statement;
    liveBelowOfUserDelete: Statement;
    overlayBelowOfUserDelete: Statement;
    overlayOfUserAtOrder: Statement;
    overlayDelete: Statement;
    baseRowsOfUserDelete: Statement;
  };
  /** Search statements by shape (number of words, genre or not); the text never enters the SQL. */
  private readonly searchStatements = new Map<string, { count: Statement; page: Statement }>();
  private liveCount: number;
  private movieTotal: number;
  /** temp.forgotten as a Map: the check every write makes. */
  private tombstones = new Map<number, Version>();
  /** titleKey → lowest movie id with that title; built on the first addMovie (load does not pay for it). */
  private titles: Map<string, number> | undefined;
  private closed = false;

  /**
   * Takes ownership of an open sql.js database holding a data file (typed
   * or legacy untyped shape) and prepares it for serving. Most callers want
   * `loadSqliteStore(path)` or `openSqliteStore(bytes)`.
   */
  constructor(private readonly db: Database) {
    prepareWorkingState(db);
    this.s = {
      movie: db.prepare('SELECT title, genres FROM main.movies WHERE movieId = ?'),
      stats: db.prepare('SELECT total(rating), count(*) FROM main.ratings WHERE movieId = ?'),
      get: db.prepare('SELECT rating, timestamp FROM main.ratings WHERE userId = ? AND movieId = ?'),
      mine: db.prepare(
        'SELECT r.movieId, m.title, r.rating, r.timestamp FROM main.ratings r JOIN main.movies m ON m.movieId = r.movieId WHERE r.userId = ? ORDER BY r.movieId',
      ),
      overlayGet: db.prepare('SELECT rating, ord, uid FROM temp.overlay WHERE userId = ? AND movieId = ?'),
      overlayPut: db.prepare('INSERT OR REPLACE INTO temp.overlay (userId, movieId, rating, timestamp, ord, uid) VALUES (?, ?, ?, ?, ?, ?)'),
      ratingPut: db.prepare('INSERT OR REPLACE INTO main.ratings (userId, movieId, rating, timestamp) VALUES (?, ?, ?, ?)'),
      ratingDelete: db.prepare('DELETE FROM main.ratings WHERE userId = ? AND movieId = ?'),
      overlayAll: db.prepare('SELECT userId, movieId, rating, timestamp, ord, uid FROM temp.overlay ORDER BY userId, movieId'),
      digest: db.prepare('SELECT userId, movieId, rating, timestamp FROM main.ratings ORDER BY userId, movieId'),
      maxMovieId: db.prepare('SELECT max(movieId) FROM main.movies'),
      moviePut: db.prepare('INSERT INTO main.movies (movieId, title, genres) VALUES (?, ?, ?)'),
      movieTextPut: db.prepare('INSERT INTO temp.movie_text (movieId, title, genres, title_lc, genres_lc) VALUES (?, ?, ?, ?, ?)'),
      addedPut: db.prepare('INSERT INTO temp.added_movies (movieId, ord, uid) VALUES (?, ?, ?)'),
      addedAll: db.prepare(
        'SELECT a.movieId, m.title, m.genres, a.ord, a.uid FROM temp.added_movies a JOIN main.movies m ON m.movieId = a.movieId ORDER BY a.movieId',
      ),
      forgottenPut: db.prepare('INSERT OR REPLACE INTO temp.forgotten (userId, ord, uid) VALUES (?, ?, ?)'),
      // All by the (userId, movieId) keys: a forget reads only the user's rows.
      liveBelowOfUserDelete: db.prepare(
        'DELETE FROM main.ratings WHERE userId = ? AND movieId IN (SELECT movieId FROM temp.overlay WHERE userId = ? AND ord < ? AND rating IS NOT NULL)',
      ),
      overlayBelowOfUserDelete: db.prepare('DELETE FROM temp.overlay WHERE userId = ? AND ord < ?'),
      overlayOfUserAtOrder: db.prepare('SELECT movieId, rating, uid FROM temp.overlay WHERE userId = ? AND ord = ?'),
      overlayDelete: db.prepare('DELETE FROM temp.overlay WHERE userId = ? AND movieId = ?'),
      baseRowsOfUserDelete: db.prepare(
        'DELETE FROM main.ratings WHERE userId = ? AND NOT EXISTS (SELECT 1 FROM temp.overlay o WHERE o.userId = main.ratings.userId AND o.movieId = main.ratings.movieId)',
      ),
    };
    this.liveCount = 0;
    this.movieTotal = 0;
    this.recount();
  }

  /** Reads the counters and the tombstone Map back from the tables (at start, and after a rolled-back import). */
  private recount(): void {
    this.liveCount = Number(this.db.exec('SELECT count(*) FROM main.ratings')[0]?.values[0]?.[0] ?? 0);
    this.movieTotal = Number(this.db.exec('SELECT count(*) FROM main.movies')[0]?.values[0]?.[0] ?? 0);
    this.tombstones = new Map((this.db.exec('SELECT userId, ord, uid FROM temp.forgotten')[0]?.values ?? []).map((r) => [r[0] as number, { order: r[1] as number, uid: String(r[2]) }]));
    this.titles = undefined;
  }

  hasMovie(id: MovieId): boolean {
    return first(this.s.movie, [id]) !== undefined;
  }

  private movieOrThrow(id: MovieId): { title: string; genres: string[] } {
    const row = first(this.s.movie, [id]);
    if (!row) throw new OpError('UNKNOWN_MOVIE', `there is no movie with id ${id}`);
    return { title: String(row[0]), genres: parseGenres(String(row[1])) };
  }

  private stats(movieId: MovieId): { average: number | null; count: number } {
    const row = first(this.s.stats, [movieId]);
    const sum = Number(row?.[0] ?? 0);
    const count = Number(row?.[1] ?? 0);
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
        const row = first(this.s.get, [q.userId, q.movieId]);
        return {
          kind: 'get',
          userId: q.userId,
          movieId: q.movieId,
          title: m.title,
          rating: row ? (row[0] as number) : null,
          timestamp: row ? (row[1] as number) : null,
        };
      }
      case 'mine': {
        const ratings: RatingOfUser[] = all(this.s.mine, [q.userId]).map((r) => ({
          movieId: r[0] as MovieId,
          title: String(r[1]),
          rating: r[2] as number,
          timestamp: r[3] as number,
        }));
        return { kind: 'mine', userId: q.userId, ratings };
      }
      case 'search':
        return this.search(q.words, q.genre, q.limit ?? SEARCH_LIMIT_DEFAULT);
    }
  }

  /**
   * Every whitespace-separated word must be a substring of the title, and the
   * genre (if given) one of the movie's genres, both ignoring case; ordered by
   * movieId. `total` counts every match, `movies` holds the first `limit`.
   */
  private search(wordsText: string, genreText: string | undefined, limit: number): QueryResult {
    const words = wordsText.toLowerCase().split(/\s+/).filter(Boolean);
    const genre = genreText?.toLowerCase();
    // A genre never contains '|' (it is the separator), so such a filter matches nothing.
    if (genre && genre.includes('|')) return { kind: 'search', movies: [], total: 0 };
    // A positive whole limit goes to SQL; anything else is applied like Array.slice.
    const sqlLimit = Number.isSafeInteger(limit) && limit > 0 ? limit : -1;
    const shape = `${words.length}:${genre ? 'g' : ''}`;
    let stmts = this.searchStatements.get(shape);
    if (!stmts) {
      const conds = words.map(() => `title_lc LIKE ? ESCAPE '\\'`);
      if (genre) conds.push('instr(genres_lc, ?) > 0');
      const where = conds.length ? conds.join(' AND ') : '1';
      stmts = {
        count: this.db.prepare(`SELECT count(*) FROM temp.movie_text WHERE ${where}`),
        page: this.db.prepare(`SELECT movieId, title, genres FROM temp.movie_text WHERE ${where} ORDER BY movieId LIMIT ?`),
      };
      this.searchStatements.set(shape, stmts);
    }
    const params: SqlValue[] = words.map((w) => `%${escapeLike(w)}%`);
    if (genre) params.push(`|${genre}|`);
    let movies: MovieSummary[] = all(stmts.page, [...params, sqlLimit]).map((r) => ({
      movieId: r[0] as MovieId,
      title: String(r[1]),
      genres: parseGenres(String(r[2])),
    }));
    // A page shorter than the limit holds every match; only a full one needs counting.
    const total = sqlLimit !== -1 && movies.length === sqlLimit ? Number(first(stmts.count, params)?.[0] ?? 0) : movies.length;
    if (sqlLimit === -1) movies = movies.slice(0, limit);
    return { kind: 'search', movies, total };
  }

  apply(u: Update, version: Version): ApplyOutcome | undefined {
    switch (u.kind) {
      case 'rate':
      case 'delete':
        if (this.hasMovie(u.movieId)) this.write(u.userId, u.movieId, u.kind === 'rate' ? u.rating : null, u.timestamp, version);
        return undefined;
      case 'addMovie': {
        const c = canonicalUpdate(u) as Extract<Update, { kind: 'addMovie' }>;
        const same = this.titleIndex().get(titleKey(c.title));
        if (same !== undefined) return { kind: 'addMovie', movieId: same as MovieId, title: this.movieOrThrow(same as MovieId).title, existed: true };
        const id = Number(first(this.s.maxMovieId, [])?.[0] ?? 0) + 1;
        this.addMovie(id, c.title, c.genres, version);
        return { kind: 'addMovie', movieId: id as MovieId, title: c.title, existed: false };
      }
      case 'forgetUser':
        return { kind: 'forgetUser', userId: u.userId, removed: this.forget(u.userId, version) };
    }
  }

  private titleIndex(): Map<string, number> {
    if (!this.titles) {
      const titles = new Map<string, number>();
      for (const [id, title] of this.db.exec('SELECT movieId, title FROM main.movies ORDER BY movieId DESC')[0]?.values ?? []) {
        titles.set(titleKey(String(title)), id as number); // descending: the lowest id is set last and wins
      }
      this.titles = titles;
    }
    return this.titles;
  }

  /** Inserts a movie everywhere a movie of the file is read from, and remembers its version. */
  private addMovie(movieId: number, title: string, genres: readonly string[], version: Version): void {
    const column = formatGenres(shownGenres(genres));
    run(this.s.moviePut, [movieId, title, column]);
    run(this.s.movieTextPut, [movieId, title, column, title.toLowerCase(), genresKey(column)]);
    run(this.s.addedPut, [movieId, version.order, version.uid]);
    this.movieTotal++;
    const k = titleKey(title);
    const same = this.titles?.get(k);
    if (this.titles && (same === undefined || movieId < same)) this.titles.set(k, movieId);
  }

  /**
   * Sets the user's tombstone (keeping the highest) and deletes every row of
   * the user not above `version`: overlay rows by their version, base rows
   * (no overlay row) at BASE_VERSION. Reads only the user's rows, by key.
   * Returns the number of live ratings removed.
   */
  private forget(userId: number, version: Version): number {
    const cur = this.tombstones.get(userId);
    if (!cur || compareVersions(version, cur) > 0) {
      run(this.s.forgottenPut, [userId, version.order, version.uid]);
      this.tombstones.set(userId, version);
    }
    // Rows of a lower order are below whatever their uid: deleted in SQL
    // (a live overlay row is a row of ratings). Rows of the same order are
    // compared in JavaScript, as uids must be (see the top of this file).
    run(this.s.liveBelowOfUserDelete, [userId, userId, version.order]);
    let removed = this.db.getRowsModified();
    run(this.s.overlayBelowOfUserDelete, [userId, version.order]);
    for (const [movieId, rating, uid] of all(this.s.overlayOfUserAtOrder, [userId, version.order])) {
      if (compareVersions({ order: version.order, uid: String(uid) }, version) > 0) continue;
      run(this.s.overlayDelete, [userId, movieId as number]);
      if (rating !== null) {
        run(this.s.ratingDelete, [userId, movieId as number]);
        removed++;
      }
    }
    if (compareVersions(BASE_VERSION, version) <= 0) {
      run(this.s.baseRowsOfUserDelete, [userId]);
      removed += this.db.getRowsModified();
    }
    this.liveCount -= removed;
    return removed;
  }

  /** Last-writer-wins write of one row (rating null = delete). */
  private write(userId: number, movieId: number, rating: number | null, timestamp: number, version: Version): void {
    const t = this.tombstones.get(userId);
    if (t && compareVersions(version, t) <= 0) return;
    const cur = first(this.s.overlayGet, [userId, movieId]);
    let live: boolean;
    let curVersion: Version | undefined;
    if (cur) {
      live = cur[0] !== null;
      curVersion = { order: cur[1] as number, uid: String(cur[2]) };
    } else {
      live = first(this.s.get, [userId, movieId]) !== undefined;
      curVersion = live ? BASE_VERSION : undefined;
    }
    if (curVersion && compareVersions(version, curVersion) <= 0) return;
    run(this.s.overlayPut, [userId, movieId, rating, timestamp, version.order, version.uid]);
    if (rating !== null) {
      run(this.s.ratingPut, [userId, movieId, rating, timestamp]);
      if (!live) this.liveCount++;
    } else if (live) {
      run(this.s.ratingDelete, [userId, movieId]);
      this.liveCount--;
    }
  }

  exportOverlay(): Overlay {
    const ratings: OverlayRow[] = all(this.s.overlayAll, []).map((r) => ({
      userId: r[0] as UserId,
      movieId: r[1] as MovieId,
      rating: r[2] as number | null,
      timestamp: r[3] as number,
      order: r[4] as number,
      uid: String(r[5]) as UpdateId | '',
    }));
    return { ratings, movies: this.addedRows(), forgotten: this.forgottenRows() };
  }

  private addedRows(): AddedMovieRow[] {
    return all(this.s.addedAll, []).map((r) => ({
      movieId: r[0] as MovieId,
      title: String(r[1]),
      genres: parseGenres(String(r[2])),
      order: r[3] as number,
      uid: String(r[4]) as UpdateId | '',
    }));
  }

  /** From the Map (sorted here): the table holds the same rows. */
  private forgottenRows(): ForgottenUserRow[] {
    return [...this.tombstones.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([user, ver]) => ({ userId: user as UserId, order: ver.order, uid: ver.uid as UpdateId | '' }));
  }

  /** Movies first (their ids are explicit; one already present is kept), then user tombstones, then rating rows: all last-writer-wins. */
  importOverlay(o: Overlay): void {
    this.db.run('BEGIN');
    try {
      for (const m of o.movies) {
        if (!this.hasMovie(m.movieId)) this.addMovie(m.movieId, m.title, m.genres, { order: m.order, uid: m.uid });
      }
      for (const f of o.forgotten) this.forget(f.userId, { order: f.order, uid: f.uid });
      for (const r of o.ratings) {
        if (!this.hasMovie(r.movieId)) continue;
        this.write(r.userId, r.movieId, r.rating, r.timestamp, { order: r.order, uid: r.uid });
      }
      this.db.run('COMMIT');
    } catch (err) {
      this.db.run('ROLLBACK');
      this.recount();
      throw err;
    }
  }

  digest(): string {
    return storeDigest(digestSortedRows(this.liveRows()), this.addedRows(), this.forgottenRows());
  }

  /** The live ratings in (userId, movieId) order, read lazily. */
  private *liveRows(): Generator<DigestRow> {
    const stmt = this.s.digest;
    try {
      while (stmt.step()) {
        const r = stmt.get();
        yield { userId: r[0] as number, movieId: r[1] as number, rating: r[2] as number, timestamp: r[3] as number };
      }
    } finally {
      stmt.reset();
    }
  }

  ratingCount(): number {
    return this.liveCount;
  }

  movieCount(): number {
    return this.movieTotal;
  }

  /** The current movies and live ratings as plain rows, e.g. to seed a MemoryStore. */
  toSeed(): { movies: SeedMovie[]; ratings: SeedRating[] } {
    const movies = (this.db.exec('SELECT movieId, title, genres FROM main.movies ORDER BY movieId')[0]?.values ?? []).map(([id, title, genres]) => ({
      movieId: id as number,
      title: String(title),
      genres: parseGenres(String(genres)),
    }));
    return { movies, ratings: [...this.liveRows()] };
  }

  /** Frees the database; the store must not be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const st of Object.values(this.s)) st.free();
    for (const st of this.searchStatements.values()) {
      st.count.free();
      st.page.free();
    }
    this.db.close();
  }
}

/** Opens a data file's bytes as a store (the bytes are copied, never modified). */
export async function openSqliteStore(bytes: Uint8Array): Promise<SqliteStore> {
  const SQL = await sqlJs();
  // sql.js keeps the bytes with Uint8Array#slice, which for a Node Buffer is a
  // view, not a copy: the database would then write into the caller's buffer.
  // A plain Uint8Array view makes that slice a real copy.
  const db = new SQL.Database(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  try {
    return new SqliteStore(db);
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Reads a data file (e.g. data/data.sqlite) into an in-memory store. */
export async function loadSqliteStore(path: string): Promise<SqliteStore> {
  const bytes = await readFile(path);
  try {
    return await openSqliteStore(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot load data file ${path}: ${reason}`, { cause: err });
  }
}

/** Reads a data file's movies and ratings as plain rows (e.g. for `new MemoryStore(movies, ratings)`). */
export async function loadSeedData(path: string): Promise<{ movies: SeedMovie[]; ratings: SeedRating[] }> {
  const store = await loadSqliteStore(path);
  try {
    return store.toSeed();
  } finally {
    store.close();
  }
}
