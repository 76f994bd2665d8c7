/**
 * Generates the default data set: MovieLens-shaped movies and ratings that
 * look plausible (titles, years, genres, a realistic spread of ratings) but
 * are made up, so the project can ship them. Deterministic: the same options
 * give the same rows, and `buildDataFile` turns them into the same bytes.
 *
 * The model, in short:
 * - Movie ids increase with small gaps (like MovieLens, where ids follow the
 *   order movies were added). Each movie is either a "new release" of the
 *   time it was added (1995 → 2018 along the id range) or an older classic
 *   (1915 onwards). Movie 1 is Toy Story (1995).
 * - Popularity is Zipf-like over a rank that favours early ids, so old
 *   favourites collect hundreds of ratings and most movies a handful.
 * - Each user has an activity window (1996-03-29 … 2018-09-24; one sitting
 *   for most, months or years for some), a number of ratings (log-normal:
 *   tens for most, thousands for a few), a bias and a spread. A user only
 *   rates movies released by the end of their window, never before release.
 * - rating ≈ movie quality + user bias + noise, rounded to whole stars, or to
 *   half stars for some users active after 2003 (when MovieLens added half
 *   stars), so whole stars are the more common.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'sql.js';
import { Rng, weightedSampler } from './rng.js';
import { createIndexes, createSchema, formatGenres, GENRES, sqlJs } from './schema.js';

export const DEFAULT_SEED = 1995;

export interface GenerateOptions {
  /** Default DEFAULT_SEED. */
  readonly seed?: number | string;
  /** Number of movies; default 9,700. */
  readonly movies?: number;
  /** Number of users, ids 1..users; default 610. */
  readonly users?: number;
  /** Target number of ratings; default 100,000 (a few may be missing when early users run out of eligible movies). */
  readonly ratings?: number;
}

export interface GeneratedMovie {
  readonly movieId: number;
  readonly title: string;
  readonly genres: readonly string[];
  readonly year: number;
}

export interface GeneratedRating {
  readonly userId: number;
  readonly movieId: number;
  readonly rating: number;
  readonly timestamp: number;
}

export interface Dataset {
  /** In movieId order. */
  readonly movies: readonly GeneratedMovie[];
  /** In (userId, movieId) order. */
  readonly ratings: readonly GeneratedRating[];
}

/** Rows for a data file: any movies and ratings (a Dataset is one). */
export interface DataRows {
  readonly movies: readonly { readonly movieId: number; readonly title: string; readonly genres: readonly string[] }[];
  readonly ratings: readonly GeneratedRating[];
}

/** First and last rating time of MovieLens "latest-small" (Unix seconds). */
export const FIRST_TIMESTAMP = 828_124_800; // 1996-03-29T00:00:00Z
export const LAST_TIMESTAMP = 1_537_799_250; // 2018-09-24T14:27:30Z
const FIRST_YEAR = 1915;
const LAST_YEAR = 2018;

// ---------------------------------------------------------------------------
// Titles

