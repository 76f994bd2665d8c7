/**
 * The shape rules of the new updates (addMovie, forgetUser): what the core
 * refuses before anything is sequenced, with which code and message, and the
 * canonical form every replica stores.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId as mid, userId as uid } from '../../src/core/ids.js';
import { canonicalUpdate, checkUpdateShape, GENRES, NO_GENRES_LISTED, OpError, titleKey, type OpErrorCode, type Update } from '../../src/core/ops.js';
import { updateSchema } from '../../src/core/schemas.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENRES as FILE_GENRES, NO_GENRES, parseGenres, sqlJs } from '../../src/data/schema.js';

const test = suite('update shape: addMovie and forgetUser');

const add = (title: string, genres: string[] = []): Update => ({ kind: 'addMovie', title, genres });

function refusal(u: Update): { code: OpErrorCode; message: string } | undefined {
  try {
    checkUpdateShape(u);
    return undefined;
  } catch (err) {
    if (!(err instanceof OpError)) throw err;
    return { code: err.code, message: err.message };
  }
}

test('a title of the form "Title (YYYY)" with a year from 1870 to 2100 is accepted', () => {
  for (const t of ['Toy Story (1995)', 'Heist, The (1999)', 'Cité des enfants perdus, La (City of Lost Children, The) (1995)', '  Spaced   Out (1870) ', 'X (2100)', `${'a'.repeat(200)} (2000)`]) {
    assert.is(refusal(add(t)), undefined, t);
  }
});

test('any other title fails with BAD_TITLE, saying the expected form', () => {
  const bad = [
    'Toy Story',
    'Toy Story 1995',
    'Toy Story(1995)',
    'Toy Story (95)',
    'Toy Story (1995) extra',
    ' (1995)',
    '(1995)',
    'Old (1869)',
    'Far (2101)',
    `${'a'.repeat(201)} (2000)`,
    'Tab\there (2000)',
    'Line\nbreak (2000)',
    'Bell\u0007 (2000)',
    '',
  ];
  for (const t of bad) {
    const r = refusal(add(t));
    assert.is(r?.code, 'BAD_TITLE', JSON.stringify(t));
    assert.match(r!.message, /"Title \(YYYY\)"/);
    assert.match(r!.message, /1870 to 2100/);
  }
  assert.match(refusal(add('Old (1869)'))!.message, /year 1869 is out of range/);
  assert.match(refusal(add('Line\nbreak (2000)'))!.message, /control character/);
});

test('genres are the MovieLens names in any case; any other fails with BAD_GENRE listing them', () => {
  assert.is(refusal(add('A (2000)', ['action', 'SCI-FI', 'Film-noir', 'imax', NO_GENRES_LISTED])), undefined);
  for (const g of ['Scifi', 'Sci Fi', 'Action|Drama', '', 'Family']) {
    const r = refusal(add('A (2000)', ['Drama', g]));
    assert.is(r?.code, 'BAD_GENRE', g);
    assert.match(r!.message, new RegExp(JSON.stringify(g).replace(/[|()]/g, '\\$&')));
    for (const name of GENRES) assert.ok(r!.message.includes(name), `${name} is listed`);
    assert.ok(r!.message.includes(NO_GENRES_LISTED));
  }
});

test('forgetUser needs a valid user id (BAD_USER); rate and delete are checked as before', () => {
  assert.is(refusal({ kind: 'forgetUser', userId: uid(7) }), undefined);
  assert.is(refusal({ kind: 'forgetUser', userId: uid(0) })?.code, 'BAD_USER');
  assert.is(refusal({ kind: 'forgetUser', userId: uid(1.5) })?.code, 'BAD_USER');
  assert.is(refusal({ kind: 'rate', userId: uid(1), movieId: mid(1), rating: 3.3, timestamp: 1 })?.code, 'BAD_RATING');
  assert.is(refusal({ kind: 'rate', userId: uid(0), movieId: mid(1), rating: 3, timestamp: 1 })?.code, 'BAD_USER');
  assert.is(refusal({ kind: 'delete', userId: uid(1), movieId: mid(0), timestamp: 1 })?.code, 'BAD_MOVIE');
  assert.is(refusal({ kind: 'delete', userId: uid(1), movieId: mid(1), timestamp: -1 })?.code, 'BAD_REQUEST');
});

test('canonicalUpdate collapses spaces in the title and sorts, deduplicates and spells genres the MovieLens way', () => {
  assert.equal(canonicalUpdate(add('  Night   of the\u00a0Comet  (1984) ', ['sci-fi', 'COMEDY', 'Comedy', 'action'])), {
    kind: 'addMovie',
    title: 'Night of the Comet (1984)',
    genres: ['Action', 'Comedy', 'Sci-Fi'],
  });
  assert.equal(canonicalUpdate(add('A (2000)')), { kind: 'addMovie', title: 'A (2000)', genres: [NO_GENRES_LISTED] });
  assert.equal(canonicalUpdate(add('A (2000)', ['(NO GENRES LISTED)'])), { kind: 'addMovie', title: 'A (2000)', genres: [NO_GENRES_LISTED] });
  // The marker means "none": next to a real genre it is dropped.
  assert.equal(canonicalUpdate(add('A (2000)', [NO_GENRES_LISTED, 'war'])), { kind: 'addMovie', title: 'A (2000)', genres: ['War'] });
  // Every genre in reverse order comes back in list order.
  assert.equal((canonicalUpdate(add('A (2000)', [...GENRES].reverse().map((g) => g.toUpperCase()))) as Extract<Update, { kind: 'addMovie' }>).genres, [...GENRES]);
});

test('canonicalUpdate is idempotent and leaves other kinds as they are', () => {
  const once = canonicalUpdate(add(' x   y (2000)', ['drama', 'Action']));
  assert.equal(canonicalUpdate(once), once);
  const r: Update = { kind: 'rate', userId: uid(1), movieId: mid(2), rating: 3, timestamp: 4 };
  assert.is(canonicalUpdate(r), r);
  const f: Update = { kind: 'forgetUser', userId: uid(1) };
  assert.is(canonicalUpdate(f), f);
});

test('titles are the same movie when equal ignoring case and runs of spaces', () => {
  assert.is(titleKey('  toy   STORY (1995)'), titleKey('Toy Story (1995)'));
  assert.is.not(titleKey('Toy Story (1996)'), titleKey('Toy Story (1995)'));
  assert.is.not(titleKey('ToyStory (1995)'), titleKey('Toy Story (1995)'));
});

test('every genre of the data file can be given to add-movie, and the list is alphabetical', async () => {
  const SQL = await sqlJs();
  const db = new SQL.Database(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/data.sqlite')));
  const used = new Set<string>([...FILE_GENRES]);
  for (const [column] of db.exec('SELECT DISTINCT genres FROM movies')[0]?.values ?? []) for (const g of parseGenres(String(column))) used.add(g);
  db.close();
  assert.ok(used.size >= 19);
  for (const g of used) assert.is(refusal(add('A (2000)', [g])), undefined, `genre ${g}`);
  assert.is(NO_GENRES_LISTED, NO_GENRES);
  assert.equal([...GENRES], [...GENRES].sort(), 'alphabetical, so list order is name order');
});

test('the wire schema takes addMovie and forgetUser and bounds their sizes', () => {
  assert.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'A (2000)', genres: ['Drama'] }).success);
  assert.ok(updateSchema.safeParse({ kind: 'forgetUser', userId: 3 }).success);
  // The precise title and genre rules are the core's: the schema lets them through.
  assert.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'no year', genres: ['Nope'] }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'x'.repeat(301), genres: [] }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'A (2000)', genres: Array(21).fill('Drama') }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'A (2000)', genres: ['x'.repeat(41)] }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'addMovie', title: 'A (2000)' }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'forgetUser', userId: 0 }).success);
  assert.not.ok(updateSchema.safeParse({ kind: 'forgetUser' }).success);
});

test.run();
