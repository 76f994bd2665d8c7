/**
 * Everything the screen shows, as one value, changed only by `reduce`.
 *
 * The reducer is pure: no clock (times come in actions), no I/O, no session.
 * `useSession` turns keys and session events into actions; the components
 * draw the state. Each rule of the interface (history, completion, scrolling,
 * trace folding, banners) is a branch here and has a test named after it.
 */
import type { ClusterView, TraceEvent } from '../../core/protocol.js';
import { isYes } from '../commands.js';
import { sanitize } from '../format.js';
import { commonPrefix, complete, type Candidate } from './complete.js';
import { pushEntry } from './history.js';
import { addTrace, type TraceRow } from './trace.js';
import { line, seg, type Line } from './text.js';

/** Result lines kept; older ones are dropped (memory stays bounded however long the session). */
export const RESULTS_LIMIT = 2000;
/** Title lookups remembered for completion. */
export const TITLE_CACHE_LIMIT = 30;
/** How long the "front end switched" banner stays up. */
export const SWITCH_BANNER_MS = 15_000;

export interface Choice {
  readonly movieId: number;
  readonly title: string;
}

/** An ambiguous title is waiting for the user to pick a number. */
export interface PendingChoice<C = unknown> {
  /** The command to run again with the chosen movie. */
  readonly command: C;
  readonly candidates: readonly Choice[];
}

/**
 * A command that cannot be undone (forget-user) is waiting for the user's
 * answer to `question`: the next line typed is the answer, and only y (or
 * yes) runs it.
 */
export interface PendingConfirm<C = unknown> {
  readonly command: C;
  readonly question: string;
}

export interface Banner {
  readonly text: string;
  readonly style: 'warn' | 'error';
  /** Time (ms) after which it disappears; undefined = until the condition ends. */
  readonly until?: number | undefined;
}

export interface UiState {
  readonly input: string;
  readonly cursor: number;
  readonly history: readonly string[];
  /** Position while browsing history with the arrows; null when editing a fresh line. */
  readonly histIndex: number | null;
  /** The line being typed before browsing started, restored on the way back down. */
  readonly draft: string;
  readonly completion: { readonly from: number; readonly candidates: readonly Candidate[]; readonly index: number } | null;
  /** Tab was pressed on a title prefix whose titles are being looked up. */
  readonly awaitingTitles: string | null;
  readonly titleCache: readonly (readonly [string, readonly string[]])[];
  readonly results: readonly Line[];
  /** Lines scrolled up from the newest; 0 = following the newest. */
  readonly scroll: number;
  /** Lines added while scrolled up, for the "new lines below" hint. */
  readonly unseen: number;
  readonly cluster: ClusterView | null;
  readonly clusterAt: number | undefined;
  readonly frontend: string | undefined;
  readonly banners: { readonly naming?: Banner | undefined; readonly frontend?: Banner | undefined };
  readonly traceOn: boolean;
  readonly trace: readonly TraceRow[];
  readonly choose: PendingChoice | null;
  readonly confirm: PendingConfirm | null;
  /** The command being run, if any. */
  readonly busy: string | null;
  /** A one-line message under the results (completion choices, lookups). */
  readonly notice: Line | null;
  readonly quitting: boolean;
}

export function initialState(o: { history?: readonly string[]; frontend?: string | undefined; traceOn?: boolean } = {}): UiState {
  return {
    input: '',
    cursor: 0,
    history: o.history ?? [],
    histIndex: null,
    draft: '',
    completion: null,
    awaitingTitles: null,
    titleCache: [],
    results: [],
    scroll: 0,
    unseen: 0,
    cluster: null,
    clusterAt: undefined,
    frontend: o.frontend,
    banners: {},
    traceOn: o.traceOn ?? false,
    trace: [],
    choose: null,
    confirm: null,
    busy: null,
    notice: null,
    quitting: false,
  };
}

