/**
 * The client's commands: parsing a typed line, running it against a Session,
 * and returning a structured result that a front (plain text, JSON, terminal
 * UI) renders.
 *
 * Results (`CommandResult`, discriminated on `kind`):
 * - `search`    movies matching words (and a genre), `total` counts all matches
 * - `movie`     one movie: title, genres, average, count
 * - `avg`       a movie's average and count
 * - `get`       the user's own rating of a movie (`rating: null` if none)
 * - `rated`     a rating was recorded (`uid`, replicas that logged it, `warning` if only one did)
 * - `deleted`   the user's rating of a movie was removed
 * - `ratings`   every rating of a user (`mine` says whether it is the session's user)
 * - `movieAdded`     add-movie was sequenced by the primary: the movie's id (or the
 *                    existing movie with that title), the forced update's number
 * - `userForgotten`  forget-user removed every rating of a user on every replica
 * - `status`    the cluster view (every replica's status, timestamps, log length)
 * - `statusSet` a replica's status was changed
 * - `help`      help entries (all, or the one asked for)
 * - `trace`, `clear`, `quit`  requests to the front end (UI or plain client)
 * - `choose`    a title matched several movies: candidates (id, title), up to 10
 * - `error`     `{code, message, hint}`: what went wrong and what to do next
 *
 * Results of requests that reached the service carry `served`: the front end
 * used, the replicas that served it and the session timestamp afterwards.
 *
 * forget-user cannot be undone, so it runs only with `yes` (`--yes` typed, or
 * set by a front that asked the user: `confirmationFor`); without it the
 * result is an error (code CONFIRM) saying how to confirm.
 *
 * runCommand never throws: every failure is an `error` result.
 */
import { MAX_MOVIE_ID, MAX_USER_ID, movieId as toMovieId, userId as toUserId, type MovieId, type ReplicaId, type UserId } from '../core/ids.js';
import {
  canonicalGenre,
  checkUpdateShape,
  GENRES,
  isValidRating,
  MAX_RATING,
  MIN_RATING,
  NO_GENRES_LISTED,
  OpError,
  SEARCH_LIMIT_MAX,
  type MovieSummary,
  type Ordering,
  type Query,
  type QueryResult,
  type RatingOfUser,
  type Update,
} from '../core/ops.js';
import type { ClientReply, ClusterView, ReplicaStatus } from '../core/protocol.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';

export type MovieRef = { id: number } | { title: string };

export type Command =
  | { name: 'search'; words: string; genre?: string }
  | { name: 'movie' | 'avg' | 'get' | 'rate' | 'delete'; movie: MovieRef; stars?: number }
  | { name: 'mine' }
  | { name: 'user'; user: number }
  | { name: 'status' }
  | { name: 'set'; rm: string; status: ReplicaStatus }
  | { name: 'help'; topic?: string }
  | { name: 'quit' }
  | { name: 'trace'; on: boolean }
  | { name: 'clear' }
  /** `genres` in MovieLens spelling; empty for none. */
  | { name: 'add-movie'; title: string; genres: string[] }
  /** `yes`: confirmed (typed --yes, or answered y to confirmationFor). */
  | { name: 'forget-user'; user: number; yes: boolean };

export interface HelpEntry {
  readonly name: string;
  readonly usage: string;
  readonly example: string;
  readonly explains: string;
}

/** Which front end and replicas served a request, and the session timestamp after it. */
export interface Served {
  readonly frontend: string | undefined;
  readonly servedBy: readonly string[];
  readonly ts: VTS;
}

