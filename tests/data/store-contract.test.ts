/**
 * One contract (src/core/store.ts) checked against both MovieStore
 * implementations, plus a check that they answer every query identically:
 * MemoryStore is the naive reference, SqliteStore the production store.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId as mid, updateId, userId as uid, type MovieId, type UserId } from '../../src/core/ids.js';
import { BASE_VERSION, OpError, type Overlay, type OverlayRow, type Query, type QueryResult, type Update, type Version } from '../../src/core/ops.js';
import { overlaySchema } from '../../src/core/schemas.js';
import type { MovieStore } from '../../src/core/store.js';
import { digestSortedRows } from '../../src/core/digest.js';
import { buildDataFile, type DataRows } from '../../src/data/generate.js';
import { Rng } from '../../src/data/rng.js';
import { sqlJs } from '../../src/data/schema.js';
import { MemoryStore, type SeedMovie, type SeedRating } from '../../src/replica/store/memory-store.js';
import { loadSqliteStore, openSqliteStore, SqliteStore } from '../../src/replica/store/sqlite-store.js';

// ---------------------------------------------------------------------------
// Seed data: small, with the awkward cases search and LWW must get right.

const MOVIES: SeedMovie[] = [
  { movieId: 1, title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'] },
  { movieId: 2, title: 'Jumanji (1995)', genres: ['Adventure', 'Children', 'Fantasy'] },
  { movieId: 5, title: 'Heist, The (1999)', genres: ['Crime', 'Thriller'] },
  { movieId: 7, title: '100% Love (2001)', genres: ['Romance'] },
  { movieId: 8, title: 'Under_score Story (2003)', genres: ['Comedy'] },
  { movieId: 9, title: 'Back\\slash (2004)', genres: ['Drama'] },
  { movieId: 11, title: 'Cité des enfants perdus, La (City of Lost Children, The) (1995)', genres: ['Fantasy', 'Sci-Fi'] },
  { movieId: 12, title: '"Great Performances" Cats (1998)', genres: ['Musical'] },
  { movieId: 20, title: 'La cravate (1957)', genres: [] },
  { movieId: 21, title: 'Story of Love, A (1950)', genres: ['Drama', 'Romance'] },
  { movieId: 30, title: 'ÉTÉ Indien, L\' (1990)', genres: ['Film-Noir'] },
];
const RATINGS: SeedRating[] = [
  { userId: 1, movieId: 1, rating: 4, timestamp: 964_982_703 },
  { userId: 1, movieId: 2, rating: 3.5, timestamp: 964_982_704 },
  { userId: 1, movieId: 5, rating: 5, timestamp: 964_982_705 },
  { userId: 2, movieId: 1, rating: 3, timestamp: 964_982_706 },
  { userId: 2, movieId: 7, rating: 0.5, timestamp: 964_982_707 },
  { userId: 3, movieId: 1, rating: 4.5, timestamp: 964_982_708 },
  { userId: 3, movieId: 11, rating: 2.5, timestamp: 964_982_709 },
  { userId: 3, movieId: 20, rating: 3, timestamp: 964_982_710 },
  // A rating of a movie the file does not list: counted by digest, never shown by `mine`.
  { userId: 3, movieId: 99, rating: 4, timestamp: 964_982_711 },
  { userId: 4, movieId: 30, rating: 1, timestamp: 964_982_712 },
];
const SEED: DataRows = { movies: MOVIES, ratings: RATINGS };

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hearsay-store-'));
let seedBytes: Uint8Array | undefined;

async function typedBytes(): Promise<Uint8Array> {
  seedBytes ??= await buildDataFile(SEED);
  return seedBytes;
}

/** A database with no declared column types and ids, ratings and timestamps stored as text. */
async function legacyBytes(): Promise<Uint8Array> {
  const SQL = await sqlJs();
  const db = new SQL.Database();
  db.run('CREATE TABLE movies (movieId, title, genres); CREATE TABLE ratings (userId, movieId, rating, timestamp);');
  for (const m of MOVIES) db.run('INSERT INTO movies VALUES (?, ?, ?)', [String(m.movieId), m.title, m.genres.length ? m.genres.join('|') : '(no genres listed)']);
  // Reverse order and text values ('4.0', '3'), as a hand-made import might store them.
  for (const r of [...RATINGS].reverse()) {
    db.run('INSERT INTO ratings VALUES (?, ?, ?, ?)', [String(r.userId), String(r.movieId), r.rating.toFixed(1), String(r.timestamp)]);
  }
  const bytes = db.export();
  db.close();
  return bytes;
}

