/**
 * The MovieLens importer and its CSV parser: real MovieLens data imports with
 * known answers; malformed files are rejected with file, line and reason and
 * leave no output behind; --skip-bad keeps the good rows.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId, userId } from '../../src/core/ids.js';
import { CsvError, CsvParser, parseCsv } from '../../src/data/csv.js';
import { importMovieLens } from '../../src/data/import.js';
import { runImportCli } from '../../src/data/import-cli.js';
import { loadSqliteStore } from '../../src/replica/store/sqlite-store.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const movielensSmall = path.resolve(root, '../shared/movielens-small');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hearsay-import-'));

let n = 0;
/** A fresh folder holding the given files. */
function folder(files: Record<string, string>): string {
  const dir = path.join(tmp, `case${++n}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const MOVIES_CSV = [
  'movieId,title,genres',
  '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy',
  '2,"Heist, The (1999)",Crime|Thriller',
  '3,"""Great Performances"" Cats (1998)",Musical',
  '4,La cravate (1957),(no genres listed)',
  '',
].join('\n');
const RATINGS_HEADER = 'userId,movieId,rating,timestamp';
const GOOD_RATINGS = ['1,1,4.0,964982703', '1,2,3.5,964982704', '2,1,5.0,964982705', '2,3,0.5,964982706'];

function ratingsCsv(rows: string[]): string {
  return [RATINGS_HEADER, ...rows, ''].join('\n');
}

/** Runs the CLI in-process and captures its output. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runImportCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), errIsTty: false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

// ---------------------------------------------------------------------------

const ml = suite('importing MovieLens latest-small');

if (!existsSync(path.join(movielensSmall, 'ratings.csv'))) {
  console.log(`skipped: ${path.relative(root, movielensSmall)} not found`);
} else {
  ml('the imported file answers the known averages of Toy Story and The Shawshank Redemption', async () => {
    const out = path.join(tmp, 'ml', 'movielens.sqlite');
    const summary = await importMovieLens(movielensSmall, out);
    assert.is(summary.movies, 9_742);
    assert.is(summary.ratings, 100_836);
    assert.is(summary.skipped, 0);
    const store = await loadSqliteStore(out);
    try {
      assert.equal(store.query({ kind: 'avg', movieId: movieId(1) }), { kind: 'avg', movieId: 1, title: 'Toy Story (1995)', average: 3.92, count: 215 });
      assert.equal(store.query({ kind: 'avg', movieId: movieId(318) }), {
        kind: 'avg',
        movieId: 318,
        title: 'Shawshank Redemption, The (1994)',
        average: 4.43,
        count: 317,
      });
      assert.equal(store.query({ kind: 'get', userId: userId(1), movieId: movieId(1) }), {
        kind: 'get',
        userId: 1,
        movieId: 1,
        title: 'Toy Story (1995)',
        rating: 4,
        timestamp: 964_982_703,
      });
      assert.is(store.ratingCount(), 100_836);
      assert.equal(readdirSync(path.dirname(out)), ['movielens.sqlite'], 'no temporary file is left next to the output');
    } finally {
      store.close();
    }
  });
}

ml.run();

// ---------------------------------------------------------------------------

const bad = suite('malformed MovieLens files');

/** Expects the import of these files to fail with `message`, leaving the folder as it was. */
async function rejects(files: Record<string, string>, message: string, where: { file: string; line: number }): Promise<void> {
  const dir = folder(files);
  const before = readdirSync(dir).sort();
  try {
    await importMovieLens(dir, path.join(dir, 'out.sqlite'));
    assert.unreachable('the import succeeded');
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    assert.is(err.message, message);
    assert.is(err.file, where.file);
    assert.is(err.line, where.line);
  }
  assert.equal(readdirSync(dir).sort(), before, 'neither the output nor a temporary file is left behind');
}

bad('a row with a missing column is rejected with its line', async () => {
  await rejects(
    { 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['1,1,4.0,964982703', '1,2,3.5']) },
    'ratings.csv line 3: expected 4 columns, got 3',
    { file: 'ratings.csv', line: 3 },
  );
});

bad('a rating that is not a number is rejected', async () => {
  await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['1,1,abc,964982703']) }, "ratings.csv line 2: rating is not a number: 'abc'", {
    file: 'ratings.csv',
    line: 2,
  });
});

bad('a rating that is not a half step from 0.5 to 5.0 is rejected', async () => {
  await rejects(
    { 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv([...GOOD_RATINGS, '3,1,3.3,964982703']) },
    'ratings.csv line 6: rating 3.3 is not 0.5 to 5.0 in half steps',
    { file: 'ratings.csv', line: 6 },
  );
  await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['3,1,0.0,964982703']) }, 'ratings.csv line 2: rating 0.0 is not 0.5 to 5.0 in half steps', {
    file: 'ratings.csv',
    line: 2,
  });
  await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['3,1,5.5,964982703']) }, 'ratings.csv line 2: rating 5.5 is not 0.5 to 5.0 in half steps', {
    file: 'ratings.csv',
    line: 2,
  });
});

bad('an unterminated quote is rejected at the line where the field opens', async () => {
  const movies = ['movieId,title,genres', '1,Toy Story (1995),Comedy', '2,"Heist, The (1999),Crime', '3,Other (2000),Drama', ''].join('\n');
  await rejects({ 'movies.csv': movies, 'ratings.csv': ratingsCsv([]) }, 'movies.csv line 3: unterminated quote', { file: 'movies.csv', line: 3 });
});

bad('a rating of a movie not in movies.csv is rejected', async () => {
  await rejects(
    { 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['1,1,4.0,964982703', '1,99,4.0,964982703']) },
    'ratings.csv line 3: movieId 99 is not in movies.csv',
    { file: 'ratings.csv', line: 3 },
  );
});

bad('ids, timestamps and duplicates are checked', async () => {
  const cases: [string, string][] = [
    ['0,1,4.0,964982703', "ratings.csv line 2: userId is not a positive whole number: '0'"],
    ['1,1.5,4.0,964982703', "ratings.csv line 2: movieId is not a positive whole number: '1.5'"],
    ['1,1,4.0,-5', "ratings.csv line 2: timestamp is not a whole non-negative number of seconds: '-5'"],
    ['1,1,4.0,', "ratings.csv line 2: timestamp is not a whole non-negative number of seconds: ''"],
  ];
  for (const [row, message] of cases) await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv([row]) }, message, { file: 'ratings.csv', line: 2 });
  await rejects(
    { 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv([...GOOD_RATINGS, '1,2,1.0,964982799']) },
    'ratings.csv line 6: user 1 rated movie 2 twice',
    { file: 'ratings.csv', line: 6 },
  );
  await rejects(
    { 'movies.csv': `${MOVIES_CSV}2,Again (2001),Drama\n`, 'ratings.csv': ratingsCsv([]) },
    'movies.csv line 6: movieId 2 appears twice (first on line 3)',
    { file: 'movies.csv', line: 6 },
  );
});

bad('a missing or wrong header is rejected', async () => {
  await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': '1,1,4.0,964982703\n' }, "ratings.csv line 1: expected the header userId,movieId,rating,timestamp, got '1,1,4.0,964982703'", {
    file: 'ratings.csv',
    line: 1,
  });
  await rejects({ 'movies.csv': '', 'ratings.csv': ratingsCsv([]) }, 'movies.csv line 1: the file is empty (expected the header movieId,title,genres)', {
    file: 'movies.csv',
    line: 1,
  });
});

bad('the first bad row is the one reported, even when a duplicate waits in a batch', async () => {
  const rows = [...GOOD_RATINGS, '1,1,2.0,964982799', '1,3,oops,964982799'];
  await rejects({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(rows) }, 'ratings.csv line 6: user 1 rated movie 1 twice', { file: 'ratings.csv', line: 6 });
});

bad('a failed import keeps an existing output file unchanged', async () => {
  const dir = folder({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['1,1,abc,1']) });
  const out = path.join(dir, 'existing.sqlite');
  writeFileSync(out, 'previous contents');
  const r = await cli([dir, out]);
  assert.is(r.code, 2);
  assert.is(readFileSync(out, 'utf8'), 'previous contents');
  assert.equal(readdirSync(dir).sort(), ['existing.sqlite', 'movies.csv', 'ratings.csv']);
});

bad('when the output cannot be replaced the temporary file is removed', async () => {
  const dir = folder({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(GOOD_RATINGS) });
  const out = path.join(dir, 'taken');
  mkdirSync(out);
  writeFileSync(path.join(out, 'keep'), 'x'); // a non-empty folder cannot be renamed over
  const r = await cli([dir, out]);
  assert.is(r.code, 1);
  assert.equal(readdirSync(dir).sort(), ['movies.csv', 'ratings.csv', 'taken']);
  assert.equal(readdirSync(out), ['keep']);
});

bad('the command exits with status 2 and names file, line and reason', async () => {
  const dir = folder({ 'movies.csv': MOVIES_CSV, 'ratings.csv': ratingsCsv(['1,1,4.0,964982703', '1,2,3.5']) });
  const r = await cli([dir, path.join(dir, 'out.sqlite')]);
  assert.is(r.code, 2);
  assert.match(r.err, 'ratings.csv line 3: expected 4 columns, got 3');
  assert.not.ok(existsSync(path.join(dir, 'out.sqlite')));
  const missing = await cli([path.join(tmp, 'no-such-folder')]);
  assert.is(missing.code, 2);
  assert.match(missing.err, 'movies.csv not found');
  assert.is((await cli([])).code, 2);
});

bad('with --skip-bad the good rows are imported and the bad ones counted', async () => {
  const rows = [
    ...GOOD_RATINGS,
    '3,1,abc,964982703', // not a number
    '3,1,3.3,964982703', // not a half step
    '3,99,4.0,964982703', // unknown movie
    '3,2,4.0', // missing column
    '1,1,2.0,964982799', // duplicate
    '3,4,2.0,964982800',
  ];
  const movies = `${MOVIES_CSV}x,Bad Id (2000),Drama\n`;
  const dir = folder({ 'movies.csv': movies, 'ratings.csv': ratingsCsv(rows), 'tags.csv': 'not,even\n"a valid csv', 'links.csv': '???' });
  const out = path.join(dir, 'out.sqlite');
  const r = await cli([dir, out, '--skip-bad']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'imported 4 movies and 5 ratings');
  assert.match(r.err, 'skipped 6 bad rows');
  assert.match(r.err, "movies.csv line 6: movieId is not a positive whole number: 'x'");
  const store = await loadSqliteStore(out);
  try {
    assert.is(store.ratingCount(), 5);
    assert.equal(store.query({ kind: 'avg', movieId: movieId(1) }), { kind: 'avg', movieId: 1, title: 'Toy Story (1995)', average: 4.5, count: 2 });
    assert.equal(store.query({ kind: 'movie', movieId: movieId(4) }), {
      kind: 'movie',
      movieId: 4,
      title: 'La cravate (1957)',
      genres: [],
      average: 2,
      count: 1,
    });
    assert.equal(store.query({ kind: 'movie', movieId: movieId(3) }), {
      kind: 'movie',
      movieId: 3,
      title: '"Great Performances" Cats (1998)',
      genres: ['Musical'],
      average: 0.5,
      count: 1,
    });
  } finally {
    store.close();
  }
});

bad.run();

// ---------------------------------------------------------------------------

const csv = suite('CSV parser');
// The last suite: the temporary folders are no longer needed after it.
csv.after(() => rmSync(tmp, { recursive: true, force: true }));

csv('quoted fields keep commas, doubled quotes and line breaks', () => {
  const text = 'movieId,title,genres\r\n2,"Heist, The (1999)",Crime\r\n3,"""Great Performances"" Cats (1998)",Musical\r\n4,"Two\nLines",Drama\r\n';
  const recs = parseCsv(text, 'movies.csv');
  assert.equal(recs, [
    { fields: ['movieId', 'title', 'genres'], line: 1 },
    { fields: ['2', 'Heist, The (1999)', 'Crime'], line: 2 },
    { fields: ['3', '"Great Performances" Cats (1998)', 'Musical'], line: 3 },
    { fields: ['4', 'Two\nLines', 'Drama'], line: 4 },
  ]);
});

csv('a byte-order mark is dropped, blank lines skipped, empty and quoted-empty fields kept', () => {
  assert.equal(parseCsv('\uFEFFa,b\n\n,""\n"x",\n'), [
    { fields: ['a', 'b'], line: 1 },
    { fields: ['', ''], line: 3 },
    { fields: ['x', ''], line: 4 },
  ]);
});

csv('records are the same however the text is split into chunks', () => {
  const text = '\uFEFFid,t\r\n1,"a, ""b""\r\nc"\r\n2,d\n3,"e"';
  const whole = JSON.stringify(parseCsv(text));
  for (let i = 0; i <= text.length; i++) {
    for (let j = i; j <= text.length; j++) {
      const p = new CsvParser('t.csv');
      const got = [...p.push(text.slice(0, i)), ...p.push(text.slice(i, j)), ...p.push(text.slice(j)), ...p.end()];
      assert.is(JSON.stringify(got), whole, `split at ${i}, ${j}`);
    }
  }
});

csv('broken quoting is an error naming file, line and reason', () => {
  const cases: [string, string][] = [
    ['a,b\n1,"open\n2,x\n', 'f.csv line 2: unterminated quote'],
    ['a,b\n1,x"y\n', 'f.csv line 2: a quote inside an unquoted field (quote the whole field and double the quote)'],
    ['a,b\n1,"x"y\n', 'f.csv line 2: unexpected character "y" after a closing quote (expected a comma or the end of the line)'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseCsv(text, 'f.csv'), (err: unknown) => err instanceof CsvError && err.message === message);
  }
});

csv.run();