export type CommandResult =
  | { readonly kind: 'search'; readonly words: string; readonly genre?: string | undefined; readonly movies: readonly MovieSummary[]; readonly total: number; readonly served?: Served }
  | {
      readonly kind: 'movie';
      readonly movieId: number;
      readonly title: string;
      readonly genres: readonly string[];
      readonly average: number | null;
      readonly count: number;
      readonly served?: Served;
    }
  | { readonly kind: 'avg'; readonly movieId: number; readonly title: string; readonly average: number | null; readonly count: number; readonly served?: Served }
  | {
      readonly kind: 'get';
      readonly userId: number;
      readonly movieId: number;
      readonly title: string;
      readonly rating: number | null;
      readonly timestamp: number | null;
      readonly served?: Served;
    }
  | {
      readonly kind: 'rated';
      readonly movieId: number;
      readonly title: string;
      readonly rating: number;
      /** Unix seconds, stamped by the client. */
      readonly timestamp: number;
      readonly uid: string;
      readonly warning?: string | undefined;
      readonly served?: Served;
    }
  | { readonly kind: 'deleted'; readonly movieId: number; readonly title: string; readonly timestamp: number; readonly uid: string; readonly warning?: string | undefined; readonly served?: Served }
  | { readonly kind: 'ratings'; readonly userId: number; readonly mine: boolean; readonly ratings: readonly RatingOfUser[]; readonly served?: Served }
  | {
      readonly kind: 'movieAdded';
      readonly movieId: number;
      /** As stored (the existing movie's title when `existed`). */
      readonly title: string;
      readonly genres: readonly string[];
      /** A movie with this title was there already: nothing was added. */
      readonly existed: boolean;
      readonly ordering: Ordering;
      /** The update's place in the primary's total order (the `forced` entry of its timestamp). */
      readonly sequence: number | undefined;
      /** The replica id of the primary that sequenced it. */
      readonly primary: string | undefined;
      readonly uid: string;
      readonly served?: Served;
      /** The front end's reply as it came (printed by --json). */
      readonly reply?: ClientReply;
    }
  | {
      readonly kind: 'userForgotten';
      readonly userId: number;
      /** Ratings removed; undefined when the replica that answered does not know (it got the effect in a snapshot). */
      readonly removed: number | undefined;
      readonly ordering: Ordering;
      readonly sequence: number | undefined;
      readonly primary: string | undefined;
      readonly uid: string;
      readonly served?: Served;
      readonly reply?: ClientReply;
    }
  | { readonly kind: 'status'; readonly view: ClusterView }
  | { readonly kind: 'statusSet'; readonly rm: string; readonly status: ReplicaStatus }
  | { readonly kind: 'help'; readonly topic?: string | undefined; readonly entries: readonly HelpEntry[] }
  | { readonly kind: 'trace'; readonly on: boolean }
  | { readonly kind: 'clear' }
  | { readonly kind: 'quit' }
  | {
      readonly kind: 'choose';
      /** The command that needs a single movie (e.g. 'rate'). */
      readonly command: string;
      /** The title as typed. */
      readonly query: string;
      readonly candidates: readonly { readonly movieId: number; readonly title: string }[];
      readonly total: number;
    }
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly hint: string };

export type ErrorResult = Extract<CommandResult, { kind: 'error' }>;

/** Whether a result counts as success (for exit codes and `ok` in JSON). */
export function isSuccess(r: CommandResult): boolean {
  return r.kind !== 'error' && r.kind !== 'choose';
}

/** What runCommand needs from a session (Session implements it; tests use fakes). */
export interface CommandSession {
  readonly user: UserId;
  query(q: Query): Promise<ClientReply>;
  update(op: Update): Promise<ClientReply>;
  cluster(): Promise<ClusterView>;
  setStatus(rm: string, status: ReplicaStatus): Promise<{ ok: true; status: ReplicaStatus } | { ok: false; code: string; message: string }>;
  watch(trace: boolean): void;
  frontend(): string | undefined;
}

// ---------------------------------------------------------------------------
// Help

