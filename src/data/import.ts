/**
 * Builds a data file from a MovieLens folder (movies.csv and ratings.csv, as
 * published by GroupLens; tags.csv and links.csv are ignored).
 *
 * Both files are streamed and every row is checked:
 *   movies.csv   header movieId,title,genres; movieId a positive whole number
 *                seen once; title and genres not empty
 *   ratings.csv  header userId,movieId,rating,timestamp; ids positive whole
 *                numbers; the movie in movies.csv; rating 0.5 to 5.0 in half
 *                steps; timestamp whole non-negative seconds; one rating per
 *                (user, movie)
 * A bad row stops the import with a CsvError "ratings.csv line 1234: reason",
 * unless `skipBad` is set: then the row is left out and counted. Header
 * problems and broken CSV (an unterminated quote) always stop the import.
 *
 * The database is built in memory (sql.js), then written to a temporary file
 * next to the output and renamed over it, so the output is either the old
 * file or the complete new one; a failed import leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Database, SqlValue, Statement } from 'sql.js';
import { MAX_MOVIE_ID, MAX_USER_ID } from '../core/ids.js';
import { CsvError, readCsvFile, type CsvRecord } from './csv.js';
import { createIndexes, createSchema, MOVIES_COLUMNS, RATINGS_COLUMNS, sqlJs } from './schema.js';

/** A problem with the input as a whole (a missing file or folder), as opposed to one row. */
export class ImportInputError extends Error {
  override name = 'ImportInputError';
}

export interface ImportProgress {
  readonly file: string;
  /** Data rows read so far in this file. */
  readonly rows: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
}

export interface ImportOptions {
  /** Leave bad rows out (and count them) instead of stopping. */
  readonly skipBad?: boolean;
  /** Called after every chunk (about 1 MB) read. */
  readonly onProgress?: (p: ImportProgress) => void;
}

export interface ImportSummary {
  readonly out: string;
  readonly movies: number;
  readonly ratings: number;
  readonly skipped: number;
  /** The first few skipped rows' errors, for the report. */
  readonly skippedExamples: readonly CsvError[];
  readonly bytes: number;
  readonly ms: number;
}

/** Temporary files being written right now, so a signal handler can remove them (`removePendingTemps`). */
const pendingTemps = new Set<string>();

/** Removes any temporary output still being written; for SIGINT/SIGTERM handlers. */
export function removePendingTemps(): void {
  for (const t of pendingTemps) rmSync(t, { force: true });
  pendingTemps.clear();
}

const POSITIVE_INT = /^[1-9][0-9]*$/;
const NON_NEGATIVE_INT = /^(0|[1-9][0-9]*)$/;
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

function show(text: string): string {
  return `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`;
}

function positiveId(file: string, line: number, column: string, text: string, max: number): number {
  if (!POSITIVE_INT.test(text)) throw new CsvError(file, line, `${column} is not a positive whole number: ${show(text)}`);
  const n = Number(text);
  if (n > max) throw new CsvError(file, line, `${column} ${text} is too large (at most ${max})`);
  return n;
}

function checkHeader(file: string, rec: CsvRecord | undefined, expected: readonly string[]): void {
  const want = expected.join(',');
  if (!rec) throw new CsvError(file, 1, `the file is empty (expected the header ${want})`);
  if (rec.fields.join(',') !== want) throw new CsvError(file, rec.line, `expected the header ${want}, got ${show(rec.fields.join(','))}`);
}

function checkColumns(file: string, rec: CsvRecord, n: number): void {
  if (rec.fields.length !== n) throw new CsvError(file, rec.line, `expected ${n} columns, got ${rec.fields.length}`);
}

function requireFile(dir: string, name: string): { path: string; size: number } {
  const p = path.join(dir, name);
  try {
    const st = statSync(p);
    if (!st.isFile()) throw new ImportInputError(`${p} is not a file`);
    return { path: p, size: st.size };
  } catch (err) {
    if (err instanceof ImportInputError) throw err;
    throw new ImportInputError(`${name} not found in ${dir} (a MovieLens folder has movies.csv and ratings.csv)`);
  }
}

/** Rows per multi-row INSERT: one call into sql.js per batch instead of per row. */
const BATCH = 256;

class RatingWriter {
  private readonly one: Statement;
  private readonly many: Statement;
  private readonly params: SqlValue[] = [];
  private readonly lines: number[] = [];
  count = 0;

  /** `reject` is told about a duplicate (user, movie); it may throw. */
  constructor(
    db: Database,
    private readonly reject: (err: CsvError) => void,
  ) {
    this.one = db.prepare('INSERT INTO ratings (userId, movieId, rating, timestamp) VALUES (?, ?, ?, ?)');
    this.many = db.prepare(`INSERT INTO ratings (userId, movieId, rating, timestamp) VALUES ${Array(BATCH).fill('(?, ?, ?, ?)').join(', ')}`);
  }

  add(line: number, userId: number, movieId: number, rating: number, timestamp: number): void {
    this.params.push(userId, movieId, rating, timestamp);
    this.lines.push(line);
    if (this.lines.length === BATCH) this.flush();
  }

  flush(): void {
    if (this.lines.length === BATCH) {
      try {
        this.many.run(this.params);
        this.count += BATCH;
        this.clear();
        return;
      } catch {
        // A duplicate (user, movie) in this batch: the statement changed nothing; redo row by row to name it.
      } finally {
        this.many.reset();
      }
    }
    const params = this.params.slice();
    const lines = this.lines.slice();
    this.clear();
    for (let i = 0; i < lines.length; i++) {
      const row = params.slice(i * 4, i * 4 + 4);
      try {
        this.one.run(row);
        this.count++;
      } catch (err) {
        if (!(err instanceof Error && err.message.includes('UNIQUE'))) throw err;
        this.reject(new CsvError('ratings.csv', lines[i] as number, `user ${String(row[0])} rated movie ${String(row[1])} twice`));
      } finally {
        this.one.reset();
      }
    }
  }