const ADJECTIVES = [
  'Silent', 'Crimson', 'Broken', 'Last', 'Hidden', 'Golden', 'Dark', 'Lost', 'Forgotten', 'Endless', 'Burning',
  'Frozen', 'Wild', 'Savage', 'Quiet', 'Electric', 'Velvet', 'Iron', 'Hollow', 'Distant', 'Secret', 'Final', 'Long',
  'Little', 'Big', 'Bright', 'Cold', 'Deadly', 'Sweet', 'Bitter', 'Lonely', 'Restless', 'Fallen', 'Perfect',
  'Strange', 'Sudden', 'Invisible', 'Eternal', 'Scarlet', 'Blue', 'Black', 'White', 'Red', 'Silver', 'Paper',
  'Glass', 'Stone', 'Lucky', 'Crazy', 'Dangerous', 'Beautiful', 'Brave', 'Empty', 'Northern', 'Southern', 'Ancient',
  'Young', 'First', 'Seventh', 'Hungry', 'Reckless', 'Wicked', 'Gentle', 'Proud', 'Tender', 'Naked', 'Shining',
  'Crooked', 'Rising', 'Falling', 'Open', 'Private', 'Public', 'Royal', 'Jealous', 'Innocent', 'Happy', 'Kind',
];
const NOUNS = [
  'Harbor', 'River', 'Road', 'Night', 'Kingdom', 'Garden', 'Storm', 'Shadow', 'Mirror', 'Horizon', 'Heart', 'Dream',
  'Promise', 'Journey', 'Summer', 'Winter', 'Island', 'Mountain', 'City', 'Town', 'Valley', 'Station', 'Hotel',
  'House', 'Room', 'Window', 'Door', 'Bridge', 'Tower', 'Castle', 'Forest', 'Desert', 'Ocean', 'Sky', 'Star', 'Moon',
  'Fire', 'Rain', 'Wind', 'Game', 'Affair', 'Stranger', 'Dancer', 'Singer', 'Pilot', 'Doctor', 'Teacher', 'King',
  'Queen', 'Prince', 'Empire', 'Legacy', 'Letter', 'Song', 'Waltz', 'Melody', 'Crossing', 'Border', 'Wedding',
  'Party', 'Weekend', 'Holiday', 'Voyage', 'Escape', 'Return', 'Truth', 'Lie', 'Season', 'Country', 'Road Home',
  'Painter', 'Widow', 'Sister', 'Brother', 'Daughter', 'Son', 'Father', 'Mother', 'Family', 'Neighbor', 'Bride',
];
const THEMED: Record<string, readonly string[]> = {
  Horror: ['Curse', 'Haunting', 'Thing', 'Beast', 'Nightmare', 'Ritual', 'Possession', 'Crypt', 'Witch', 'Graveyard', 'Creature', 'Evil', 'Massacre', 'Shriek'],
  'Sci-Fi': ['Planet', 'Signal', 'Android', 'Galaxy', 'Orbit', 'Colony', 'Protocol', 'Void', 'Machine', 'Clone', 'Reactor', 'Frequency', 'Starship', 'Singularity'],
  Western: ['Sheriff', 'Outlaw', 'Canyon', 'Ranch', 'Gunfighter', 'Saddle', 'Frontier', 'Stagecoach', 'Posse', 'Rider', 'Trail', 'Mesa'],
  Romance: ['Kiss', 'Love', 'Valentine', 'Honeymoon', 'Sweetheart', 'Romance', 'Serenade', 'Rendezvous', 'Flirt', 'Embrace'],
  War: ['Battalion', 'Front', 'Siege', 'Battle', 'Trench', 'Platoon', 'Regiment', 'Armistice', 'Convoy', 'Squadron', 'Surrender'],
  Children: ['Puppy', 'Dragon', 'Rabbit', 'Robot', 'Treasure', 'Friends', 'Circus', 'Pony', 'Penguin', 'Wizard', 'Snowman', 'Balloon'],
  Animation: ['Dragon', 'Robot', 'Fox', 'Mouse', 'Kingdom', 'Toy', 'Bear', 'Owl', 'Kitten', 'Giant', 'Troll', 'Mermaid'],
  Crime: ['Heist', 'Alibi', 'Witness', 'Job', 'Getaway', 'Conspiracy', 'Badge', 'Racket', 'Score', 'Hustle', 'Mob', 'Informant'],
  Thriller: ['Witness', 'Target', 'Trap', 'Conspiracy', 'Pursuit', 'Hostage', 'Deadline', 'Stalker', 'Ransom', 'Cover-Up'],
  Action: ['Strike', 'Force', 'Fury', 'Mission', 'Impact', 'Bullet', 'Takedown', 'Rampage', 'Showdown', 'Vendetta'],
  Musical: ['Melody', 'Rhythm', 'Chorus', 'Ballroom', 'Broadway', 'Jukebox', 'Serenade', 'Encore', 'Swing'],
  Comedy: ['Mix-Up', 'Caper', 'Roommate', 'Neighbors', 'Blind Date', 'Road Trip', 'Reunion', 'Prank', 'In-Laws', 'Bachelor'],
  Mystery: ['Riddle', 'Clue', 'Secret', 'Key', 'Case', 'Puzzle', 'Disappearance', 'Locket', 'Cipher'],
  'Film-Noir': ['Alibi', 'Dame', 'Sleeper', 'Racket', 'Dark Corner', 'Night Edition', 'Big Clock', 'Double Cross'],
  Fantasy: ['Sorcerer', 'Amulet', 'Sword', 'Prophecy', 'Realm', 'Unicorn', 'Spell', 'Oracle', 'Enchantress'],
  Drama: ['Inheritance', 'Confession', 'Homecoming', 'Farewell', 'Verdict', 'Scholarship', 'Harvest', 'Diary'],
};
const PLACES = [
  'Kyoto', 'Paris', 'Berlin', 'Vienna', 'Tokyo', 'Rome', 'Lisbon', 'Havana', 'Cairo', 'Istanbul', 'Moscow', 'Shanghai',
  'Bombay', 'Brooklyn', 'Chicago', 'Texas', 'Montana', 'Alaska', 'Manhattan', 'Casablanca', 'Marseille', 'Naples',
  'Venice', 'Prague', 'Budapest', 'Dublin', 'Glasgow', 'Oslo', 'Reykjavik', 'Mexico', 'Rio', 'Buenos Aires', 'Sydney',
  'Hong Kong', 'Seoul', 'Bangkok', 'Tangier', 'Nairobi', 'Memphis', 'Nashville', 'New Orleans', 'Las Vegas',
  'Hollywood', 'San Francisco', 'Seattle', 'Boston', 'Miami', 'Montreal', 'Tuscany', 'Provence', 'Malibu', 'Harlem',
];
const TIMES = ['Midnight', 'Morning', 'Sunday', 'Saturday Night', 'Christmas', 'Summer', 'Winter', 'Dawn', 'Twilight', 'Noon', 'Friday', 'Autumn', 'Spring', 'Last Night'];
const NAMES = [
  'Harry', 'Sally', 'Jack', 'Annie', 'Charlie', 'Lucy', 'Max', 'Rosa', 'Frank', 'Edith', 'Oscar', 'Maria', 'Tom',
  'Kate', 'Leo', 'Nina', 'Sam', 'Grace', 'Walter', 'Vera', 'Joe', 'Ruby', 'Felix', 'Clara', 'Hugo', 'Ida', 'Bruno',
  'Lola', 'Otto', 'Mabel', 'Stella', 'Arthur', 'Dolores', 'Eddie', 'Frances', 'Gus', 'Hattie', 'Ike', 'June',
];
const SUBTITLES = ['The Return', 'The Beginning', 'Reckoning', 'Homecoming', 'The Final Chapter', 'Revelations', 'Legacy', 'Resurrection', 'The Reunion', 'Aftermath'];
const DOC_TOPICS = ['Jazz', 'Chess', 'Coffee', 'Bees', 'Glaciers', 'Surfing', 'Typewriters', 'Opera', 'Skateboarding', 'Bread', 'Whales', 'Comics', 'Tango', 'Volcanoes', 'Ballet', 'Vinyl', 'Mushrooms', 'Cartography', 'Marathon', 'Circus'];
/** [original title, English title], MovieLens style: the article moves to the end. */
const FOREIGN: readonly (readonly [string, string])[] = [
  ['Dernier Été, Le', 'Last Summer, The'], ['Nuit Blanche, La', 'Sleepless Night'], ['Rivière Noire, La', 'Black River, The'],
  ['Jardin Secret, Le', 'Secret Garden, The'], ['Grand Voyage, Le', 'Long Journey, The'], ['Cité des Ombres, La', 'City of Shadows'],
  ['Notte Bianca, La', 'White Night, The'], ['Strada Lunga, La', 'Long Road, The'], ['Ultimo Treno, L\'', 'Last Train, The'],
  ['Sole di Mezzanotte, Il', 'Midnight Sun'], ['Stille Haus, Das', 'Quiet House, The'], ['Letzte Sommer, Der', 'Last Summer, The'],
  ['Schwarze Fluss, Der', 'Black River, The'], ['Mar Adentro', 'Into the Sea'], ['Casa de los Espejos, La', 'House of Mirrors, The'],
  ['Noche Eterna', 'Endless Night'], ['Cielo Rojo, El', 'Red Sky, The'], ['Ostatni Dzień', 'Last Day, The'], ['Zimní Zahrada', 'Winter Garden'],
  ['Sommarnatt', 'Summer Night'], ['Tystnaden i Staden', 'Silence in the City, The'], ['Hiver à Kyoto, Un', 'A Winter in Kyoto'],
  ['Tokyo Monogatari no Yoru', 'Tokyo Night Story'], ['Âme Perdue, L\'', 'Lost Soul, The'], ['Été Indien, L\'', 'Indian Summer'],
  ['Fille du Phare, La', 'Lighthouse Girl, The'], ['Año del Cometa, El', 'Year of the Comet, The'], ['Canção do Mar', 'Song of the Sea'],
  ['Ljubav u Zagrebu', 'Love in Zagreb'], ['Pequeño Héroe, El', 'Little Hero, The'],
];