const makers: Record<string, () => Promise<MovieStore & { close?: () => void }>> = {
  MemoryStore: async () => new MemoryStore(MOVIES, RATINGS),
  SqliteStore: async () => {
    const file = path.join(tmp, 'seed.sqlite');
    writeFileSync(file, await typedBytes());
    return loadSqliteStore(file);
  },
};

// ---------------------------------------------------------------------------

const v = (order: number, id = 'u'): Version => ({ order, uid: id });
const EMPTY: Overlay = { ratings: [], movies: [], forgotten: [] };
const rate = (userId: number, movieId: number, rating: number, timestamp = 1_600_000_000): Update => ({
  kind: 'rate',
  userId: uid(userId),
  movieId: mid(movieId),
  rating,
  timestamp,
});
const del = (userId: number, movieId: number, timestamp = 1_600_000_000): Update => ({ kind: 'delete', userId: uid(userId), movieId: mid(movieId), timestamp });
const addMovie = (title: string, genres: string[] = []): Update => ({ kind: 'addMovie', title, genres });
const forget = (userId: number): Update => ({ kind: 'forgetUser', userId: uid(userId) });
/** The highest movie id of the seed data: the first added movie gets the next one. */
const TOP = Math.max(...MOVIES.map((m) => m.movieId));

/** Every query worth asking of the seed data (and of the users and movies updates touch). */
function allQueries(users: readonly number[] = [1, 2, 3, 4, 5, 6], movies: readonly number[] = MOVIES.map((m) => m.movieId)): Query[] {
  const qs: Query[] = [];
  for (const m of movies) {
    qs.push({ kind: 'avg', movieId: mid(m) }, { kind: 'movie', movieId: mid(m) });
    for (const u of users) qs.push({ kind: 'get', userId: uid(u), movieId: mid(m) });
  }
  for (const u of users) qs.push({ kind: 'mine', userId: uid(u) });
  const searches: [string, string | undefined, number | undefined][] = [
    ['', undefined, undefined],
    ['story', undefined, undefined],
    ['STORY', undefined, 2],
    ['  story   love ', undefined, undefined],
    ['the', undefined, 1],
    ['%', undefined, undefined],
    ['_', undefined, undefined],
    ['\\', undefined, undefined],
    ['100%', undefined, undefined],
    ['under_', undefined, undefined],
    ['cité', undefined, undefined],
    ['CITÉ', undefined, undefined],
    ['été', undefined, undefined],
    ['"great', undefined, undefined],
    [', the', undefined, undefined],
    ['', 'comedy', undefined],
    ['', 'SCI-FI', undefined],
    ['story', 'Romance', undefined],
    ['', 'rom', undefined],
    ['', 'Comedy|Drama', undefined],
    ['', '(no genres listed)', undefined],
    ['', '', 3],
    ['nothing-matches-this', undefined, undefined],
    ['', undefined, 200],
  ];
  for (const [words, genre, limit] of searches) qs.push({ kind: 'search', words, genre, limit });
  return qs;
}

/** A query's answer, typed by its kind. */
function ask<Q extends Query>(s: MovieStore, q: Q): Extract<QueryResult, { kind: Q['kind'] }> {
  return s.query(q) as Extract<QueryResult, { kind: Q['kind'] }>;
}

function answer(s: MovieStore, q: Query): unknown {
  try {
    return s.query(q);
  } catch (err) {
    if (err instanceof OpError) return { error: err.code, message: err.message };
    throw err;
  }
}

function snapshot(s: MovieStore, users?: readonly number[]): unknown {
  return {
    answers: allQueries(users).map((q) => answer(s, q)),
    overlay: s.exportOverlay(),
    digest: s.digest(),
    ratings: s.ratingCount(),
    movies: s.movieCount(),
  };
}

// ---------------------------------------------------------------------------
// The contract, once per implementation.