export type Action =
  | { readonly type: 'insert'; readonly text: string }
  | { readonly type: 'backspace' }
  | { readonly type: 'delete' }
  | { readonly type: 'cursor'; readonly to: 'left' | 'right' | 'home' | 'end' | 'wordLeft' | 'wordRight' }
  | { readonly type: 'killLine' }
  | { readonly type: 'killWord' }
  | { readonly type: 'historyUp' }
  | { readonly type: 'historyDown' }
  | { readonly type: 'tab'; readonly commands: readonly string[] }
  | { readonly type: 'titles'; readonly prefix: string; readonly titles: readonly string[]; readonly commands: readonly string[] }
  | { readonly type: 'submit' }
  /**
   * Lines for the results area. With `view` (the area's height), an answer
   * taller than the area is shown from its first line (and its command),
   * like a pager, instead of its last.
   */
  | { readonly type: 'output'; readonly lines: readonly Line[]; readonly choose?: PendingChoice | undefined; readonly view?: number | undefined }
  | { readonly type: 'busy'; readonly what: string | null }
  /** Ask before running a command that cannot be undone; the next line submitted answers. */
  | { readonly type: 'ask'; readonly confirm: PendingConfirm }
  | { readonly type: 'scroll'; readonly by: number; readonly view: number }
  | { readonly type: 'scrollTo'; readonly where: 'top' | 'bottom'; readonly view: number }
  | { readonly type: 'clear' }
  | { readonly type: 'cluster'; readonly view: ClusterView; readonly at: number }
  | { readonly type: 'trace'; readonly event: TraceEvent }
  /** Many trace events at once (they arrive in bursts; one action keeps it to one redraw). */
  | { readonly type: 'traces'; readonly events: readonly TraceEvent[] }
  | { readonly type: 'traceOn'; readonly on: boolean }
  | { readonly type: 'frontend'; readonly name: string | undefined; readonly why: string; readonly at: number }
  | { readonly type: 'naming'; readonly up: boolean }
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'notice'; readonly line: Line | null }
  | { readonly type: 'quit' };

/** Replica names for completion, from the cluster view. */
export function replicaNames(s: UiState): string[] {
  return s.cluster ? [...new Set(s.cluster.replicas.map((r) => sanitize(r.name)))].sort() : [];
}

export function cachedTitles(s: UiState, prefix: string): readonly string[] | undefined {
  const p = prefix.toLowerCase();
  for (let i = s.titleCache.length - 1; i >= 0; i--) {
    const e = s.titleCache[i];
    if (e && e[0] === p) return e[1];
  }
  return undefined;
}

const edit = (s: UiState, input: string, cursor: number): UiState => ({
  ...s,
  input,
  cursor: Math.max(0, Math.min(input.length, cursor)),
  completion: null,
  awaitingTitles: null,
  histIndex: null,
  notice: s.completion || s.awaitingTitles ? null : s.notice,
});

function wordLeft(text: string, at: number): number {
  let i = at;
  while (i > 0 && text[i - 1] === ' ') i--;
  while (i > 0 && text[i - 1] !== ' ') i--;
  return i;
}

function wordRight(text: string, at: number): number {
  let i = at;
  while (i < text.length && text[i] === ' ') i++;
  while (i < text.length && text[i] !== ' ') i++;
  return i;
}

/** Keeps at most RESULTS_LIMIT lines; scrolling follows what the user was reading. */
function addLines(s: UiState, lines: readonly Line[]): UiState {
  let results = [...s.results, ...lines];
  if (results.length > RESULTS_LIMIT) results = results.slice(results.length - RESULTS_LIMIT);
  const scroll = s.scroll > 0 ? Math.min(s.scroll + lines.length, Math.max(0, results.length - 1)) : 0;
  return { ...s, results, scroll, unseen: s.scroll > 0 ? s.unseen + lines.length : 0 };
}

/** Largest useful scroll for a results area of `view` lines. */
export function maxScroll(total: number, view: number): number {
  return Math.max(0, total - Math.max(1, view));
}

/** Applies a completion to the line: one candidate is taken, several fill their common prefix and are listed. */
function applyCompletion(s: UiState, from: number, candidates: readonly Candidate[]): UiState {
  const tail = s.input.slice(s.cursor);
  const head = s.input.slice(0, from);
  if (candidates.length === 0) return { ...s, completion: null, awaitingTitles: null, notice: line(seg('no completion', 'dim')) };
  if (candidates.length === 1) {
    const c = candidates[0] as Candidate;
    const input = head + c.insert + (tail.startsWith(' ') ? '' : ' ') + tail;
    return { ...s, input, cursor: head.length + c.insert.length + 1, completion: null, awaitingTitles: null, notice: null, histIndex: null };
  }
  const typed = s.input.slice(from, s.cursor);
  const prefix = commonPrefix(candidates.map((c) => c.insert));
  const fill = prefix.length > typed.trim().length ? prefix : typed;
  const input = head + fill + tail;
  return {
    ...s,
    input,
    cursor: head.length + fill.length,
    completion: { from, candidates, index: -1 },
    awaitingTitles: null,
    histIndex: null,
    notice: choicesNotice(candidates, -1),
  };
}