/** English titles are stored MovieLens style: "The Heist" → "Heist, The". */
function withArticle(core: string, article: string): string {
  return article ? `${core}, ${article}` : core;
}

interface TitleParts {
  /** Title without the moved article and without the year. */
  readonly core: string;
  readonly article: string;
  /** A sequel can be made of it. */
  readonly sequelable: boolean;
}

function themedNoun(rng: Rng, genres: readonly string[]): string {
  const themes = genres.filter((g) => THEMED[g]);
  if (themes.length > 0 && rng.chance(0.55)) return rng.pick(THEMED[rng.pick(themes)] as readonly string[]);
  return rng.pick(NOUNS);
}

function makeTitle(rng: Rng, genres: readonly string[], foreignLeft: (readonly [string, string])[]): TitleParts {
  const noun = () => themedNoun(rng, genres);
  if (genres.includes('Documentary') && rng.chance(0.7)) {
    const topic = rng.pick(DOC_TOPICS);
    const forms = [`${topic}: A Story`, `Inside ${rng.pick(PLACES)}`, `${rng.pick(NAMES)} and the ${topic}`, `${topic} Country`, `Searching for ${rng.pick(NAMES)}`, `The ${topic} Years`];
    const t = rng.pick(forms);
    return t.startsWith('The ') ? { core: t.slice(4), article: 'The', sequelable: false } : { core: t, article: '', sequelable: false };
  }
  if (foreignLeft.length > 0 && rng.chance(0.025)) {
    const i = rng.int(0, foreignLeft.length - 1);
    const [orig, english] = foreignLeft[i] as readonly [string, string];
    foreignLeft.splice(i, 1);
    return { core: `${orig} (${english})`, article: '', sequelable: false };
  }
  const pattern = rng.weightedPick(
    ['theAdjNoun', 'adjNoun', 'nounOfThe', 'timeInPlace', 'possessive', 'nameAndName', 'single', 'fromPlace', 'aNounIn', 'subtitle', 'adjPlace'],
    [10, 20, 10, 8, 8, 4, 10, 6, 5, 6, 5],
  );
  switch (pattern) {
    case 'theAdjNoun':
      return { core: `${rng.pick(ADJECTIVES)} ${noun()}`, article: 'The', sequelable: true };
    case 'adjNoun':
      return { core: `${rng.pick(ADJECTIVES)} ${noun()}`, article: '', sequelable: true };
    case 'nounOfThe':
      return { core: `${noun()} of the ${rng.chance(0.5) ? rng.pick(ADJECTIVES) + ' ' : ''}${noun()}`, article: rng.chance(0.4) ? 'The' : '', sequelable: true };
    case 'timeInPlace':
      return { core: `${rng.pick(TIMES)} in ${rng.pick(PLACES)}`, article: '', sequelable: false };
    case 'possessive':
      return { core: `${rng.pick(NAMES)}'s ${noun()}`, article: '', sequelable: true };
    case 'nameAndName': {
      const a = rng.pick(NAMES);
      let b = rng.pick(NAMES);
      if (b === a) b = rng.pick(NAMES);
      return { core: `${a} and ${b}`, article: '', sequelable: false };
    }
    case 'single':
      return { core: noun(), article: rng.chance(0.35) ? 'The' : '', sequelable: true };
    case 'fromPlace':
      return { core: `${noun()} from ${rng.pick(PLACES)}`, article: rng.chance(0.5) ? 'The' : '', sequelable: false };
    case 'aNounIn':
      return { core: `${noun()} in ${rng.pick(PLACES)}`, article: rng.chance(0.5) ? 'A' : '', sequelable: false };
    case 'subtitle':
      return { core: `${rng.pick(ADJECTIVES)} ${noun()}: ${rng.pick(SUBTITLES)}`, article: '', sequelable: false };
    default:
      return { core: `${rng.pick(ADJECTIVES)} ${rng.pick(PLACES)}`, article: '', sequelable: true };
  }
}