for (const [name, make] of Object.entries(makers)) {
  const t = suite(`${name} contract`);
  const stores: { close?: () => void }[] = [];
  const fresh = async () => {
    const s = await make();
    stores.push(s);
    return s;
  };
  t.after(() => {
    for (const s of stores) s.close?.();
  });

  t('an update with a higher version replaces the row; a lower or equal one changes nothing', async () => {
    const s = await fresh();
    s.apply(rate(1, 1, 2), v(5, 'b'));
    s.apply(rate(1, 1, 3), v(5, 'a')); // same order, smaller uid: older
    s.apply(rate(1, 1, 3.5), v(4, 'z')); // lower order: older
    s.apply(rate(1, 1, 1.5), v(5, 'b')); // equal version: changes nothing
    const got = s.query({ kind: 'get', userId: uid(1), movieId: mid(1) });
    assert.equal(got, { kind: 'get', userId: 1, movieId: 1, title: 'Toy Story (1995)', rating: 2, timestamp: 1_600_000_000 });
    s.apply(rate(1, 1, 1.5), v(5, 'c'));
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: mid(1) }).rating, 1.5);
  });

  t('version ids compare as JavaScript strings (UTF-16 code units), not as UTF-8 bytes', async () => {
    const s = await fresh();
    // '\u{1F600}' starts with the surrogate 0xD83D, below 0xFF5E; in UTF-8 it sorts after.
    s.apply(rate(1, 1, 2), v(1, '\uFF5E'));
    s.apply(rate(1, 1, 5), v(1, '\u{1F600}'));
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: mid(1) }).rating, 2);
    assert.equal(s.exportOverlay().ratings[0]?.uid, '\uFF5E');
  });

  t('a base rating loses to any update and beats nothing older than the base version', async () => {
    const s = await fresh();
    s.apply(rate(1, 2, 1), BASE_VERSION); // the base row's own version: no change
    s.apply(rate(1, 2, 1), v(-2, 'z')); // older than the base: no change
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: mid(2) }).rating, 3.5);
    assert.equal(s.exportOverlay(), EMPTY);
    s.apply(rate(1, 2, 1), v(0, ''));
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: mid(2) }).rating, 1);
  });

  t('a delete cannot be undone by an older rate', async () => {
    const s = await fresh();
    s.apply(del(1, 5), v(10, 'x'));
    s.apply(rate(1, 5, 4), v(9, 'y'));
    s.apply(rate(1, 5, 4), v(10, 'w'));
    const got = s.query({ kind: 'get', userId: uid(1), movieId: mid(5) });
    assert.equal(got, { kind: 'get', userId: 1, movieId: 5, title: 'Heist, The (1999)', rating: null, timestamp: null });
    assert.equal(s.exportOverlay().ratings, [{ userId: 1, movieId: 5, rating: null, timestamp: 1_600_000_000, order: 10, uid: 'x' }]);
    assert.is(s.ratingCount(), RATINGS.length - 1);
    s.apply(rate(1, 5, 4), v(11, 'a')); // a newer rate does bring it back
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: mid(5) }).rating, 4);
    assert.is(s.ratingCount(), RATINGS.length);
  });

  t('a delete of a rating that never existed still leaves a tombstone', async () => {
    const s = await fresh();
    s.apply(del(6, 2), v(3, 'd'));
    s.apply(rate(6, 2, 5), v(2, 'r'));
    assert.is(ask(s, { kind: 'get', userId: uid(6), movieId: mid(2) }).rating, null);
    assert.is(s.exportOverlay().ratings.length, 1);
    assert.is(s.ratingCount(), RATINGS.length);
  });

  t('an update of a movie that does not exist changes nothing', async () => {
    const s = await fresh();
    const before = s.digest();
    s.apply(rate(1, 404, 4), v(1));
    s.apply(del(3, 99), v(1)); // 99 has a base rating but is not a movie
    s.importOverlay({ ...EMPTY, ratings: [{ userId: uid(1), movieId: mid(404), rating: 4, timestamp: 1, order: 1, uid: '' }] });
    assert.is(s.digest(), before);
    assert.equal(s.exportOverlay(), EMPTY);
    assert.is(s.hasMovie(mid(404)), false);
    assert.is(s.hasMovie(mid(1)), true);
  });

  t('a query of an unknown movie fails with UNKNOWN_MOVIE', async () => {
    const s = await fresh();
    for (const q of [{ kind: 'avg', movieId: mid(404) }, { kind: 'movie', movieId: mid(99) }, { kind: 'get', userId: uid(1), movieId: mid(404) }] as Query[]) {
      try {
        s.query(q);
        assert.unreachable(`${q.kind} of an unknown movie answered`);
      } catch (err) {
        assert.instance(err, OpError);
        assert.is((err as OpError).code, 'UNKNOWN_MOVIE');
      }
    }
  });

  t('averages are rounded to 2 decimals and null without ratings', async () => {
    const s = await fresh();
    assert.equal(s.query({ kind: 'avg', movieId: mid(1) }), { kind: 'avg', movieId: 1, title: 'Toy Story (1995)', average: 3.83, count: 3 });
    assert.equal(s.query({ kind: 'movie', movieId: mid(12) }), {
      kind: 'movie',
      movieId: 12,
      title: '"Great Performances" Cats (1998)',
      genres: ['Musical'],
      average: null,
      count: 0,
    });
  });

  t('mine lists the user\'s live ratings of known movies by movie id', async () => {
    const s = await fresh();
    s.apply(rate(3, 2, 2), v(1));
    s.apply(del(3, 11), v(1));
    const mine = ask(s, { kind: 'mine', userId: uid(3) });
    assert.equal(
      mine.ratings.map((r) => r.movieId),
      [1, 2, 20],
    );
  });

  t('search matches every word as a case-insensitive substring, wildcards literally, genre exactly', async () => {
    const s = await fresh();
    const ids = (words: string, genre?: string, limit?: number) => ask(s, { kind: 'search', words, genre, limit }).movies.map((m) => m.movieId);
    assert.equal(ids('story'), [1, 8, 21]);
    assert.equal(ids('LOVE story'), [21]);
    assert.equal(ids('%'), [7]);
    assert.equal(ids('_'), [8]);
    assert.equal(ids('\\'), [9]);
    assert.equal(ids('cité'), [11]);
    assert.equal(ids('été'), [30]);
    assert.equal(ids('', 'fantasy'), [1, 2, 11]);
    assert.equal(ids('', 'Fant'), []);
    assert.equal(ids('story', undefined, 2), [1, 8]);
    const r = ask(s, { kind: 'search', words: '', limit: 3 });
    assert.is(r.movies.length, 3);
    assert.is(r.total, MOVIES.length);
  });

  t('queries never change the store', async () => {
    const s = await fresh();
    s.apply(rate(2, 2, 2), v(1));
    const before = snapshot(s);
    for (const q of allQueries()) answer(s, q);
    assert.equal(snapshot(s), before);
  });

  t('the overlay exported and imported into a fresh store gives the same table', async () => {
    const s = await fresh();
    s.apply(rate(9, 2, 2), v(1, 'a'));
    s.apply(rate(1, 1, 5), v(2, 'b'));
    s.apply(del(2, 7), v(3, 'c'));
    s.apply(rate(1, 20, 1.5), v(4, 'd'));
    const rows = s.exportOverlay().ratings;
    assert.equal(
      rows.map((r) => [r.userId, r.movieId]),
      [
        [1, 1],
        [1, 20],
        [2, 7],
        [9, 2],
      ],
    );
    const copy = await fresh();
    copy.importOverlay({ ...EMPTY, ratings: rows });
    assert.is(copy.digest(), s.digest());
    assert.equal(copy.exportOverlay().ratings, rows);
    assert.is(copy.ratingCount(), s.ratingCount());
    // Importing the same rows again, or older ones, changes nothing.
    copy.importOverlay({ ...EMPTY, ratings: rows.map((r): OverlayRow => ({ ...r, rating: 0.5, order: r.order - 1 })) });
    copy.importOverlay({ ...EMPTY, ratings: rows });
    assert.is(copy.digest(), s.digest());
  });

  t('an added movie gets the highest id + 1 and is found by every query', async () => {
    const s = await fresh();
    const out = s.apply(addMovie('  Night   of the  Comet (1984) ', ['sci-fi', 'COMEDY', 'Comedy']), v(1, 'add1'));
    assert.equal(out, { kind: 'addMovie', movieId: TOP + 1, title: 'Night of the Comet (1984)', existed: false });
    const id = mid(TOP + 1);
    assert.ok(s.hasMovie(id));
    assert.is(s.movieCount(), MOVIES.length + 1);
    assert.equal(s.query({ kind: 'movie', movieId: id }), { kind: 'movie', movieId: id, title: 'Night of the Comet (1984)', genres: ['Comedy', 'Sci-Fi'], average: null, count: 0 });
    const found = (words: string, genre?: string) => ask(s, { kind: 'search', words, genre, limit: 200 }).movies.map((m) => m.movieId);
    assert.equal(found('COMET night'), [id]);
    assert.ok(found('', 'sci-fi').includes(id));
    assert.ok(found('', 'Comedy').includes(id));
    assert.not.ok(found('', 'Drama').includes(id));
    // Ratings of it work like ratings of any movie.
    s.apply(rate(1, id, 4), v(2, 'r1'));
    s.apply(rate(2, id, 2), v(2, 'r2'));
    s.apply(del(2, id), v(3, 'd2'));
    assert.equal(s.query({ kind: 'avg', movieId: id }), { kind: 'avg', movieId: id, title: 'Night of the Comet (1984)', average: 4, count: 1 });
    assert.is(ask(s, { kind: 'get', userId: uid(1), movieId: id }).rating, 4);
    assert.equal(ask(s, { kind: 'mine', userId: uid(1) }).ratings.at(-1), { movieId: id, title: 'Night of the Comet (1984)', rating: 4, timestamp: 1_600_000_000 });
    // The next one counts from the added one; no genres is shown as none.
    const next = s.apply(addMovie('Quiet Film (2001)'), v(4, 'add2'));
    assert.equal(next, { kind: 'addMovie', movieId: TOP + 2, title: 'Quiet Film (2001)', existed: false });
    assert.equal(ask(s, { kind: 'movie', movieId: mid(TOP + 2) }).genres, []);
    assert.equal(s.exportOverlay().movies, [
      { movieId: TOP + 1, title: 'Night of the Comet (1984)', genres: ['Comedy', 'Sci-Fi'], order: 1, uid: 'add1' },
      { movieId: TOP + 2, title: 'Quiet Film (2001)', genres: [], order: 4, uid: 'add2' },
    ]);
  });

  t('adding an existing title changes nothing and names the existing id', async () => {
    const s = await fresh();
    s.apply(rate(6, 2, 4), v(1));
    const before = snapshot(s);
    const out = s.apply(addMovie(' toy   STORY (1995)', ['Drama']), v(2, 'again'));
    assert.equal(out, { kind: 'addMovie', movieId: 1, title: 'Toy Story (1995)', existed: true });
    assert.equal(snapshot(s), before);
    // An added title is an existing title too.
    const added = s.apply(addMovie('New One (2020)'), v(3, 'n1'));
    const again = s.apply(addMovie('NEW ONE (2020)', ['Action']), v(4, 'n2'));
    assert.equal(again, { kind: 'addMovie', movieId: (added as { movieId: MovieId }).movieId, title: 'New One (2020)', existed: true });
    assert.is(s.movieCount(), MOVIES.length + 1);
    assert.is(s.exportOverlay().movies.length, 1);
  });

  t('forgetting a user removes every rating below its version, base rows included', async () => {
    const s = await fresh();
    // User 1 has base ratings of movies 1, 2 and 5.
    s.apply(rate(1, 7, 4), v(3, 'a'));
    s.apply(del(1, 20), v(2, 'b'));
    s.apply(rate(1, 11, 2), v(8, 'c')); // above the forget: stays
    s.apply(rate(2, 1, 5), v(4, 'd')); // another user: stays
    const count = s.ratingCount();
    const out = s.apply(forget(1), v(5, 'f'));
    assert.equal(out, { kind: 'forgetUser', userId: 1, removed: 4 });
    assert.is(s.ratingCount(), count - 4);
    assert.equal(
      ask(s, { kind: 'mine', userId: uid(1) }).ratings.map((r) => r.movieId),
      [11],
    );
    assert.is(ask(s, { kind: 'get', userId: uid(2), movieId: mid(1) }).rating, 5);
    const o = s.exportOverlay();
    assert.equal(
      o.ratings.map((r) => [r.userId, r.movieId]),
      [
        [1, 11],
        [2, 1],
      ],
    );
    assert.equal(o.forgotten, [{ userId: 1, order: 5, uid: 'f' }]);
    // A rating of a movie the file does not list is a rating of the user too.
    assert.equal(s.apply(forget(3), v(0, 'g')), { kind: 'forgetUser', userId: 3, removed: 4 });
    assert.equal(ask(s, { kind: 'mine', userId: uid(3) }).ratings, []);
    // Forgetting a user with nothing left removes nothing.
    assert.equal(s.apply(forget(3), v(1, 'h')), { kind: 'forgetUser', userId: 3, removed: 0 });
  });

  t('a rating below a user tombstone arriving later is ignored; one above it is kept', async () => {
    const s = await fresh();
    s.apply(forget(2), v(5, 'f'));
    const count = s.ratingCount();
    s.apply(rate(2, 1, 5), v(4, 'old'));
    s.apply(rate(2, 2, 5), v(5, 'e')); // same order, smaller uid: below
    s.apply(del(2, 5), v(1, 'old-del'));
    s.importOverlay({ ...EMPTY, ratings: [{ userId: uid(2), movieId: mid(7), rating: 3, timestamp: 1, order: 2, uid: '' }] });
    assert.equal(ask(s, { kind: 'mine', userId: uid(2) }).ratings, []);
    assert.equal(s.exportOverlay().ratings, []);
    assert.is(s.ratingCount(), count);
    s.apply(rate(2, 2, 4), v(6, 'new'));
    assert.is(ask(s, { kind: 'get', userId: uid(2), movieId: mid(2) }).rating, 4);
    // A lower tombstone changes nothing; a higher one takes the later rating too.
    assert.equal(s.apply(forget(2), v(3, 'f0')), { kind: 'forgetUser', userId: 2, removed: 0 });
    assert.equal(s.exportOverlay().forgotten, [{ userId: 2, order: 5, uid: 'f' }]);
    assert.is(ask(s, { kind: 'get', userId: uid(2), movieId: mid(2) }).rating, 4);
    assert.equal(s.apply(forget(2), v(7, 'f2')), { kind: 'forgetUser', userId: 2, removed: 1 });
    assert.equal(s.exportOverlay().forgotten, [{ userId: 2, order: 7, uid: 'f2' }]);
    s.apply(rate(2, 2, 4), v(6, 'zz'));
    assert.is(ask(s, { kind: 'get', userId: uid(2), movieId: mid(2) }).rating, null);
  });

  t('a store importing a peer\'s overlay equals the peer (movies and tombstones too)', async () => {
    const peer = await fresh();
    peer.apply(addMovie('Alpha (2010)', ['Drama']), v(1, 'm1'));
    peer.apply(addMovie('Beta (2011)', []), v(2, 'm2'));
    peer.apply(rate(1, TOP + 1, 4.5), v(3, 'r1'));
    peer.apply(rate(4, TOP + 2, 3), v(3, 'r2'));
    peer.apply(forget(4), v(4, 'f4'));
    peer.apply(rate(4, 1, 2), v(5, 'r3'));
    peer.apply(forget(6), v(4, 'f6')); // a user with no ratings: only the tombstone
    const overlay = peer.exportOverlay();
    const users = [1, 2, 3, 4, 5, 6];
    const movies = [...MOVIES.map((m) => m.movieId), TOP + 1, TOP + 2];
    const state = (s: MovieStore) => ({ answers: allQueries(users, movies).map((q) => answer(s, q)), overlay: s.exportOverlay(), digest: s.digest(), ratings: s.ratingCount(), movies: s.movieCount() });
    const copy = await fresh();
    copy.importOverlay(overlay);
    assert.equal(state(copy), state(peer));
    // Again (idempotent), and through the wire schema as JSON.
    copy.importOverlay(overlay);
    assert.equal(state(copy), state(peer));
    const wired = await fresh();
    wired.importOverlay(overlaySchema.parse(JSON.parse(JSON.stringify(overlay))));
    assert.equal(state(wired), state(peer));
    // A store that already holds an older rating of the forgotten user loses it to the tombstone.
    const behind = await fresh();
    behind.apply(rate(4, 2, 1), v(2, 'early'));
    behind.importOverlay(overlay);
    assert.equal(state(behind), state(peer));
  });

  t('the digest of an untouched store is unchanged', async () => {
    const s = await fresh();
    const rows = (extra: SeedRating[]) =>
      [...RATINGS.filter((r) => !extra.some((e) => e.userId === r.userId && e.movieId === r.movieId)), ...extra].sort((a, b) => a.userId - b.userId || a.movieId - b.movieId);
    // The definition in src/core/digest.ts, on the live ratings alone.
    assert.is(s.digest(), digestSortedRows(rows([])));
    s.apply(rate(1, 1, 2.5, 7), v(1));
    assert.is(s.digest(), digestSortedRows(rows([{ userId: 1, movieId: 1, rating: 2.5, timestamp: 7 }])));
    // Added movies and user tombstones are part of the value: they change it.
    const ratingsOnly = s.digest();
    s.apply(addMovie('Gamma (2012)'), v(2));
    const withMovie = s.digest();
    assert.is.not(withMovie, ratingsOnly);
    s.apply(forget(6), v(3)); // user 6 has no ratings: only the tombstone differs
    assert.is.not(s.digest(), withMovie);
  });

  t.run();
}