/** The completion choices, the one on the line (if any) in brackets. */
function choicesNotice(candidates: readonly Candidate[], index: number): Line {
  return line(seg(`${candidates.length} choices (Tab cycles): `, 'dim'), candidates.map((c, i) => (i === index ? `[${c.display}]` : c.display)).join('  ·  '));
}

function runCompletion(s: UiState, commands: readonly string[]): UiState {
  const before = s.input.slice(0, s.cursor);
  const c = complete(before, { commands, replicas: replicaNames(s), titles: (p) => cachedTitles(s, p) });
  if (c.needTitles !== undefined) {
    return { ...s, completion: null, awaitingTitles: c.needTitles, notice: line(seg(`looking up titles starting with "${c.needTitles}"…`, 'dim')) };
  }
  return applyCompletion(s, c.from, c.candidates);
}

export function reduce(s: UiState, a: Action): UiState {
  switch (a.type) {
    case 'insert': {
      // Pasted text may carry line breaks, tabs or terminal controls: the line stays one plain line.
      const text = sanitize(a.text);
      if (text === '') return s;
      return edit(s, s.input.slice(0, s.cursor) + text + s.input.slice(s.cursor), s.cursor + text.length);
    }
    case 'backspace':
      if (s.cursor === 0) return s;
      return edit(s, s.input.slice(0, s.cursor - 1) + s.input.slice(s.cursor), s.cursor - 1);
    case 'delete':
      if (s.cursor >= s.input.length) return s;
      return edit(s, s.input.slice(0, s.cursor) + s.input.slice(s.cursor + 1), s.cursor);
    case 'cursor': {
      const to =
        a.to === 'left'
          ? s.cursor - 1
          : a.to === 'right'
            ? s.cursor + 1
            : a.to === 'home'
              ? 0
              : a.to === 'end'
                ? s.input.length
                : a.to === 'wordLeft'
                  ? wordLeft(s.input, s.cursor)
                  : wordRight(s.input, s.cursor);
      return { ...s, cursor: Math.max(0, Math.min(s.input.length, to)) };
    }
    case 'killLine':
      return edit(s, '', 0);
    case 'killWord': {
      const from = wordLeft(s.input, s.cursor);
      return edit(s, s.input.slice(0, from) + s.input.slice(s.cursor), from);
    }
    case 'historyUp': {
      if (s.history.length === 0) return s;
      const idx = s.histIndex === null ? s.history.length - 1 : Math.max(0, s.histIndex - 1);
      const text = s.history[idx] ?? '';
      return { ...s, histIndex: idx, draft: s.histIndex === null ? s.input : s.draft, input: text, cursor: text.length, completion: null, awaitingTitles: null };
    }
    case 'historyDown': {
      if (s.histIndex === null) return s;
      if (s.histIndex >= s.history.length - 1) return { ...s, histIndex: null, input: s.draft, cursor: s.draft.length };
      const idx = s.histIndex + 1;
      const text = s.history[idx] ?? '';
      return { ...s, histIndex: idx, input: text, cursor: text.length };
    }
    case 'tab': {
      const c = s.completion;
      if (c && c.candidates.length > 1) {
        // Repeated Tab: cycle through the choices.
        const index = (c.index + 1) % c.candidates.length;
        const pick = c.candidates[index] as Candidate;
        const tail = s.input.slice(s.cursor);
        const input = s.input.slice(0, c.from) + pick.insert + tail;
        return { ...s, input, cursor: c.from + pick.insert.length, completion: { ...c, index }, notice: choicesNotice(c.candidates, index) };
      }
      return runCompletion(s, a.commands);
    }
    case 'titles': {
      const p = a.prefix.toLowerCase();
      const cache = [...s.titleCache.filter(([k]) => k !== p), [p, a.titles.map((t) => sanitize(t))] as const].slice(-TITLE_CACHE_LIMIT);
      const next = { ...s, titleCache: cache };
      // Tab was pressed while the lookup was on its way: finish the completion now.
      return s.awaitingTitles === p ? runCompletion(next, a.commands) : next;
    }
    case 'submit': {
      const entry = s.input;
      return {
        ...s,
        input: '',
        cursor: 0,
        history: pushEntry(s.history, entry),
        histIndex: null,
        draft: '',
        completion: null,
        awaitingTitles: null,
        notice: null,
        // The line submitted is the answer to a pending question (read by confirmAnswer before this).
        confirm: null,
        // A new command brings the newest answers back into view.
        scroll: 0,
        unseen: 0,
      };
    }
    case 'output': {
      const next = addLines(s, a.lines);
      if (a.view !== undefined && s.scroll === 0 && a.lines.length + 1 > a.view) {
        // Show the answer from its top, with the command line above it; the rest is below (PgDn).
        const scroll = Math.min(maxScroll(next.results.length, a.view), Math.max(0, a.lines.length + 1 - a.view));
        return { ...next, scroll, unseen: 0, choose: a.choose ?? null };
      }
      return { ...next, choose: a.choose ?? null };
    }
    case 'busy':
      return { ...s, busy: a.what };
    case 'ask':
      return { ...s, confirm: a.confirm, choose: null };
    case 'scroll': {
      const scroll = Math.max(0, Math.min(maxScroll(s.results.length, a.view), s.scroll + a.by));
      return { ...s, scroll, unseen: scroll === 0 ? 0 : s.unseen };
    }
    case 'scrollTo':
      return a.where === 'bottom' ? { ...s, scroll: 0, unseen: 0 } : { ...s, scroll: maxScroll(s.results.length, a.view) };
    case 'clear':
      return { ...s, results: [], scroll: 0, unseen: 0, choose: null, trace: [] };
    case 'cluster':
      return { ...s, cluster: a.view, clusterAt: a.at };
    case 'trace':
      return s.traceOn ? { ...s, trace: addTrace(s.trace, a.event) } : s;
    case 'traces': {
      if (!s.traceOn || a.events.length === 0) return s;
      let trace = s.trace;
      for (const e of a.events) trace = addTrace(trace, e);
      return { ...s, trace };
    }
    case 'traceOn':
      return { ...s, traceOn: a.on };
    case 'frontend': {
      const banners = { ...s.banners };
      if (a.name === undefined) {
        banners.frontend = { text: `no front end is reachable (${a.why}) — retrying; your session timestamp is kept`, style: 'error' };
      } else if (s.frontend !== undefined && s.frontend !== a.name) {
        banners.frontend = { text: `front end ${s.frontend} is gone — now using ${a.name}; your session timestamp is kept`, style: 'warn', until: a.at + SWITCH_BANNER_MS };
      } else if (s.banners.frontend && s.banners.frontend.until === undefined) {
        banners.frontend = { text: `connected to front end ${a.name} again; your session timestamp is kept`, style: 'warn', until: a.at + SWITCH_BANNER_MS };
      }
      // While no front end is reachable the last one is remembered, so the banner can name it when another takes over.
      return { ...s, frontend: a.name ?? s.frontend, banners };
    }
    case 'naming': {
      const banners = { ...s.banners };
      if (a.up) delete banners.naming;
      else banners.naming = { text: 'naming service unreachable — retrying', style: 'warn' };
      return { ...s, banners };
    }
    case 'tick': {
      const b = s.banners;
      const expired = (x: Banner | undefined) => x !== undefined && x.until !== undefined && x.until <= a.now;
      if (!expired(b.naming) && !expired(b.frontend)) return s;
      return { ...s, banners: { naming: expired(b.naming) ? undefined : b.naming, frontend: expired(b.frontend) ? undefined : b.frontend } };
    }
    case 'notice':
      return { ...s, notice: a.line };
    case 'quit':
      return { ...s, quitting: true };
  }
}

/** The banners to show, most serious first. */
export function activeBanners(s: UiState): Banner[] {
  return [s.banners.naming, s.banners.frontend].filter((b): b is Banner => b !== undefined);
}

/**
 * The answer `text` gives to the pending question: 'yes' only for y or yes
 * (any case), 'no' for anything else, an empty line included; undefined
 * when no question is pending.
 */
export function confirmAnswer(s: UiState, text: string): 'yes' | 'no' | undefined {
  if (!s.confirm) return undefined;
  return isYes(text) ? 'yes' : 'no';
}

/** When the pending choice accepts `text` (a number 1..N), the movie picked. */
export function pickChoice(s: UiState, text: string): Choice | undefined {
  if (!s.choose) return undefined;
  const m = /^\s*(\d{1,3})\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 1 && n <= s.choose.candidates.length ? s.choose.candidates[n - 1] : undefined;
}
