/**
 * Plain-text rendering of command results, for people.
 *
 * Everything that comes from the data (titles, genres) or from other people
 * (replica names, error messages relayed from servers, what a user typed) goes
 * through `sanitize` before it reaches a terminal, so a title cannot move the
 * cursor, retitle the window, hide text or ring the bell.
 */
import type { ClusterView, ReplicaView, TraceEvent } from '../core/protocol.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import type { CommandResult, HelpEntry } from './commands.js';

// ---------------------------------------------------------------------------
// Terminal safety

/* eslint-disable no-control-regex */
/** CSI: ESC [ or the 8-bit 0x9B, parameters, intermediates, one final byte. */
const CSI = /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?/g;
/** OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \ or 0x9C), or to the end if unterminated (a terminal would swallow it). */
const STRING_SEQ = /\x1b[\]PX^_][\s\S]*?(?:\x07|\x1b\\|\x9c|$)/g;
/** The same with an 8-bit introducer, only when terminated (a stray C1 byte alone is just dropped below). */
const STRING_SEQ_8BIT = /[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)/g;
/** Any other escape: ESC, intermediates, one final byte (e.g. ESC c, ESC ( B). */
const OTHER_ESC = /\x1b[\x20-\x2f]*[\x30-\x7e]?/g;
/** C0 controls, DEL and C1 controls that survived the above. */
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
/** Explicit bidirectional embeddings/overrides/isolates, which can reorder what is shown. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/**
 * Returns `text` with every terminal control removed: escape sequences (CSI,
 * OSC and other string sequences, two-byte escapes, in 7- and 8-bit forms),
 * the remaining C0/C1 control characters and DEL, and explicit bidi controls.
 * Tabs and line breaks become single spaces (results are laid out line by
 * line by the formatter), unless `keepNewlines` is set, when `\n` is kept.
 * Ordinary Unicode (accents, CJK, emoji) is kept as it is.
 */
export function sanitize(text: unknown, opts: { keepNewlines?: boolean } = {}): string {
  let s = typeof text === 'string' ? text : String(text);
  s = s.replace(STRING_SEQ, '').replace(STRING_SEQ_8BIT, '').replace(CSI, '').replace(OTHER_ESC, '').replace(BIDI, '');
  if (opts.keepNewlines) {
    s = s.replace(/\r\n?/g, '\n').replace(/\t/g, ' ').replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, '');
  } else {
    s = s.replace(/[\t\r\n]+/g, ' ').replace(CONTROLS, '');
  }
  return s;
}

// ---------------------------------------------------------------------------
// Small pieces

/** A rating or an average as stars, to the nearest half: 3.5 → ★★★½☆. */
export function stars(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '';
  const halves = Math.max(0, Math.min(10, Math.round(x * 2)));
  const full = Math.floor(halves / 2);
  const half = halves % 2;
  return '★'.repeat(full) + (half ? '½' : '') + '☆'.repeat(5 - full - half);
}

/** An average with 2 decimals (3.99), or "–" when there are no ratings. */
export function average2(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2);
}

/** A rating as written by users: 4, 4.5. */
export function ratingText(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** Unix seconds as a UTC date, 2018-09-24. */
export function dateText(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined || !Number.isFinite(unixSeconds)) return '';
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
}