// ---------------------------------------------------------------------------
// The two implementations against each other.

const cross = suite('MemoryStore and SqliteStore');
const opened: SqliteStore[] = [];
const openSqlite = async (bytes?: Uint8Array) => {
  const s = await openSqliteStore(bytes ?? (await typedBytes()));
  opened.push(s);
  return s;
};
cross.after(() => {
  for (const s of opened) s.close();
});

cross('both stores answer every query identically on the seed data', async () => {
  const mem = new MemoryStore(MOVIES, RATINGS);
  const sql = await openSqlite();
  assert.equal(snapshot(sql), snapshot(mem));
  assert.is(sql.digest(), mem.digest());
});

cross('a database with untyped columns and text ids answers exactly like a typed one', async () => {
  const typed = await openSqlite();
  const legacy = await openSqlite(await legacyBytes());
  assert.equal(snapshot(legacy), snapshot(typed));
  const mem = new MemoryStore(MOVIES, RATINGS);
  const updates: [Update, Version][] = [
    [rate(1, 1, 2), v(1, 'a')],
    [del(3, 20), v(1, 'b')],
    [rate(7, 30, 4.5), v(2, 'c')],
  ];
  for (const s of [typed, legacy, mem]) for (const [u, ver] of updates) s.apply(u, ver);
  assert.equal(snapshot(legacy, [1, 3, 7]), snapshot(typed, [1, 3, 7]));
  assert.equal(snapshot(legacy, [1, 3, 7]), snapshot(mem, [1, 3, 7]));
});

