/**
 * The data file: an SQLite database in the MovieLens shape, read by every
 * replica at start.
 *
 *   movies(movieId, title, genres)               genres pipe-separated, e.g.
 *                                                "Adventure|Animation|Children";
 *                                                "(no genres listed)" when none
 *   ratings(userId, movieId, rating, timestamp)  one row per (user, movie);
 *                                                rating 0.5–5.0 in half steps,
 *                                                timestamp in Unix seconds
 *
 * The file holds only this base data. The replica's own state — the
 * last-writer-wins version of every row written since load, and tombstones
 * of deleted ratings — is never stored in it: the replica opens an in-memory
 * copy and creates that state there at load time, as TEMP tables (see
 * src/replica/store/sqlite-store.ts). So every replica starts from identical
 * bytes, and a data file stays a plain MovieLens table any SQLite tool reads.
 *
 * `ratings` is a WITHOUT ROWID table keyed by (userId, movieId): the rows are
 * stored in user order, so the key itself serves "ratings of a user" (and the
 * digest's (user, movie) order) with no separate index. `ratings_by_movie`
 * serves "ratings of a movie" and holds the rating, so a movie's average is
 * read from the index alone.
 */
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';
import { GENRES, NO_GENRES_LISTED } from '../core/ops.js';

/** The MovieLens genre vocabulary, in MovieLens spelling: one list, kept with the operations that validate genres. */
export { GENRES };

/** What MovieLens writes in `genres` for a movie without genres. */
export const NO_GENRES = NO_GENRES_LISTED;

/** The `genres` column as a list: split on '|'; "(no genres listed)" (or empty) is the empty list. */
export function parseGenres(column: string): string[] {
  if (column === NO_GENRES || column === '') return [];
  return column.split('|');
}

/** The inverse of `parseGenres`. */
export function formatGenres(genres: readonly string[]): string {
  return genres.length === 0 ? NO_GENRES : genres.join('|');
}

export const MOVIES_COLUMNS = ['movieId', 'title', 'genres'] as const;
export const RATINGS_COLUMNS = ['userId', 'movieId', 'rating', 'timestamp'] as const;

const TABLES_SQL = `
CREATE TABLE movies (
  movieId   INTEGER PRIMARY KEY,
  title     TEXT NOT NULL,
  genres    TEXT NOT NULL
);
CREATE TABLE ratings (
  userId    INTEGER NOT NULL,
  movieId   INTEGER NOT NULL,
  rating    REAL    NOT NULL,
  timestamp INTEGER NOT NULL,
  PRIMARY KEY (userId, movieId)
) WITHOUT ROWID;
`;

const INDEXES_SQL = `
CREATE INDEX IF NOT EXISTS ratings_by_movie ON ratings (movieId, rating);
`;

/** The whole schema as SQL text (tables, then indexes). */
export const SCHEMA_SQL = TABLES_SQL + INDEXES_SQL;

/**
 * Creates the schema in an empty database. With `{ indexes: false }` only the
 * tables are created: a bulk loader inserts first and then calls
 * `createIndexes`, which builds a compact index faster than inserting into it.
 */
export function createSchema(db: Database, opts: { indexes?: boolean } = {}): void {
  db.run(TABLES_SQL);
  if (opts.indexes ?? true) createIndexes(db);
}

/** Creates the secondary indexes (idempotent). */
export function createIndexes(db: Database): void {
  db.run(INDEXES_SQL);
}

let sqlJsReady: Promise<SqlJsStatic> | undefined;

/** sql.js, initialised once per process (the WebAssembly module is compiled on first use). */
export function sqlJs(): Promise<SqlJsStatic> {
  sqlJsReady ??= initSqlJs().catch((err: unknown) => {
    sqlJsReady = undefined; // let a later call retry
    throw err;
  });
  return sqlJsReady;
}