  private clear(): void {
    this.params.length = 0;
    this.lines.length = 0;
  }

  free(): void {
    this.one.free();
    this.many.free();
  }
}

/**
 * Imports `dir`/movies.csv and `dir`/ratings.csv into a new data file at
 * `out` (replacing it atomically if it exists). Throws CsvError for a bad
 * row (file, line, reason) and ImportInputError for a missing file.
 */
export async function importMovieLens(dir: string, out: string, opts: ImportOptions = {}): Promise<ImportSummary> {
  const t0 = performance.now();
  const moviesFile = requireFile(dir, 'movies.csv');
  const ratingsFile = requireFile(dir, 'ratings.csv');
  const skipped: CsvError[] = [];
  let skippedCount = 0;
  const bad = (err: CsvError) => {
    if (!opts.skipBad) throw err;
    skippedCount++;
    if (skipped.length < 5) skipped.push(err);
  };

  const SQL = await sqlJs();
  const db = new SQL.Database();
  try {
    db.run('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;');
    createSchema(db, { indexes: false });
    db.run('BEGIN');

    // movies.csv
    const movieLines = new Map<number, number>();
    const insertMovie = db.prepare('INSERT INTO movies (movieId, title, genres) VALUES (?, ?, ?)');
    try {
      let header = true;
      let rows = 0;
      const onChunk = (p: { bytesRead: number }) => opts.onProgress?.({ file: 'movies.csv', rows, bytesRead: p.bytesRead, totalBytes: moviesFile.size });
      for await (const batch of readCsvFile(moviesFile.path, 'movies.csv', { onChunk })) {
        for (const rec of batch) {
          if (header) {
            checkHeader('movies.csv', rec, MOVIES_COLUMNS);
            header = false;
            continue;
          }
          rows++;
          try {
            checkColumns('movies.csv', rec, 3);
            const [idText, title, genres] = rec.fields as [string, string, string];
            const id = positiveId('movies.csv', rec.line, 'movieId', idText, MAX_MOVIE_ID);
            if (title.trim() === '') throw new CsvError('movies.csv', rec.line, 'title is empty');
            if (genres === '') throw new CsvError('movies.csv', rec.line, "genres is empty (MovieLens writes '(no genres listed)')");
            const firstLine = movieLines.get(id);
            if (firstLine !== undefined) throw new CsvError('movies.csv', rec.line, `movieId ${id} appears twice (first on line ${firstLine})`);
            movieLines.set(id, rec.line);
            insertMovie.run([id, title, genres]);
          } catch (err) {
            if (err instanceof CsvError) bad(err);
            else throw err;
          }
        }
      }
      if (header) checkHeader('movies.csv', undefined, MOVIES_COLUMNS);
    } finally {
      insertMovie.free();
    }

    // ratings.csv
    const writer = new RatingWriter(db, bad);
    try {
      let header = true;
      let rows = 0;
      const onChunk = (p: { bytesRead: number }) => opts.onProgress?.({ file: 'ratings.csv', rows, bytesRead: p.bytesRead, totalBytes: ratingsFile.size });
      for await (const batch of readCsvFile(ratingsFile.path, 'ratings.csv', { onChunk })) {
        for (const rec of batch) {
          if (header) {
            checkHeader('ratings.csv', rec, RATINGS_COLUMNS);
            header = false;
            continue;
          }
          rows++;
          try {
            checkColumns('ratings.csv', rec, 4);
            const [userText, movieText, ratingText, tsText] = rec.fields as [string, string, string, string];
            const userId = positiveId('ratings.csv', rec.line, 'userId', userText, MAX_USER_ID);
            const movieId = positiveId('ratings.csv', rec.line, 'movieId', movieText, MAX_MOVIE_ID);
            if (!DECIMAL.test(ratingText)) throw new CsvError('ratings.csv', rec.line, `rating is not a number: ${show(ratingText)}`);
            const rating = Number(ratingText);
            if (!(rating >= 0.5 && rating <= 5 && Number.isInteger(rating * 2))) {
              throw new CsvError('ratings.csv', rec.line, `rating ${ratingText} is not 0.5 to 5.0 in half steps`);
            }
            if (!NON_NEGATIVE_INT.test(tsText) || !Number.isSafeInteger(Number(tsText))) {
              throw new CsvError('ratings.csv', rec.line, `timestamp is not a whole non-negative number of seconds: ${show(tsText)}`);
            }
            if (!movieLines.has(movieId)) throw new CsvError('ratings.csv', rec.line, `movieId ${movieId} is not in movies.csv`);
            writer.add(rec.line, userId, movieId, rating, Number(tsText));
          } catch (err) {
            if (!(err instanceof CsvError)) throw err;
            // Rows still waiting in the batch come first: a duplicate among them is the earlier error.
            writer.flush();
            bad(err);
          }
        }
      }
      if (header) checkHeader('ratings.csv', undefined, RATINGS_COLUMNS);
      writer.flush();
    } finally {
      writer.free();
    }

    db.run('COMMIT');
    createIndexes(db);
    const bytes = db.export();
    await writeAtomically(out, bytes);
    return {
      out,
      movies: movieLines.size,
      ratings: writer.count,
      skipped: skippedCount,
      skippedExamples: skipped,
      bytes: bytes.length,
      ms: performance.now() - t0,
    };
  } finally {
    db.close();
  }
}

async function writeAtomically(out: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(out));
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(out)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  pendingTemps.add(tmp);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    pendingTemps.delete(tmp);
  }
}