// ---------------------------------------------------------------------------
// Movies

/** Approximate share of each genre in MovieLens (movies per genre). */
const GENRE_WEIGHTS: Record<(typeof GENRES)[number], number> = {
  Action: 1828, Adventure: 1263, Animation: 611, Children: 664, Comedy: 3756, Crime: 1199, Documentary: 440,
  Drama: 4361, Fantasy: 779, 'Film-Noir': 87, Horror: 978, IMAX: 158, Musical: 334, Mystery: 573, Romance: 1596,
  'Sci-Fi': 980, Thriller: 1894, War: 382, Western: 167,
};

/** Back-catalogue release decades, weighted like MovieLens' older films. */
const CLASSIC_DECADES = [1910, 1920, 1930, 1940, 1950, 1960, 1970, 1980, 1990];
const CLASSIC_WEIGHTS = [1, 3, 7, 9, 10, 11, 12, 16, 14];

function pickGenres(rng: Rng, year: number): string[] {
  if (rng.chance(0.004)) return []; // "(no genres listed)"
  const n = rng.weightedPick([1, 2, 3, 4], [30, 36, 24, 10]);
  const names = GENRES.filter((g) => g !== 'IMAX' || year >= 1995);
  const weights = names.map((g) => GENRE_WEIGHTS[g]);
  const chosen = new Set<string>();
  for (let tries = 0; chosen.size < n && tries < 20; tries++) chosen.add(rng.weightedPick(names, weights));
  if (chosen.has('Documentary') && chosen.size > 2) return ['Documentary', [...chosen].find((g) => g !== 'Documentary') as string].sort();
  return [...chosen].sort();
}