cross('the digest of an untouched store is unchanged: on data/data.sqlite it is the plain ratings digest', async () => {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/data.sqlite');
  const SQL = await sqlJs();
  const db = new SQL.Database(readFileSync(file));
  const rows = (db.exec('SELECT userId, movieId, rating, timestamp FROM ratings ORDER BY userId, movieId')[0]?.values ?? []).map(([u, m, r, t]) => ({
    userId: Number(u),
    movieId: Number(m),
    rating: Number(r),
    timestamp: Number(t),
  }));
  db.close();
  const s = await loadSqliteStore(file);
  opened.push(s);
  assert.is(s.digest(), digestSortedRows(rows));
});

cross('opening a data file never writes into the caller\'s buffer', async () => {
  const bytes = Buffer.from(await typedBytes());
  const copy = Buffer.from(bytes);
  const s = await openSqlite(bytes);
  s.apply(rate(50, 1, 5), v(1));
  assert.ok(bytes.equals(copy));
  const again = await openSqlite(bytes);
  assert.is(again.ratingCount(), RATINGS.length);
});

// Random updates: small id ranges so rows collide; versions from a small set
// so equal orders and uid ties happen; uids whose UTF-16 and UTF-8 orders
// differ ('\u{1F600}' < '\uFF5E' in JavaScript, not in SQLite's byte order).
// Added movies: titles that collide with each other and with a seed title;
// ratings of the ids they get; forgets of users with and without ratings.
const UIDS = ['', 'a', 'b', 'ab', '\uFF5E', '\u{1F600}', 'é'];
const version = { order: fc.integer({ min: -2, max: 3 }), uid: fc.constantFrom(...UIDS) };
const arbUpdate = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constantFrom('rate' as const, 'delete' as const),
    userId: fc.integer({ min: 1, max: 4 }),
    movieId: fc.constantFrom(1, 2, 5, 11, 20, 99, 404, TOP + 1, TOP + 2),
    rating: fc.integer({ min: 1, max: 10 }).map((n) => n / 2),
    timestamp: fc.integer({ min: 0, max: 2_000_000_000 }),
    ...version,
  }) },
  { weight: 1, arbitrary: fc.record({
    kind: fc.constant('addMovie' as const),
    title: fc.constantFrom('Alpha (2010)', ' ALPHA  (2010)', 'Beta (2011)', 'Toy Story (1995)', 'Gamma (2012)'),
    genres: fc.subarray(['Drama', 'comedy', 'IMAX', 'drama', '(no genres listed)']),
    ...version,
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forgetUser' as const), userId: fc.integer({ min: 1, max: 5 }), ...version }) },
);
type Op = typeof arbUpdate extends fc.Arbitrary<infer T> ? T : never;
const toUpdate = (o: Op): Update => {
  switch (o.kind) {
    case 'rate':
      return { kind: 'rate', userId: uid(o.userId), movieId: mid(o.movieId), rating: o.rating, timestamp: o.timestamp };
    case 'delete':
      return { kind: 'delete', userId: uid(o.userId), movieId: mid(o.movieId), timestamp: o.timestamp };
    case 'addMovie':
      return { kind: 'addMovie', title: o.title, genres: o.genres };
    case 'forgetUser':
      return { kind: 'forgetUser', userId: uid(o.userId) };
  }
};
const versionOf = (o: Op): Version => ({ order: o.order, uid: updateId(o.uid) });
const PROPERTY_MOVIES = [...MOVIES.map((m) => m.movieId), TOP + 1, TOP + 2, TOP + 3];
const state = (s: MovieStore) => ({
  answers: allQueries([1, 2, 3, 4, 5], PROPERTY_MOVIES).map((q) => answer(s, q)),
  overlay: s.exportOverlay(),
  digest: s.digest(),
  ratings: s.ratingCount(),
  movies: s.movieCount(),
});

cross('property: any sequence of updates leaves both stores with equal digests, overlays and answers', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbUpdate, { maxLength: 40 }), async (ops) => {
      const mem = new MemoryStore(MOVIES, RATINGS);
      const sql = await openSqlite();
      for (const o of ops) assert.equal(sql.apply(toUpdate(o), versionOf(o)), mem.apply(toUpdate(o), versionOf(o)));
      assert.equal(state(sql), state(mem));
      sql.close();
      opened.pop();
    }),
    { numRuns: 100 },
  );
});