export const COMMAND_HELP: readonly HelpEntry[] = Object.freeze([
  { name: 'search', usage: 'search WORDS [--genre G]', example: 'search toy story --genre Animation', explains: 'find movies whose title contains every word (and with genre G)' },
  { name: 'movie', usage: 'movie ID|TITLE', example: 'movie 1', explains: "show a movie: title, genres, average rating and how many rated it" },
  { name: 'avg', usage: 'avg ID|TITLE', example: 'avg toy story', explains: "a movie's average rating and number of ratings" },
  { name: 'get', usage: 'get ID|TITLE', example: 'get 1', explains: 'your own rating of a movie' },
  { name: 'rate', usage: 'rate ID|TITLE STARS', example: 'rate 1 4.5', explains: `rate a movie ${MIN_RATING} to ${MAX_RATING} stars in half steps (replaces your earlier rating)` },
  { name: 'delete', usage: 'delete ID|TITLE', example: 'delete 1', explains: 'remove your rating of a movie' },
  { name: 'mine', usage: 'mine', example: 'mine', explains: 'every movie you have rated' },
  { name: 'user', usage: 'user ID', example: 'user 7', explains: "another user's ratings" },
  {
    name: 'add-movie',
    usage: 'add-movie "TITLE (YEAR)" [GENRE|...]',
    example: 'add-movie "Heat 2 (2026)" Action|Crime',
    explains: 'add a movie (a forced update: the primary gives it the next movie id, the same on every replica; a title that exists is not added again)',
  },
  {
    name: 'forget-user',
    usage: 'forget-user ID [--yes]',
    example: 'forget-user 42',
    explains: 'remove every rating of a user on every replica (an immediate update, ordered after every update before it); asks first, or give --yes',
  },
  { name: 'status', usage: 'status', example: 'status', explains: "every replica's status, timestamps and log length, and the front ends" },
  { name: 'set', usage: 'set RM active|overloaded|offline', example: 'set rm2 offline', explains: 'change the status a replica reports (front ends never choose an OFFLINE one)' },
  { name: 'trace', usage: 'trace on|off', example: 'trace on', explains: 'show requests, replica choices and gossip as they happen' },
  { name: 'clear', usage: 'clear', example: 'clear', explains: 'clear the screen (terminal UI)' },
  { name: 'help', usage: 'help [COMMAND]', example: 'help rate', explains: 'list the commands, or explain one with an example' },
  { name: 'quit', usage: 'quit', example: 'quit', explains: 'leave the client' },
]);

const NAMES = COMMAND_HELP.map((h) => h.name);
const ALIASES: Readonly<Record<string, string>> = { exit: 'quit', q: 'quit', find: 'search', average: 'avg', ratings: 'mine', '?': 'help', rm: 'delete' };

function usageOf(name: string): string {
  const h = COMMAND_HELP.find((e) => e.name === name);
  return h ? `usage: ${h.usage}, e.g. ${h.example}` : 'type help to see the commands';
}

// ---------------------------------------------------------------------------
// Parsing

type ParseError = { error: string; hint: string };

const RATING_HINT = `use ${MIN_RATING} to ${MAX_RATING} in half steps, e.g. rate 1 4.5`;
const ADD_MOVIE_EXAMPLE = 'add-movie "Heat 2 (2026)" Action|Crime';
const TITLE_HINT = `write the title in quotes with its year in parentheses, e.g. ${ADD_MOVIE_EXAMPLE}`;
const GENRE_HINT = `genres are ${GENRES.join(', ')}; separate them with |, e.g. Action|Crime (Tab completes them)`;
const STATUS_WORDS: Readonly<Record<string, ReplicaStatus>> = { active: 'ACTIVE', overloaded: 'OVERLOADED', offline: 'OFFLINE' };
const NAME_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Splits on whitespace; "double" or 'single' quotes group words. */
function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"?|'([^']*)'?|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