function makeMovies(rng: Rng, count: number): GeneratedMovie[] {
  const movies: GeneratedMovie[] = [{ movieId: 1, title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'], year: 1995 }];
  const seen = new Set<string>(['Toy Story (1995)']);
  const foreignLeft = FOREIGN.slice();
  const sequelBases: { parts: TitleParts; year: number; genres: readonly string[]; n: number }[] = [];
  let id = 1;
  while (movies.length < count) {
    id += rng.chance(0.82) ? 1 : rng.int(2, 9);
    const p = movies.length / count; // position along the id range: when the movie was "added"
    let year: number;
    let genres: string[];
    let parts: TitleParts;
    const base = sequelBases.length > 0 && rng.chance(0.03) ? rng.pick(sequelBases) : undefined;
    if (base && base.year < LAST_YEAR) {
      base.n++;
      year = Math.min(LAST_YEAR, base.year + rng.int(1, 4) * (base.n - 1));
      genres = [...base.genres];
      const marker = rng.weightedPick([` ${base.n}`, ` ${['', 'I', 'II', 'III', 'IV', 'V', 'VI'][base.n] ?? base.n}`, `: Part ${['', 'One', 'Two', 'Three', 'Four', 'Five', 'Six'][base.n] ?? base.n}`], [5, 3, 1]);
      parts = { core: base.parts.core + marker, article: base.parts.article, sequelable: false };
    } else {
      if (rng.chance(0.62)) {
        const added = 1995 + Math.floor(p * (LAST_YEAR - 1995 + 1));
        year = Math.max(FIRST_YEAR, Math.min(LAST_YEAR, added - rng.weightedPick([0, 1, 2, 3], [5, 3, 1, 1])));
      } else {
        const decade = rng.weightedPick(CLASSIC_DECADES, CLASSIC_WEIGHTS);
        year = Math.max(FIRST_YEAR, Math.min(1995 + Math.floor(p * 10), decade + rng.int(0, 9)));
      }
      genres = pickGenres(rng, year);
      parts = makeTitle(rng, genres, foreignLeft);
    }
    let title = `${withArticle(parts.core, parts.article)} (${year})`;
    for (let k = 2; seen.has(title); k++) title = `${withArticle(`${parts.core} ${k}`, parts.article)} (${year})`;
    seen.add(title);
    movies.push({ movieId: id, title, genres, year });
    if (parts.sequelable && !base && rng.chance(0.05)) sequelBases.push({ parts, year, genres, n: 1 });
  }
  return movies;
}

// ---------------------------------------------------------------------------
// Ratings

const yearStart = (y: number) => Date.UTC(y, 0, 1) / 1000;
const yearOf = (ts: number) => new Date(ts * 1000).getUTCFullYear();

/** Weight of the year a user joined (MovieLens: busy at the start and in recent years). */
const JOIN_YEARS = Array.from({ length: LAST_YEAR - 1996 + 1 }, (_, i) => 1996 + i);
const JOIN_WEIGHTS = [10, 5, 2, 3, 8, 3, 3, 3, 3, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 5, 6, 6, 4];

const GENRE_QUALITY: Partial<Record<string, number>> = { Documentary: 0.25, 'Film-Noir': 0.3, War: 0.2, Animation: 0.1, Horror: -0.35, Children: -0.15, Comedy: -0.05 };

interface UserPlan {
  readonly start: number;
  readonly end: number;
  readonly bias: number;
  readonly spread: number;
  readonly halfStars: boolean;
  count: number;
}

function planUsers(rng: Rng, users: number, movies: readonly GeneratedMovie[], target: number): UserPlan[] {
  const plans: UserPlan[] = [];
  const weights: number[] = [];
  // Movies released by the end of each year, to cap what a user can rate.
  const releasedBy = (y: number) => movies.reduce((n, m) => n + (m.year <= y ? 1 : 0), 0);
  const releasedCache = new Map<number, number>();
  for (let u = 0; u < users; u++) {
    const y = rng.weightedPick(JOIN_YEARS, JOIN_WEIGHTS);
    const start = Math.max(FIRST_TIMESTAMP, Math.min(LAST_TIMESTAMP - 86_400, yearStart(y) + rng.int(0, 365 * 86_400 - 1)));
    const weight = rng.logNormal(0, 1.25);
    const kind = rng.weightedPick(['sitting', 'months', 'years'], [60, 25, 15]);
    const span = kind === 'sitting' ? 0 : kind === 'months' ? rng.int(30, 300) * 86_400 : rng.int(1, 12) * 365 * 86_400;
    const end = Math.min(LAST_TIMESTAMP, start + span);
    plans.push({
      start,
      end, // a sitting's end is set once its size is known
      bias: rng.normal(0.12, 0.4),
      spread: rng.range(0.55, 1.0),
      halfStars: start >= 1_045_008_000 /* 2003-02-12 */ && rng.chance(0.85),
      count: 0,
    });
    weights.push(weight);
  }
  const MIN = 20;
  const extra = Math.max(0, target - MIN * users);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const caps = plans.map((p) => {
    const y = yearOf(p.end) + 1; // a sitting may run a little past its start
    let released = releasedCache.get(y);
    if (released === undefined) releasedCache.set(y, (released = releasedBy(y)));
    return Math.max(MIN, Math.min(2_700, Math.floor(released * 0.45)));
  });
  let sum = 0;
  plans.forEach((p, i) => {
    p.count = Math.min(caps[i] as number, MIN + Math.floor(((weights[i] as number) / totalWeight) * extra));
    sum += p.count;
  });
  // Hand out what rounding and caps left over, heaviest raters first.
  const order = plans.map((_, i) => i).sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);
  for (let pass = 0; sum < target && pass < 1000; pass++) {
    let gave = false;
    for (const i of order) {
      if (sum >= target) break;
      const p = plans[i] as UserPlan;
      if (p.count < (caps[i] as number)) {
        p.count++;
        sum++;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return plans;
}

function roundRating(raw: number, halfStars: boolean, rng: Rng): number {
  // Even half-star users often give whole stars.
  const r = halfStars && rng.chance(0.9) ? Math.round(raw * 2) / 2 : Math.round(raw);
  return Math.min(5, Math.max(halfStars ? 0.5 : 1, r));
}

function makeRatings(rng: Rng, movies: readonly GeneratedMovie[], users: number, target: number): GeneratedRating[] {
  const n = movies.length;
  // Popularity rank: favours early ids (long in the catalogue), with noise.
  const popRng = rng.fork('popularity');
  const keyed = movies.map((m, i) => ({ i, key: (i + 1) * popRng.logNormal(0, 1.3) }));
  keyed.sort((a, b) => a.key - b.key || a.i - b.i);
  const rankOf = new Int32Array(n);
  keyed.forEach((k, r) => (rankOf[k.i] = r + 1));
  // Toy Story is a favourite.
  const toyRank = rankOf[0] as number;
  const swapWith = rankOf.indexOf(12);
  if (swapWith >= 0) {
    rankOf[swapWith] = toyRank;
    rankOf[0] = 12;
  }
  const weights = Array.from(rankOf, (r) => 1 / Math.pow(r + 25, 0.9) + 0.0002);
  const sample = weightedSampler(weights);

  const qRng = rng.fork('quality');
  const quality = movies.map((m, i) => {
    const pct = 1 - ((rankOf[i] as number) - 1) / n; // 1 = most popular
    let q = qRng.normal(3.05, 0.45) + 0.75 * Math.pow(pct, 6);
    for (const g of m.genres) q += (GENRE_QUALITY[g] ?? 0) / Math.max(1, m.genres.length - 1);
    return Math.min(4.7, Math.max(1.2, q));
  });
  quality[0] = 3.9; // Toy Story

  const plans = planUsers(rng.fork('users'), users, movies, target);
  const taken = new Uint8Array(n);
  const out: GeneratedRating[] = [];
  const r = rng.fork('ratings');
  plans.forEach((p, u) => {
    const userId = u + 1;
    // A sitting lasts about half a minute per rating.
    const end = p.end > p.start ? p.end : Math.min(LAST_TIMESTAMP, p.start + p.count * r.int(15, 60));
    const lastYear = yearOf(end);
    const chosen: number[] = [];
    for (let attempts = 0; chosen.length < p.count && attempts < p.count * 40 + 1000; attempts++) {
      const i = sample(r);
      if (taken[i] || (movies[i] as GeneratedMovie).year > lastYear) continue;
      taken[i] = 1;
      chosen.push(i);
    }
    chosen.sort((a, b) => a - b);
    for (const i of chosen) {
      taken[i] = 0;
      const m = movies[i] as GeneratedMovie;
      const lo = Math.max(p.start, Math.min(end, yearStart(m.year)));
      const timestamp = lo + Math.floor(r.float() * (end - lo + 1));
      const raw = (quality[i] as number) + p.bias + r.normal(0, p.spread);
      out.push({ userId, movieId: m.movieId, rating: roundRating(raw, p.halfStars, r), timestamp });
    }
  });
  return out;
}

/** Generates movies and ratings (pure, deterministic). */
export function generateDataset(opts: GenerateOptions = {}): Dataset {
  const root = new Rng(opts.seed ?? DEFAULT_SEED);
  const movieCount = opts.movies ?? 9_700;
  const users = opts.users ?? 610;
  const target = opts.ratings ?? 100_000;
  if (!Number.isSafeInteger(movieCount) || movieCount < 1) throw new RangeError('movies must be a positive whole number');
  if (!Number.isSafeInteger(users) || users < 1) throw new RangeError('users must be a positive whole number');
  const movies = makeMovies(root.fork('movies'), movieCount);
  const ratings = makeRatings(root.fork('ratings'), movies, users, target);
  return { movies, ratings };
}

/**
 * Inserts rows into a database that has the schema's tables, in the order
 * given (one transaction, prepared statements).
 */
export function insertDataset(db: Database, data: DataRows): void {
  db.run('BEGIN');
  const movie = db.prepare('INSERT INTO movies (movieId, title, genres) VALUES (?, ?, ?)');
  const rating = db.prepare('INSERT INTO ratings (userId, movieId, rating, timestamp) VALUES (?, ?, ?, ?)');
  try {
    for (const m of data.movies) movie.run([m.movieId, m.title, formatGenres(m.genres)]);
    for (const r of data.ratings) rating.run([r.userId, r.movieId, r.rating, r.timestamp]);
    db.run('COMMIT');
  } catch (err) {
    db.run('ROLLBACK');
    throw err;
  } finally {
    movie.free();
    rating.free();
  }
}

/**
 * A data file's bytes holding these rows: the same rows in the same order
 * always give the same bytes. Insert ratings in (userId, movieId) order for
 * the most compact file.
 */
export async function buildDataFile(data: DataRows): Promise<Uint8Array> {
  const SQL = await sqlJs();
  const db = new SQL.Database();
  try {
    db.run('PRAGMA journal_mode = MEMORY');
    createSchema(db, { indexes: false });
    insertDataset(db, data);
    createIndexes(db);
    return db.export();
  } finally {
    db.close();
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