/**
 * A random order of `ops` that the service could deliver: forced updates
 * (addMovie) keep their relative order, as every replica applies them in log
 * order, and a rating of an added movie comes after the add that gave the id
 * (a client can only name it once it has seen it). Ratings and forgets
 * otherwise go anywhere.
 */
function deliverableOrder(ops: readonly Op[], seed: number): Op[] {
  const ref = new MemoryStore(MOVIES, RATINGS);
  const addOf = new Map<number, Op>();
  const adds = ops.filter((o) => o.kind === 'addMovie');
  for (const o of adds) {
    const out = ref.apply(toUpdate(o), versionOf(o));
    if (out?.kind === 'addMovie' && !out.existed) addOf.set(out.movieId, o);
  }
  const rng = new Rng(seed);
  const placed = new Set<Op>();
  const out: Op[] = [];
  const ready = (o: Op) => {
    if (o.kind === 'addMovie') return adds.slice(0, adds.indexOf(o)).every((a) => placed.has(a));
    if (o.kind === 'forgetUser') return true;
    const add = addOf.get(o.movieId);
    return add === undefined || placed.has(add);
  };
  while (out.length < ops.length) {
    const choices = ops.filter((o) => !placed.has(o) && ready(o));
    const next = rng.pick(choices);
    placed.add(next);
    out.push(next);
  }
  return out;
}

