/**
 * Tab completion: what could come next at the end of the command line.
 *
 * Pure: the caller supplies what it knows (command names, replica names from
 * the cluster view, movie titles found so far for a prefix). When titles are
 * needed but not known yet, the answer says so (`needTitles`), and the caller
 * looks them up and asks again. Genres after add-movie's title come from the
 * fixed MovieLens vocabulary.
 */
import { GENRES } from '../../core/ops.js';

export interface Candidate {
  /** Text that replaces the word being completed. */
  readonly insert: string;
  /** What the list of choices shows. */
  readonly display: string;
}

export interface CompletionContext {
  readonly commands: readonly string[];
  readonly replicas: readonly string[];
  /** Titles matching a prefix, or undefined when not looked up yet. */
  readonly titles: (prefix: string) => readonly string[] | undefined;
}

export interface Completion {
  /** Where in the line the replaced word starts. */
  readonly from: number;
  readonly word: string;
  readonly candidates: readonly Candidate[];
  /** Set when movie titles for this prefix must be looked up first. */
  readonly needTitles?: string | undefined;
}

export const STATUS_WORDS = ['active', 'overloaded', 'offline'] as const;
/** Genres completed after add-movie's title, in MovieLens spelling. */
export const GENRE_WORDS: readonly string[] = GENRES;
const TITLE_COMMANDS = new Set(['movie', 'avg', 'get', 'rate', 'delete', 'search']);
/** Shortest prefix worth asking the service about. */
export const MIN_TITLE_PREFIX = 2;

const byPrefix = (word: string, list: readonly string[]): Candidate[] => {
  const w = word.toLowerCase();
  return [...new Set(list)].filter((x) => x.toLowerCase().startsWith(w)).map((x) => ({ insert: x, display: x }));
};

/** Movie titles end in "(year)"; completing without it keeps the line short and still finds the movie. */
export function titleInsert(title: string): string {
  return title.replace(/\s*\(\d{4}\)\s*$/, '').trim() || title;
}

/**
 * The title part of a line for commands that take a movie: everything after
 * the command word, without a trailing rating for `rate` and without
 * `--genre ...` for search. Undefined when the movie is given as a number.
 */
export function titleArgument(line: string): { from: number; text: string } | undefined {
  const m = /^(\s*)(\S+)(\s+)(.*)$/.exec(line);
  if (!m) return undefined;
  const cmd = (m[2] ?? '').toLowerCase();
  if (!TITLE_COMMANDS.has(cmd)) return undefined;
  const from = (m[1] ?? '').length + (m[2] ?? '').length + (m[3] ?? '').length;
  const text = m[4] ?? '';
  if (/^\d+(\s|$)/.test(text)) return undefined;
  if (cmd === 'rate' && /\s\d+(\.\d+)?\s*$/.test(text)) return undefined;
  if (cmd === 'search' && text.includes('--')) return undefined;
  return { from, text };
}

/**
 * The genre being typed after add-movie's title (quoted, or up to its
 * "(YEAR)"): the text after the last |, comma or space. Undefined while the
 * title itself is being typed.
 */
export function genreArgument(line: string): { from: number; word: string } | undefined {
  const m = /^(\s*\S+\s+)("[^"]*"|'[^']*'|[^"'].*?\(\d{4}\))(\s+)(.*)$/s.exec(line);
  if (!m || (m[1] ?? '').trim().toLowerCase() !== 'add-movie') return undefined;
  const rest = m[4] ?? '';
  const cut = Math.max(rest.lastIndexOf('|'), rest.lastIndexOf(','), rest.search(/\s\S*$/));
  const from = (m[1] ?? '').length + (m[2] ?? '').length + (m[3] ?? '').length + cut + 1;
  return { from, word: line.slice(from) };
}

export function complete(input: string, ctx: CompletionContext): Completion {
  const words = input.split(/\s+/);
  const lead = /^\s*/.exec(input)?.[0].length ?? 0;
  const trimmedStart = input.slice(lead);
  // First word: a command.
  if (!/\s/.test(trimmedStart)) {
    return { from: lead, word: trimmedStart, candidates: byPrefix(trimmedStart, ctx.commands) };
  }
  const cmd = (words[0] === '' ? words[1] : words[0])?.toLowerCase() ?? '';
  const lastSpace = input.search(/\S*$/);
  const word = input.slice(lastSpace);
  const argIndex = input.slice(lead).trimEnd().split(/\s+/).length - (word === '' ? 0 : 1);
  switch (cmd) {
    case 'help':
      return argIndex === 1 ? { from: lastSpace, word, candidates: byPrefix(word, ctx.commands) } : { from: lastSpace, word, candidates: [] };
    case 'trace':
      return argIndex === 1 ? { from: lastSpace, word, candidates: byPrefix(word, ['on', 'off']) } : { from: lastSpace, word, candidates: [] };
    case 'set':
      if (argIndex === 1) return { from: lastSpace, word, candidates: byPrefix(word, ctx.replicas) };
      if (argIndex === 2) return { from: lastSpace, word, candidates: byPrefix(word, STATUS_WORDS) };
      return { from: lastSpace, word, candidates: [] };
    case 'add-movie': {
      const g = genreArgument(input);
      return g ? { from: g.from, word: g.word, candidates: byPrefix(g.word, GENRE_WORDS) } : { from: lastSpace, word, candidates: [] };
    }
    case 'forget-user':
      return argIndex >= 2 ? { from: lastSpace, word, candidates: byPrefix(word, ['--yes']) } : { from: lastSpace, word, candidates: [] };
    default:
      break;
  }
  const t = titleArgument(input);
  if (t) {
    const prefix = t.text.trim();
    if (prefix.length < MIN_TITLE_PREFIX) return { from: t.from, word: t.text, candidates: [] };
    const titles = ctx.titles(prefix.toLowerCase());
    if (titles === undefined) return { from: t.from, word: t.text, candidates: [], needTitles: prefix.toLowerCase() };
    const seen = new Set<string>();
    const candidates: Candidate[] = [];
    for (const title of titles) {
      const insert = titleInsert(title);
      if (seen.has(insert.toLowerCase())) continue;
      seen.add(insert.toLowerCase());
      candidates.push({ insert, display: title });
    }
    return { from: t.from, word: t.text, candidates };
  }
  return { from: lastSpace, word, candidates: [] };
}

/** Longest common prefix, compared without case; the casing of the first string is kept. */
export function commonPrefix(list: readonly string[]): string {
  const first = list[0];
  if (first === undefined) return '';
  let n = first.length;
  for (const s of list) {
    let i = 0;
    while (i < n && i < s.length && s[i]?.toLowerCase() === first[i]?.toLowerCase()) i++;
    n = i;
  }
  return first.slice(0, n);
}