/** Unix seconds as UTC date and time, 2018-09-24 13:05 UTC. */
export function dateTimeText(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined || !Number.isFinite(unixSeconds)) return '';
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A vector timestamp, sanitized: `rm1.k2:3 rm2.x9:1`, or ∅. */
export function vtsText(ts: VTS): string {
  return sanitize(V.format(ts));
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A replica's name from its id: `rm2.kx3f` → rm2 (the incarnation suffix dropped). */
export function replicaName(id: string): string {
  const dot = id.lastIndexOf('.');
  return sanitize(dot > 0 ? id.slice(0, dot) : id);
}

/** "(forced update #7, sequenced by primary rm2)" — how a forced/immediate update was ordered. */
function sequencedText(r: { ordering: string; sequence: number | undefined; primary: string | undefined }, verb: string): string {
  const n = r.sequence !== undefined ? ` #${r.sequence}` : '';
  return `(${sanitize(r.ordering)} update${n}${r.primary ? `, ${verb}${replicaName(r.primary)}` : ''})`;
}

function movieLabel(movieId: number, title: string): string {
  return `${sanitize(title)} [#${movieId}]`;
}

/** Display width: code points (wide characters count as one; good enough for tables). */
function width(s: string): number {
  return [...s].length;
}

/**
 * Lays out rows as columns separated by two spaces. Every cell must already be
 * sanitized. `align` says which columns are right-aligned (numbers); the last
 * column is never padded.
 */
export function table(header: readonly string[] | null, rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const all = header ? [header, ...rows] : rows;
  const cols = Math.max(0, ...all.map((r) => r.length));
  const w: number[] = [];
  for (let c = 0; c < cols; c++) w[c] = Math.max(0, ...all.map((r) => width(r[c] ?? '')));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => {
        if (c === r.length - 1 && !right.includes(c)) return cell;
        const pad = ' '.repeat(Math.max(0, (w[c] ?? 0) - width(cell)));
        return right.includes(c) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

function ago(at: number | null, now: number): string {
  if (at === null) return 'never';
  const ms = Math.max(0, now - at);
  return ms < 1000 ? `${ms} ms ago` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s ago` : `${Math.round(ms / 60_000)} min ago`;
}

// ---------------------------------------------------------------------------
// Results

/** Plain text for one command result; no trailing newline. */
export function formatResult(r: CommandResult): string {
  switch (r.kind) {
    case 'search': {
      const what = [r.words ? `"${sanitize(r.words)}"` : '', r.genre ? `genre ${sanitize(r.genre)}` : ''].filter(Boolean).join(', ');
      if (r.movies.length === 0) return `no movie matches ${what || 'the search'}`;
      const head = `${plural(r.total, 'movie')} match ${what}${r.total > r.movies.length ? ` (showing the first ${r.movies.length}; add words or --genre to narrow it)` : ''}:`;
      const rows = r.movies.map((m) => [`${m.movieId}`, sanitize(m.genres.join(', ') || '–'), sanitize(m.title)]);
      return `${head}\n${indent(table(['id', 'genres', 'title'], rows, [0]))}`;
    }
    case 'movie': {
      const lines = [movieLabel(r.movieId, r.title)];
      lines.push(`  genres:  ${sanitize(r.genres.join(', ') || '(none listed)')}`);
      lines.push(r.count > 0 ? `  average: ${average2(r.average)} ${stars(r.average)} from ${plural(r.count, 'rating')}` : '  average: no ratings yet');
      return lines.join('\n');
    }
    case 'avg':
      return r.count > 0
        ? `${movieLabel(r.movieId, r.title)}: average ${average2(r.average)} ${stars(r.average)} from ${plural(r.count, 'rating')}`
        : `${movieLabel(r.movieId, r.title)}: no ratings yet`;
    case 'get':
      return r.rating === null
        ? `you have not rated ${movieLabel(r.movieId, r.title)}`
        : `your rating of ${movieLabel(r.movieId, r.title)}: ${ratingText(r.rating)} ${stars(r.rating)} (rated ${dateTimeText(r.timestamp)})`;
    case 'rated':
      return [`rated ${movieLabel(r.movieId, r.title)}: ${ratingText(r.rating)} ${stars(r.rating)}`, ...warningLines(r.warning)].join('\n');
    case 'deleted':
      return [`deleted your rating of ${movieLabel(r.movieId, r.title)} (if you had one)`, ...warningLines(r.warning)].join('\n');
    case 'movieAdded':
      return r.existed
        ? `already exists: movie ${r.movieId} "${sanitize(r.title)}"`
        : `added "${sanitize(r.title)}" as movie ${r.movieId} ${sequencedText(r, 'sequenced by primary ')}`;
    case 'userForgotten':
      return r.removed === undefined
        ? `forgot user ${r.userId}: every rating removed ${sequencedText(r, 'primary ')}`
        : `forgot user ${r.userId}: ${plural(r.removed, 'rating')} removed ${sequencedText(r, 'primary ')}`;
    case 'ratings': {
      const who = r.mine ? 'you have' : `user ${r.userId} has`;
      if (r.ratings.length === 0) return `${who} rated no movies`;
      const rows = r.ratings.map((x) => [`${x.movieId}`, ratingText(x.rating), stars(x.rating), dateText(x.timestamp), sanitize(x.title)]);
      return `${who} rated ${plural(r.ratings.length, 'movie')}:\n${indent(table(['id', 'rating', '', 'date', 'title'], rows, [0, 1]))}`;
    }
    case 'status':
      return formatCluster(r.view);
    case 'statusSet':
      return `${sanitize(r.rm)} is now ${r.status}`;
    case 'help':
      return formatHelp(r.entries, r.topic);
    case 'choose': {
      const rows = r.candidates.map((c) => [`${c.movieId}`, sanitize(c.title)]);
      const more = r.total > r.candidates.length ? ` (showing ${r.candidates.length})` : '';
      return `"${sanitize(r.query)}" matches ${plural(r.total, 'movie')}${more}; say which one by id, e.g. ${sanitize(r.command)} ${r.candidates[0]?.movieId ?? 1}${r.command === 'rate' ? ' 4' : ''}:\n${indent(table(['id', 'title'], rows, [0]))}`;
    }
    case 'trace':
      return r.on ? 'trace on: requests and gossip are shown as they happen' : 'trace off';
    case 'clear':
      return '';
    case 'quit':
      return 'bye';
    case 'error':
      return `error: ${sanitize(r.message)}\n  ${sanitize(r.hint)}`;
  }
}

function warningLines(w: string | undefined): string[] {
  return w ? [`  note: ${sanitize(w)}`] : [];
}

/** The cluster as the status command shows it: one row per replica, then the front ends. */
export function formatCluster(view: ClusterView): string {
  const now = view.at;
  const replicas = [...view.replicas].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const leader = primaryOf(view);
  const rows = replicas.map((r: ReplicaView) => [
    sanitize(r.name) + (leader && r.id === leader.id ? ' (primary)' : ''),
    sanitize(r.id),
    r.status,
    r.phase,
    `${r.logLength}`,
    `${r.lag}`,
    ago(r.lastGossipAt, now),
    vtsText(r.valueTS),
  ]);
  const out: string[] = [];
  const head = primaryText(view);
  if (head) out.push(head);
  out.push(
    replicas.length === 0
      ? 'no replica is registered'
      : `${plural(replicas.length, 'replica')} (as seen by ${sanitize(view.via)}):\n${indent(table(['name', 'id', 'status', 'phase', 'log', 'lag', 'gossip', 'valueTS'], rows, [4, 5]))}`,
  );
  const fes = [...view.frontends].sort((a, b) => (a.name < b.name ? -1 : 1));
  out.push(
    fes.length === 0
      ? 'no front end is registered'
      : `${plural(fes.length, 'front end')}:\n${indent(table(['name', 'url', 'prev'], fes.map((f) => [sanitize(f.name), sanitize(f.url), vtsText(f.prev)])))}`,
  );
  return out.join('\n');
}

/**
 * The elected primary of a view: `view.primary` when the front end sent it,
 * else the leader with the highest term among the replicas; null when there
 * is none; undefined when nothing in the view speaks of an election.
 */
export function primaryOf(view: ClusterView): { id: string; name: string; term: number } | null | undefined {
  if (view.primary !== undefined) return view.primary;
  let best: ReplicaView | undefined;
  for (const r of view.replicas) if (r.primary?.role === 'leader' && (!best || r.primary.term > best.primary!.term)) best = r;
  if (best) return { id: best.id, name: best.name, term: best.primary!.term };
  return view.replicas.some((r) => r.primary !== undefined) ? null : undefined;
}

/** "primary rm2 · term 3", "no primary (election)", or undefined when no replica publishes its part in an election. */
export function primaryText(view: ClusterView): string | undefined {
  const p = primaryOf(view);
  if (p) return `primary ${sanitize(p.name)} · term ${p.term}`;
  const roles = view.replicas.map((r) => r.primary?.role).filter((x) => x !== undefined);
  // Replicas that publish nothing about an election (older ones) say nothing about a primary either.
  if (roles.length === 0) return undefined;
  if (roles.every((x) => x === 'none')) return 'no primary (the replicas run without --voters: add-movie and forget-user are off)';
  return 'no primary (election)';
}

function formatHelp(entries: readonly HelpEntry[], topic: string | undefined): string {
  if (topic !== undefined) {
    return entries.map((e) => `${e.usage}\n  ${e.explains}\n  example: ${e.example}`).join('\n\n');
  }
  const rows = entries.map((e) => [e.usage, e.explains]);
  return `commands (help COMMAND for an example):\n${indent(table(null, rows))}\nmovies can be given by id or by title: movie 1, movie toy story`;
}

/**
 * Why a forced/immediate update went where it went, from the 'chose' event's
 * `reason` and `term` (set by the front end for those updates only).
 */
export function primaryReasonText(e: object): string | undefined {
  const x = e as { reason?: unknown; term?: unknown };
  const term = typeof x.term === 'number' ? ` (term ${x.term})` : '';
  switch (x.reason) {
    case 'primary':
      return `as the primary${term}`;
    case 'redirect':
      return `as the primary named by a replica${term}`;
    case 'guess':
      return 'with no primary known (it will name one, or say there is none)';
    default:
      return undefined;
  }
}

/** One line for a trace event (the plain client's `trace on`). */
export function formatTrace(e: TraceEvent): string {
  const t = new Date(e.at).toISOString().slice(11, 23);
  const s = (x: unknown) => sanitize(x);
  switch (e.kind) {
    case 'request':
      return `${t} ${s(e.fe)} request ${s(e.requestId)} ${s(e.op)} prev ${vtsText(e.prev)}`;
    case 'chose': {
      const why = primaryReasonText(e);
      return `${t} ${s(e.fe)} ${e.retry ? 'retries with' : 'chose'} ${e.chosen.map((c) => `${s(c.rm)} (${c.status}, ${c.inflight} in flight)`).join(', ') || 'nobody'}${why ? ` ${why}` : ''} for ${s(e.requestId)}`;
    }
    case 'rmReply':
      return `${t} ${s(e.fe)} ← ${s(e.rm)} ${e.ok ? `ok${e.ts ? ` ts ${vtsText(e.ts)}` : ''}` : `failed ${s(e.code ?? '')}`} for ${s(e.requestId)}`;
    case 'reply':
      return `${t} ${s(e.fe)} replied ${e.ok ? 'ok' : 'error'} to ${s(e.requestId)}${e.ts ? ` ts ${vtsText(e.ts)}` : ''}, FE prev ${vtsText(e.feprev)}`;
    case 'gossipSent':
      return `${t} ${s(e.rm)} gossip → ${s(e.to)}: ${plural(e.records, 'record')}`;
    case 'gossipReceived':
      return `${t} ${s(e.rm)} gossip ← ${s(e.from)}: ${plural(e.records, 'record')}, ${e.kept} new`;
    case 'pullSent':
      return `${t} ${s(e.rm)} pulls from ${s(e.to)} (missing ${e.missing.map(s).join(', ')})`;
    case 'applied':
      return `${t} ${s(e.rm)} applied ${s(e.uid)}`;
    case 'snapshotInstalled':
      return `${t} ${s(e.rm)} installed a snapshot from ${s(e.from)}`;
    case 'status':
      return `${t} ${s(e.rm)} is now ${e.status}`;
    case 'elected':
      return `${t} ${s(e.rm)} elected primary for term ${e.term}`;
    case 'committed':
      return `${t} ${s(e.rm)} committed ${s(e.uid)} as forced #${e.seq} (a majority holds it)`;
    default:
      return `${t} ${s(JSON.stringify(e))}`;
  }
}