cross('property: any order of the same updates (ratings, adds, forgets) gives the same digest', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbUpdate, { maxLength: 40 }), fc.integer(), async (ops, seed) => {
      // One update per version, as in the service (both copies of an update carry the same version).
      const byVersion = new Map<string, Op>();
      for (const o of ops) if (!byVersion.has(`${o.order}/${o.uid}`)) byVersion.set(`${o.order}/${o.uid}`, o);
      // The reference order: every add first (in order), then the rest as generated.
      const unique = [...byVersion.values()];
      const reference = [...unique.filter((o) => o.kind === 'addMovie'), ...unique.filter((o) => o.kind !== 'addMovie')];
      const shuffled = deliverableOrder(unique, seed);
      const a = await openSqlite();
      const b = await openSqlite();
      const m = new MemoryStore(MOVIES, RATINGS);
      for (const o of reference) a.apply(toUpdate(o), versionOf(o));
      for (const o of shuffled) b.apply(toUpdate(o), versionOf(o));
      for (const o of shuffled) m.apply(toUpdate(o), versionOf(o));
      assert.is(b.digest(), a.digest());
      assert.is(m.digest(), a.digest());
      assert.equal(b.exportOverlay(), a.exportOverlay());
      assert.equal(m.exportOverlay(), a.exportOverlay());
      // And a fresh store importing the overlay reaches the same table.
      const c = await openSqlite();
      c.importOverlay(a.exportOverlay());
      assert.equal(state(c), state(a));
      for (const s of [a, b, c]) s.close();
      opened.splice(-3);
    }),
    { numRuns: 200 },
  );
});

cross.run();

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('the store loads a data file from disk and reports a missing one clearly', async () => {
  const file = path.join(tmp, 'disk.sqlite');
  writeFileSync(file, await typedBytes());
  const s = await loadSqliteStore(file);
  assert.is(s.movieCount(), MOVIES.length);
  assert.is(s.ratingCount(), RATINGS.length);
  s.close();
  try {
    await loadSqliteStore(path.join(tmp, 'missing.sqlite'));
    assert.unreachable('loaded a missing file');
  } catch (err) {
    assert.match(String(err), /missing\.sqlite/);
  }
});

test.run();
