/**
 * The generated default data: reproducible from its seed, MovieLens-shaped,
 * and the committed data/data.sqlite is exactly what the generator makes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDataFile, FIRST_TIMESTAMP, generateDataset, LAST_TIMESTAMP, sha256, type Dataset } from '../../src/data/generate.js';
import { Rng, weightedSampler, zipfSampler } from '../../src/data/rng.js';
import { GENRES } from '../../src/data/schema.js';
import { openSqliteStore } from '../../src/replica/store/sqlite-store.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// One generation with the default seed, shared by the shape checks.
let cached: { data: Dataset; bytes: Uint8Array } | undefined;
async function defaultData(): Promise<{ data: Dataset; bytes: Uint8Array }> {
  if (!cached) {
    const data = generateDataset();
    cached = { data, bytes: await buildDataFile(data) };
  }
  return cached;
}

const det = suite('generator determinism');

det('the same seed gives byte-identical data files', async () => {
  const { bytes } = await defaultData();
  const again = await buildDataFile(generateDataset());
  assert.is(sha256(again), sha256(bytes));
});

det('a different seed gives different data', () => {
  const a = generateDataset({ seed: 1, movies: 300, users: 20, ratings: 2000 });
  const b = generateDataset({ seed: 2, movies: 300, users: 20, ratings: 2000 });
  assert.is.not(JSON.stringify(a.ratings), JSON.stringify(b.ratings));
  assert.equal(generateDataset({ seed: 1, movies: 300, users: 20, ratings: 2000 }), a);
});

det('the committed data/data.sqlite is what `npm run data` generates', async () => {
  const { bytes } = await defaultData();
  const committed = readFileSync(path.join(root, 'data', 'data.sqlite'));
  assert.is(sha256(committed), sha256(bytes), 'data/data.sqlite is stale: run `npm run data` and commit it');
});

det.run();

const shape = suite('generated data shape');

shape('about 9,700 movies with MovieLens titles and 1 to 4 known genres', async () => {
  const { data } = await defaultData();
  assert.ok(data.movies.length >= 9_500 && data.movies.length <= 9_900, `${data.movies.length} movies`);
  const known = new Set<string>(GENRES);
  const titles = new Set<string>();
  let withComma = 0;
  let noGenres = 0;
  let prev = 0;
  for (const m of data.movies) {
    assert.ok(m.movieId > prev, 'movie ids increase');
    prev = m.movieId;
    assert.match(m.title, /^\S.* \((19[1-9]\d|200\d|201[0-8])\)$/, `title "${m.title}" ends with a year 1915–2018`);
    assert.ok(m.year >= 1915 && m.year <= 2018);
    assert.not.ok(titles.has(m.title), `title "${m.title}" appears twice`);
    titles.add(m.title);
    if (m.title.includes(',')) withComma++;
    if (m.genres.length === 0) noGenres++;
    assert.ok(m.genres.length <= 5);
    for (const g of m.genres) assert.ok(known.has(g), `unknown genre ${g}`);
    assert.equal([...m.genres].sort(), [...m.genres], 'genres are listed alphabetically');
  }
  assert.ok(withComma > 100 && withComma < data.movies.length / 2, `${withComma} titles with a comma`);
  assert.ok(noGenres > 0 && noGenres < 100, `${noGenres} movies without genres`);
});

shape('movie 1 is Toy Story (1995)', async () => {
  const { data } = await defaultData();
  assert.equal(data.movies[0], {
    movieId: 1,
    title: 'Toy Story (1995)',
    genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
    year: 1995,
  });
});

shape('about 100,000 half-star ratings by users 1..610 of existing movies, after release', async () => {
  const { data } = await defaultData();
  assert.ok(data.ratings.length >= 95_000 && data.ratings.length <= 100_000, `${data.ratings.length} ratings`);
  const year = new Map(data.movies.map((m) => [m.movieId, m.year]));
  const users = new Set<number>();
  const pairs = new Set<string>();
  let prevKey = -1;
  for (const r of data.ratings) {
    assert.ok(r.rating >= 0.5 && r.rating <= 5 && Number.isInteger(r.rating * 2), `rating ${r.rating}`);
    const y = year.get(r.movieId);
    assert.ok(y !== undefined, `rating of unknown movie ${r.movieId}`);
    assert.ok(r.timestamp >= FIRST_TIMESTAMP && r.timestamp <= LAST_TIMESTAMP, `timestamp ${r.timestamp}`);
    assert.ok(new Date(r.timestamp * 1000).getUTCFullYear() >= (y as number), 'rated before release');
    const key = r.userId * 1e6 + r.movieId;
    assert.ok(key > prevKey, 'ratings are in (user, movie) order without duplicates');
    prevKey = key;
    users.add(r.userId);
    pairs.add(`${r.userId}:${r.movieId}`);
  }
  assert.equal(
    [...users].sort((a, b) => a - b),
    Array.from({ length: 610 }, (_, i) => i + 1),
  );
});

shape('ratings spread like MovieLens: light and heavy users, popular movies, varied averages, whole stars commoner', async () => {
  const { data } = await defaultData();
  const perUser = new Map<number, number>();
  const perMovie = new Map<number, { n: number; sum: number }>();
  let whole = 0;
  for (const r of data.ratings) {
    perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + 1);
    const m = perMovie.get(r.movieId) ?? { n: 0, sum: 0 };
    m.n++;
    m.sum += r.rating;
    perMovie.set(r.movieId, m);
    if (Number.isInteger(r.rating)) whole++;
  }
  const counts = [...perUser.values()];
  assert.ok(counts.some((c) => c < 50), 'some users rate fewer than 50 movies');
  assert.ok(counts.some((c) => c > 1000), 'some users rate more than 1,000 movies');
  const top = Math.max(...[...perMovie.values()].map((m) => m.n));
  assert.ok(top >= 150 && top <= 610, `the most rated movie has ${top} ratings`);
  assert.ok([...perMovie.values()].filter((m) => m.n === 1).length > 300, 'a long tail of movies rated once');
  const averages = [...perMovie.values()].filter((m) => m.n >= 20).map((m) => m.sum / m.n);
  assert.ok(Math.min(...averages) < 2.8 && Math.max(...averages) > 4.2, 'averages of well-rated movies vary');
  assert.ok(whole > data.ratings.length / 2 && whole < data.ratings.length, 'whole stars are more common than half stars');
  const mean = data.ratings.reduce((a, r) => a + r.rating, 0) / data.ratings.length;
  assert.ok(mean > 3.2 && mean < 3.8, `mean rating ${mean}`);
});

shape('the data file loads as a store that agrees with the rows', async () => {
  const { data, bytes } = await defaultData();
  const store = await openSqliteStore(bytes);
  try {
    assert.is(store.movieCount(), data.movies.length);
    assert.is(store.ratingCount(), data.ratings.length);
    const toy = data.ratings.filter((r) => r.movieId === 1);
    const avg = store.query({ kind: 'avg', movieId: 1 as never });
    assert.equal(avg, {
      kind: 'avg',
      movieId: 1,
      title: 'Toy Story (1995)',
      average: Math.round((toy.reduce((a, r) => a + r.rating, 0) / toy.length) * 100) / 100,
      count: toy.length,
    });
  } finally {
    store.close();
  }
});

shape.run();

const rng = suite('seeded random numbers');

rng('a seed always gives the same sequence, and different seeds different ones', () => {
  const draw = (seed: number | string) => {
    const r = new Rng(seed);
    return Array.from({ length: 8 }, () => r.uint32());
  };
  assert.equal(draw(42), draw(42));
  assert.equal(draw('users'), draw('users'));
  assert.is.not(JSON.stringify(draw(1)), JSON.stringify(draw(2)));
  // Pinned values: a change to the generator would silently change every generated data set.
  assert.equal(draw(1).slice(0, 3), [393288148, 2174103013, 3814759091]);
});

rng('helpers stay in their ranges and follow their weights', () => {
  const r = new Rng(7);
  for (let i = 0; i < 10_000; i++) {
    const n = r.int(-3, 3);
    assert.ok(Number.isInteger(n) && n >= -3 && n <= 3);
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  const sample = weightedSampler([0, 1, 3]);
  const hits = [0, 0, 0];
  for (let i = 0; i < 20_000; i++) hits[sample(r)]!++;
  assert.is(hits[0], 0);
  assert.ok(Math.abs((hits[2] as number) / (hits[1] as number) - 3) < 0.3, `weights 1:3 gave ${hits[1]}:${hits[2]}`);
  const zipf = zipfSampler(100, 1);
  let ones = 0;
  for (let i = 0; i < 10_000; i++) {
    const k = zipf(r);
    assert.ok(k >= 1 && k <= 100);
    if (k === 1) ones++;
  }
  assert.ok(ones > 1500 && ones < 2300, `rank 1 drawn ${ones} times in 10,000 (expected about 1,900)`);
  const shuffled = r.shuffle([1, 2, 3, 4, 5, 6]);
  assert.equal([...shuffled].sort(), [1, 2, 3, 4, 5, 6]);
});

rng.run();