function parseWholeNumber(s: string): number | undefined {
  if (!/^\+?\d{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseMovieRef(words: string[], name: string): MovieRef | ParseError {
  if (words.length === 0) return { error: `${name} needs a movie id or title`, hint: usageOf(name) };
  const text = words.join(' ').trim();
  if (words.length === 1 && /^#?\d+$/.test(text)) {
    const id = parseWholeNumber(text.replace(/^#/, ''));
    if (id === undefined || id < 1 || id > MAX_MOVIE_ID) return { error: `movie id ${text} is out of range`, hint: `movie ids are whole numbers from 1 to ${MAX_MOVIE_ID}; to find one: search WORDS` };
    return { id };
  }
  if (text.length === 0) return { error: `${name} needs a movie id or title`, hint: usageOf(name) };
  if (text.length > 200) return { error: 'that title is too long (at most 200 characters)', hint: 'search for it with a few words: search WORDS' };
  return { title: text };
}

/**
 * add-movie's arguments, from the text after the command word: a title in
 * quotes (or, unquoted, everything up to its "(YEAR)"), then genres
 * separated by |, commas or spaces, in any case. The title's form is checked
 * as the replicas check it (checkUpdateShape), so a mistake is explained
 * before anything is sent.
 */
function parseAddMovie(rest: string): Command | ParseError {
  const text = rest.trim();
  if (text === '') return { error: 'add-movie needs a title with its year', hint: usageOf('add-movie') };
  let title: string;
  let after: string;
  const q = text[0];
  if (q === '"' || q === "'") {
    const end = text.indexOf(q, 1);
    if (end < 0) return { error: 'the title has no closing quote', hint: TITLE_HINT };
    title = text.slice(1, end);
    after = text.slice(end + 1);
    if (after !== '' && !/^\s/.test(after)) return { error: 'put a space between the quoted title and the genres', hint: TITLE_HINT };
  } else {
    const m = /^(.*?\(\d{4}\))(?:\s+(.*))?$/s.exec(text);
    if (!m) return { error: `"${text.slice(0, 60)}" has no year in parentheses`, hint: TITLE_HINT };
    title = m[1]!;
    after = m[2] ?? '';
  }
  const words = after.trim();
  const genres: string[] = [];
  if (words !== '' && words.toLowerCase() !== NO_GENRES_LISTED) {
    for (const g of words.split(/[|,\s]+/).filter(Boolean)) {
      const c = canonicalGenre(g);
      if (c === undefined) return { error: `${g.slice(0, 40)} is not a genre`, hint: GENRE_HINT };
      if (!genres.includes(c)) genres.push(c);
    }
  }
  try {
    checkUpdateShape({ kind: 'addMovie', title, genres });
  } catch (e) {
    if (e instanceof OpError) return { error: e.message, hint: e.code === 'BAD_GENRE' ? GENRE_HINT : TITLE_HINT };
    throw e;
  }
  return { name: 'add-movie', title: title.trim().replace(/\s+/g, ' '), genres };
}

/** Parses one typed line. Never throws. */
export function parseCommand(line: string): Command | ParseError {
  const tokens = tokenize(line.trim());
  const first = tokens[0];
  if (first === undefined || first === '') return { error: 'empty command', hint: 'type help to see the commands' };
  const raw = first.toLowerCase();
  const name = ALIASES[raw] ?? raw;
  const args = tokens.slice(1);
  switch (name) {
    case 'search': {
      const words: string[] = [];
      let genre: string | undefined;
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '--genre' || a === '-g') {
          const g = args[++i];
          if (g === undefined || g === '') return { error: '--genre needs a genre', hint: 'e.g. search love --genre Comedy' };
          genre = g;
        } else if (a.startsWith('--genre=')) {
          genre = a.slice('--genre='.length);
          if (!genre) return { error: '--genre needs a genre', hint: 'e.g. search love --genre Comedy' };
        } else words.push(a);
      }
      const text = words.join(' ').trim();
      if (!text && !genre) return { error: 'search needs words or a genre', hint: usageOf('search') };
      if (text.length > 200) return { error: 'search words are too long (at most 200 characters)', hint: 'use a few distinctive words' };
      if (genre !== undefined && genre.length > 40) return { error: 'that genre is too long', hint: 'genres are words like Comedy, Drama, Sci-Fi' };
      return genre === undefined ? { name: 'search', words: text } : { name: 'search', words: text, genre };
    }
    case 'movie':
    case 'avg':
    case 'get':
    case 'delete': {
      const ref = parseMovieRef(args, name);
      return 'error' in ref ? ref : { name, movie: ref };
    }
    case 'rate': {
      if (args.length < 2) return { error: 'rate needs a movie and a number of stars', hint: usageOf('rate') };
      const starsText = args[args.length - 1]!;
      const stars = /^[+]?\d+(\.\d+)?$|^[+]?\.\d+$/.test(starsText) ? Number(starsText) : NaN;
      if (!isValidRating(stars)) return { error: `${starsText} is not a rating`, hint: RATING_HINT };
      const ref = parseMovieRef(args.slice(0, -1), 'rate');
      return 'error' in ref ? ref : { name: 'rate', movie: ref, stars };
    }
    case 'mine':
    case 'status':
    case 'quit':
    case 'clear':
      if (args.length > 0) return { error: `${name} takes no arguments`, hint: usageOf(name) };
      return { name };
    case 'user': {
      if (args.length !== 1) return { error: 'user needs one user id', hint: usageOf('user') };
      const id = parseWholeNumber(args[0]!);
      if (id === undefined || id < 1 || id > MAX_USER_ID) return { error: `${args[0]} is not a user id`, hint: `user ids are whole numbers from 1 to ${MAX_USER_ID}, e.g. user 7` };
      return { name: 'user', user: id };
    }
    case 'set': {
      if (args.length !== 2) return { error: 'set needs a replica name and a status', hint: usageOf('set') };
      const rm = args[0]!;
      const status = STATUS_WORDS[args[1]!.toLowerCase()];
      if (!NAME_RE.test(rm)) return { error: `${rm} is not a replica name`, hint: 'replica names are like rm1; see status' };
      if (!status) return { error: `${args[1]} is not a status`, hint: 'use active, overloaded or offline, e.g. set rm2 offline' };
      return { name: 'set', rm, status };
    }
    case 'help': {
      if (args.length === 0) return { name: 'help' };
      const t = args[0]!.toLowerCase();
      const topic = ALIASES[t] ?? t;
      if (args.length > 1 || !NAMES.includes(topic)) return { error: `there is no command ${args.join(' ')}`, hint: `commands: ${NAMES.join(', ')}` };
      return { name: 'help', topic };
    }
    case 'trace': {
      const v = args[0]?.toLowerCase();
      if (args.length !== 1 || (v !== 'on' && v !== 'off')) return { error: 'trace needs on or off', hint: usageOf('trace') };
      return { name: 'trace', on: v === 'on' };
    }
    case 'add-movie':
      return parseAddMovie(/^\s*\S+(.*)$/s.exec(line)?.[1] ?? '');
    case 'forget-user': {
      const yes = args.some((a) => a === '--yes' || a === '-y');
      const rest = args.filter((a) => a !== '--yes' && a !== '-y');
      if (rest.length !== 1) return { error: 'forget-user needs one user id', hint: usageOf('forget-user') };
      const id = parseWholeNumber(rest[0]!);
      if (id === undefined || id < 1 || id > MAX_USER_ID) return { error: `${rest[0]} is not a user id`, hint: `user ids are whole numbers from 1 to ${MAX_USER_ID}, e.g. forget-user 42` };
      return { name: 'forget-user', user: id, yes };
    }
    default:
      return { error: `unknown command ${first}`, hint: `type help to see the commands (${NAMES.join(', ')})` };
  }
}

// ---------------------------------------------------------------------------
// Running

const RETRY_HINT = 'try again in a moment; see status';

function err(code: string, message: string, hint: string): ErrorResult {
  return { kind: 'error', code, message, hint };
}

// ---------------------------------------------------------------------------
// Confirmation

/**
 * The question to ask before running `c`, or undefined when it needs none
 * (or was confirmed already). Fronts that can ask (the terminal UI, the
 * interactive line prompt) ask it and run `confirmed(c)` on a yes.
 */
export function confirmationFor(c: Command): string | undefined {
  if (c.name !== 'forget-user' || c.yes) return undefined;
  return `Forget user ${c.user}? Every rating of user ${c.user} will be removed on every replica. y/N`;
}

/** The command as confirmed by the user. */
export function confirmed(c: Command): Command {
  return c.name === 'forget-user' ? { ...c, yes: true } : c;
}

/** Only y or yes (any case) confirms; anything else, an empty answer included, cancels. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

/** What to say when a confirmation was declined. */
export function cancelledText(c: Command): string {
  return c.name === 'forget-user' ? `cancelled: user ${c.user} was not forgotten` : 'cancelled';
}

/** Turns a failed reply into an error result with advice for that failure. */
export function errorOf(r: { code: string; message: string; tried?: readonly string[] | undefined }, command?: string): ErrorResult {
  const tried = r.tried && r.tried.length > 0 ? ` (tried ${r.tried.join(', ')})` : '';
  switch (r.code) {
    case 'UNKNOWN_MOVIE':
      return err(r.code, r.message, 'search for it: search WORDS');
    case 'BAD_RATING':
      return err(r.code, r.message, RATING_HINT);
    case 'BAD_USER':
      return err(r.code, r.message, `user ids are whole numbers from 1 to ${MAX_USER_ID}`);
    case 'BAD_MOVIE':
      return err(r.code, r.message, 'movie ids are whole numbers; to find one: search WORDS');
    case 'UNAVAILABLE':
    case 'NOT_YET_AVAILABLE':
    case 'OFFLINE':
    case 'TIMEOUT':
      return err(r.code, r.message.includes('tried') || !tried ? r.message : `${r.message}${tried}`, RETRY_HINT);
    case 'EXPIRED':
      return err(r.code, r.message, command ? `issue it again: ${command}` : 'issue it again');
    case 'UNAUTHORIZED':
      return err(r.code, r.message, 'this needs the cluster secret: set HEARSAY_SECRET as the cluster was started with (bin/main.sh does it for its client)');
    case 'TOO_LARGE':
      return err(r.code, r.message, 'send less at once');
    case 'BAD_REQUEST':
      return err(r.code, r.message, 'check the command: help COMMAND');
    case 'BAD_TITLE':
      return err(r.code, r.message, TITLE_HINT);
    case 'BAD_GENRE':
      return err(r.code, r.message, GENRE_HINT);
    case 'NOT_PRIMARY':
      return err(r.code, r.message, `the replica asked is not the primary, and the one it named could not be reached; try again in a moment${command ? `: ${command}` : ''} (status shows the primary)`);
    case 'NO_PRIMARY':
      return err(
        r.code,
        r.message,
        `no primary is elected right now (an election is under way, or fewer than a majority of replicas are up); wait a few seconds and issue it again${command ? `: ${command}` : ''} — status shows when there is a primary`,
      );
    default:
      return err(r.code, r.message, `${RETRY_HINT}; if it persists, look at the component logs`);
  }
}

/** The vector-timestamp key of the primary's total order: its entry counts forced and immediate updates. */
export const FORCED_KEY = 'forced' as ReplicaId;

/** Which primary sequenced a forced/immediate update, and its number in the total order. */
function sequencedBy(reply: Extract<ClientReply, { kind: 'update' }>): { sequence: number | undefined; primary: string | undefined } {
  const primary = reply.servedBy[0];
  // The primary's own timestamp for it; the merged one could only be higher if the session had seen later ones.
  const own = (primary !== undefined ? reply.copies[primary] : undefined) ?? reply.ts;
  const n = V.get(own, FORCED_KEY);
  return { sequence: n > 0 ? n : undefined, primary };
}

function served(s: CommandSession, reply: Extract<ClientReply, { ok: true }>): Served {
  return { frontend: s.frontend(), servedBy: [...reply.servedBy], ts: reply.ts };
}

async function ask<K extends QueryResult['kind']>(s: CommandSession, q: Query & { kind: K }): Promise<{ result: Extract<QueryResult, { kind: K }>; served: Served } | ErrorResult> {
  const reply = await s.query(q);
  if (!reply.ok) return errorOf(reply);
  if (reply.kind !== 'query') return err('INTERNAL', 'the front end answered a query with an update reply', RETRY_HINT);
  const result = reply.result as QueryResult | null;
  if (!result || typeof result !== 'object' || result.kind !== q.kind) return err('INTERNAL', `the front end's answer to ${q.kind} has an unexpected shape`, RETRY_HINT);
  return { result: result as Extract<QueryResult, { kind: K }>, served: served(s, reply) };
}

/** Lower-cased forms a title is known by: as is, without the year, with a trailing article moved to the front. */
export function titleForms(title: string): string[] {
  const t = title.trim().toLowerCase().replace(/\s+/g, ' ');
  const forms = new Set<string>([t]);
  const year = /^(.*?)\s*\((\d{4})\)$/.exec(t);
  const base = year ? year[1]! : t;
  forms.add(base);
  const article = /^(.*), (the|a|an|les|la|le|l'|il|el|der|die|das)$/.exec(base);
  if (article) {
    const moved = `${article[2]}${article[2]!.endsWith("'") ? '' : ' '}${article[1]}`;
    forms.add(moved);
    if (year) forms.add(`${moved} (${year[2]})`);
  }
  return [...forms];
}

export type Resolution = { movieId: MovieId; title: string | undefined } | Extract<CommandResult, { kind: 'choose' }> | ErrorResult;

/**
 * Finds the movie a title means: an exact title (ignoring case, with or
 * without the year, "The Heist" for "Heist, The") wins; else a single match
 * wins; else the caller gets candidates to choose from (up to 10).
 */
export async function resolveMovie(s: CommandSession, ref: MovieRef, command: string): Promise<Resolution> {
  if ('id' in ref) return { movieId: toMovieId(ref.id), title: undefined };
  const typed = ref.title.trim().toLowerCase().replace(/\s+/g, ' ');
  const found = await ask(s, { kind: 'search', words: ref.title, limit: SEARCH_LIMIT_MAX });
  if ('kind' in found) return found;
  const { movies, total } = found.result;
  if (movies.length === 0) return err('UNKNOWN_MOVIE', `no movie has a title matching "${ref.title}"`, 'search for it: search WORDS');
  const full = movies.filter((m) => m.title.trim().toLowerCase().replace(/\s+/g, ' ') === typed);
  const exact = full.length > 0 ? full : movies.filter((m) => titleForms(m.title).includes(typed));
  if (exact.length === 1) return { movieId: exact[0]!.movieId, title: exact[0]!.title };
  if (exact.length === 0 && total === 1 && movies.length === 1) return { movieId: movies[0]!.movieId, title: movies[0]!.title };
  const pool = exact.length > 1 ? exact : movies;
  return {
    kind: 'choose',
    command,
    query: ref.title,
    candidates: pool.slice(0, 10).map((m) => ({ movieId: m.movieId, title: m.title })),
    total: exact.length > 1 ? exact.length : total,
  };
}

/** Runs one command. Never throws: failures are `error` results. */
export async function runCommand(s: CommandSession, c: Command): Promise<CommandResult> {
  try {
    return await run(s, c);
  } catch (e) {
    if (e instanceof OpError) return errorOf({ code: e.code, message: e.message });
    const m = e instanceof Error ? e.message : String(e);
    return err('INTERNAL', `the client failed: ${m}`, RETRY_HINT);
  }
}

async function run(s: CommandSession, c: Command): Promise<CommandResult> {
  switch (c.name) {
    case 'search': {
      const a = await ask(s, c.genre === undefined ? { kind: 'search', words: c.words } : { kind: 'search', words: c.words, genre: c.genre });
      if ('kind' in a) return a;
      return { kind: 'search', words: c.words, genre: c.genre, movies: a.result.movies, total: a.result.total, served: a.served };
    }
    case 'movie':
    case 'avg':
    case 'get': {
      const m = await resolveMovie(s, c.movie, c.name);
      if ('kind' in m) return m;
      if (c.name === 'get') {
        const a = await ask(s, { kind: 'get', userId: s.user, movieId: m.movieId });
        if ('kind' in a) return a;
        const r = a.result;
        return { kind: 'get', userId: r.userId, movieId: r.movieId, title: r.title, rating: r.rating, timestamp: r.timestamp, served: a.served };
      }
      if (c.name === 'avg') {
        const a = await ask(s, { kind: 'avg', movieId: m.movieId });
        if ('kind' in a) return a;
        const r = a.result;
        return { kind: 'avg', movieId: r.movieId, title: r.title, average: r.average, count: r.count, served: a.served };
      }
      const a = await ask(s, { kind: 'movie', movieId: m.movieId });
      if ('kind' in a) return a;
      const r = a.result;
      return { kind: 'movie', movieId: r.movieId, title: r.title, genres: r.genres, average: r.average, count: r.count, served: a.served };
    }
    case 'rate':
    case 'delete': {
      const m = await resolveMovie(s, c.movie, c.name);
      if ('kind' in m) return m;
      if (c.name === 'rate' && (c.stars === undefined || !isValidRating(c.stars))) return err('BAD_RATING', `${String(c.stars)} is not a rating`, RATING_HINT);
      const timestamp = Math.floor(Date.now() / 1000);
      const op: Update =
        c.name === 'rate'
          ? { kind: 'rate', userId: s.user, movieId: m.movieId, rating: c.stars!, timestamp }
          : { kind: 'delete', userId: s.user, movieId: m.movieId, timestamp };
      // By id, the title is looked up alongside the update (a replica refuses an unknown movie itself).
      const [reply, about] = await Promise.all([s.update(op), m.title === undefined ? ask(s, { kind: 'movie', movieId: m.movieId }) : Promise.resolve(undefined)]);
      const again = c.name === 'rate' ? `rate ${m.movieId} ${c.stars}` : `delete ${m.movieId}`;
      if (!reply.ok) return errorOf(reply, again);
      if (reply.kind !== 'update') return err('INTERNAL', 'the front end answered an update with a query reply', RETRY_HINT);
      const title = m.title ?? (about && !('kind' in about) ? about.result.title : `movie #${m.movieId}`);
      if (op.kind === 'rate') {
        return { kind: 'rated', movieId: m.movieId, title, rating: op.rating, timestamp, uid: reply.uid, warning: reply.warning, served: served(s, reply) };
      }
      return { kind: 'deleted', movieId: m.movieId, title, timestamp, uid: reply.uid, warning: reply.warning, served: served(s, reply) };
    }
    case 'add-movie': {
      const again = `add-movie "${c.title}"${c.genres.length ? ` ${c.genres.join('|')}` : ''}`;
      const reply = await s.update({ kind: 'addMovie', title: c.title, genres: c.genres });
      if (!reply.ok) return errorOf(reply, again);
      if (reply.kind !== 'update') return err('INTERNAL', 'the front end answered an update with a query reply', RETRY_HINT);
      const r = reply.result;
      if (!r || r.kind !== 'addMovie') return err('INTERNAL', 'the front end did not say which id the movie was given', `look for it: search ${c.title.replace(/\s*\(\d{4}\)\s*$/, '')}`);
      return {
        kind: 'movieAdded',
        movieId: r.movieId,
        title: r.title,
        genres: c.genres,
        existed: r.existed,
        ordering: reply.ordering ?? 'forced',
        ...sequencedBy(reply),
        uid: reply.uid,
        served: served(s, reply),
        reply,
      };
    }
    case 'forget-user': {
      if (!c.yes) {
        return err(
          'CONFIRM',
          `forget-user removes every rating of user ${c.user} on every replica, and cannot be undone: it needs confirmation`,
          `to confirm, run it with --yes: forget-user ${c.user} --yes`,
        );
      }
      const reply = await s.update({ kind: 'forgetUser', userId: toUserId(c.user) });
      if (!reply.ok) return errorOf(reply, `forget-user ${c.user} --yes`);
      if (reply.kind !== 'update') return err('INTERNAL', 'the front end answered an update with a query reply', RETRY_HINT);
      const r = reply.result;
      if (!r || r.kind !== 'forgetUser') return err('INTERNAL', 'the front end did not say how many ratings were removed', `check with: user ${c.user}`);
      return {
        kind: 'userForgotten',
        userId: r.userId,
        removed: r.removed,
        ordering: reply.ordering ?? 'immediate',
        ...sequencedBy(reply),
        uid: reply.uid,
        served: served(s, reply),
        reply,
      };
    }
    case 'mine':
    case 'user': {
      const user: UserId = c.name === 'mine' ? s.user : toUserId(c.user);
      const a = await ask(s, { kind: 'mine', userId: user });
      if ('kind' in a) return a;
      return { kind: 'ratings', userId: user, mine: user === s.user, ratings: a.result.ratings, served: a.served };
    }
    case 'status':
      return { kind: 'status', view: await s.cluster() };
    case 'set': {
      const r = await s.setStatus(c.rm, c.status);
      if (!r.ok) {
        const e = errorOf(r);
        return /unknown|no replica|not found/i.test(r.message) ? { ...e, hint: 'replica names are shown by status, e.g. set rm2 offline' } : e;
      }
      return { kind: 'statusSet', rm: c.rm, status: r.status };
    }
    case 'help':
      return { kind: 'help', topic: c.topic, entries: c.topic === undefined ? COMMAND_HELP : COMMAND_HELP.filter((h) => h.name === c.topic) };
    case 'trace':
      s.watch(c.on);
      return { kind: 'trace', on: c.on };
    case 'clear':
      return { kind: 'clear' };
    case 'quit':
      return { kind: 'quit' };
  }
}

/** Parses and runs a line: a parse error becomes an `error` result (code USAGE). */
export async function runLine(s: CommandSession, line: string): Promise<CommandResult> {
  const c = parseCommand(line);
  if ('error' in c) return err('USAGE', c.error, c.hint);
  return runCommand(s, c);
}
