/**
 * Command results as styled lines for the results area: a movie's title,
 * its average as stars and as a number, the count; tables for lists; errors
 * in plain words with what to do next; and, under each answer, which front
 * end and replicas served it and the session timestamp it left behind, so
 * the gossip architecture is visible in every reply.
 *
 * Everything from the data or from other processes goes through `sanitize`.
 */
import type { CommandResult, HelpEntry, Served } from '../commands.js';
import { average2, dateText, dateTimeText, ratingText, sanitize, stars } from '../format.js';
import { clusterAliases, clusterLines, STATUS_SYMBOL } from './cluster.js';
import { compactVts, label, type Aliases } from './timestamps.js';
import { fit, line, pad, seg, textWidth, wrap, type Line, type Style } from './text.js';

const clean = (x: unknown) => sanitize(x);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Keys and screen features, listed after the commands by `help`. */
export const UI_KEYS: readonly (readonly [string, string])[] = [
  ['Tab', 'complete commands, replica names, movie titles and genres (Tab again cycles)'],
  ['↑ / ↓', 'earlier / later commands (kept between runs)'],
  ['PgUp / PgDn', 'scroll the results (also shift-↑ / shift-↓; End jumps to the newest)'],
  ['ctrl-t', 'show or hide the trace panel (same as trace on|off)'],
  ['ctrl-l', 'clear the results'],
  ['ctrl-c', 'quit'],
];

export function echoLine(text: string): Line {
  return line(seg('› ', 'cmd'), seg(clean(text), 'cmd'));
}

export function welcomeLines(width: number, user: number, fe: string | undefined): Line[] {
  const out: Line[] = [
    line(seg('hearsay', 'head'), ` — user ${user}`, fe ? ` via front end ${clean(fe)}` : '', '. Try:'),
    line('  ', seg('avg toy story', 'cmd'), seg('   a movie’s average rating', 'dim')),
    line('  ', seg('rate 1 4.5', 'cmd'), seg('      rate it, then watch the update spread in the cluster panel', 'dim')),
    line('  ', seg('set rm2 offline', 'cmd'), seg(' take a replica out; requests still succeed', 'dim')),
    line('  ', seg('help', 'cmd'), seg('            every command with an example', 'dim')),
  ];
  return out.flatMap((l) => wrap(l, width, 4));
}

function servedLine(s: Served | undefined, verb: string, aliases: Aliases): Line[] {
  if (!s) return [];
  const by = s.servedBy.map((id) => label(clean(id), aliases)).join(', ') || 'no replica';
  return [line(seg(`  ${verb} ${by}${s.frontend ? ` via ${clean(s.frontend)}` : ''} · your timestamp now ${compactVts(s.ts, aliases)}`, 'dim'))];
}

/** "forced update #7" */
function orderText(r: { ordering: string; sequence: number | undefined }): string {
  return `${clean(r.ordering)} update${r.sequence !== undefined ? ` #${r.sequence}` : ''}`;
}

function movieHead(title: string, id: number): Line {
  return line(seg(clean(title), 'title'), seg(`  #${id}`, 'dim'));
}

function avgLine(avg: number | null, count: number): Line {
  if (count === 0 || avg === null) return line('  ', seg('no ratings yet', 'dim'), seg(' — be the first: rate ID STARS', 'dim'));
  return line('  ', seg(stars(avg), 'stars'), ' ', seg(average2(avg), 'num'), seg(`  average of ${plural(count, 'rating')}`, 'dim'));
}

interface Column {
  readonly head: string;
  readonly align?: 'left' | 'right';
  /** Grows to fill the width (at most one column). */
  readonly flex?: boolean;
  readonly style?: Style;
}

/** A table that fits `width`: fixed columns take what they need, the flex column gets the rest (and is cut). */
export function tableLines(cols: readonly Column[], rows: readonly (readonly string[])[], width: number, indent = 2): Line[] {
  const gap = 2;
  const widths = cols.map((c, i) => Math.max(textWidth(c.head), ...rows.map((r) => textWidth(r[i] ?? ''))));
  const fixed = widths.reduce((a, w, i) => a + (cols[i]?.flex ? 0 : w), 0) + gap * (cols.length - 1) + indent;
  const flexAt = cols.findIndex((c) => c.flex);
  if (flexAt >= 0) widths[flexAt] = Math.max(6, Math.min(widths[flexAt] ?? 0, width - fixed));
  const render = (cells: readonly string[], head: boolean): Line => {
    const segs = cells.map((cell, i) => {
      const c = cols[i] as Column;
      const last = i === cols.length - 1;
      const w = widths[i] ?? 0;
      const text = last && c.align !== 'right' ? cell : pad(cell, w, c.align ?? 'left');
      return seg(text + (last ? '' : ' '.repeat(gap)), head ? 'dim' : c.style);
    });
    return fit([seg(' '.repeat(indent)), ...segs], width);
  };
  return [render(cols.map((c) => c.head), true), ...rows.map((r) => render(r, false))];
}

function helpLines(entries: readonly HelpEntry[], topic: string | undefined, width: number): Line[] {
  const out: Line[] = [];
  if (topic === undefined) out.push(line(seg('Commands', 'head'), seg(' (help COMMAND shows one; movies by id or title: avg 1, avg toy story)', 'dim')));
  const usageW = Math.min(34, Math.max(...entries.map((e) => textWidth(e.usage))) + 2);
  for (const e of entries) {
    if (topic !== undefined) {
      out.push(line(seg(e.usage, 'cmd')));
      out.push(...wrap(line('  ', e.explains), width, 2));
      out.push(line(seg('  example: ', 'dim'), seg(e.example, 'cmd')));
    } else if (width >= usageW + 30) {
      out.push(...wrap(line('  ', seg(pad(e.usage, usageW), 'cmd'), e.explains), width, usageW + 2));
      out.push(fit(line(' '.repeat(usageW + 2), seg('e.g. ', 'dim'), seg(e.example, 'cmd')), width));
    } else {
      out.push(line('  ', seg(e.usage, 'cmd')));
      out.push(...wrap(line('    ', e.explains, seg(`  e.g. ${e.example}`, 'dim')), width, 4));
    }
  }
  if (topic === undefined) {
    out.push(line(seg('Keys', 'head')));
    for (const [k, what] of UI_KEYS) out.push(...wrap(line('  ', seg(pad(k, 13), 'cmd'), what), width, 15));
  }
  return out;
}

/** Lines for one result. `aliases` name replica ids (from the cluster view). */
export function presentResult(r: CommandResult, width: number, aliases: Aliases = new Map()): Line[] {
  const w = Math.max(20, width);
  const wrapAll = (ls: Line[]) => ls.flatMap((l) => wrap(l, w, 4));
  switch (r.kind) {
    case 'avg':
      return wrapAll([movieHead(r.title, r.movieId), avgLine(r.average, r.count), ...servedLine(r.served, 'answered by', aliases)]);
    case 'movie':
      return wrapAll([
        movieHead(r.title, r.movieId),
        line(seg('  genres ', 'dim'), clean(r.genres.join(', ') || '(none listed)')),
        avgLine(r.average, r.count),
        ...servedLine(r.served, 'answered by', aliases),
      ]);
    case 'get':
      return wrapAll([
        movieHead(r.title, r.movieId),
        r.rating === null
          ? line('  ', seg('you have not rated it', 'dim'), seg(` — rate ${r.movieId} STARS`, 'dim'))
          : line('  your rating ', seg(stars(r.rating), 'stars'), ' ', seg(ratingText(r.rating), 'num'), seg(r.timestamp !== null ? `  (rated ${dateTimeText(r.timestamp)})` : '', 'dim')),
        ...servedLine(r.served, 'answered by', aliases),
      ]);
    case 'rated':
      return wrapAll([
        line(seg('✓ ', 'ok'), 'rated ', seg(clean(r.title), 'title'), seg(` #${r.movieId}`, 'dim'), ' ', seg(stars(r.rating), 'stars'), ' ', seg(ratingText(r.rating), 'num')),
        ...(r.warning ? [line(seg(`  note: ${clean(r.warning)}`, 'warn'))] : []),
        ...servedLine(r.served, 'logged at', aliases),
      ]);
    case 'deleted':
      return wrapAll([
        line(seg('✓ ', 'ok'), 'deleted your rating of ', seg(clean(r.title), 'title'), seg(` #${r.movieId}`, 'dim'), seg(' (if you had one)', 'dim')),
        ...(r.warning ? [line(seg(`  note: ${clean(r.warning)}`, 'warn'))] : []),
        ...servedLine(r.served, 'logged at', aliases),
      ]);
    case 'movieAdded':
      return wrapAll(
        r.existed
          ? [
              line(seg('= ', 'warn'), 'already exists: movie ', seg(`#${r.movieId}`, 'num'), ' ', seg(clean(r.title), 'title')),
              line(seg('  nothing was added (titles are compared ignoring case and extra spaces)', 'dim')),
              ...servedLine(r.served, 'checked by primary', aliases),
            ]
          : [
              line(seg('✓ ', 'ok'), 'added ', seg(clean(r.title), 'title'), ' as movie ', seg(`#${r.movieId}`, 'num')),
              line(seg(`  ${orderText(r)}: the primary chose the id, the same on every replica`, 'dim')),
              ...servedLine(r.served, 'sequenced by primary', aliases),
            ],
      );
    case 'userForgotten':
      return wrapAll([
        r.removed === undefined
          ? line(seg('✓ ', 'ok'), `forgot user ${r.userId}: every rating removed`)
          : line(seg('✓ ', 'ok'), `forgot user ${r.userId}: `, seg(String(r.removed), 'num'), ` ${r.removed === 1 ? 'rating' : 'ratings'} removed`),
        line(seg(`  ${orderText(r)}: ordered after every update acknowledged before it`, 'dim')),
        ...servedLine(r.served, 'sequenced by primary', aliases),
      ]);
    case 'search': {
      const what = [r.words ? `"${clean(r.words)}"` : '', r.genre ? `genre ${clean(r.genre)}` : ''].filter(Boolean).join(', ');
      if (r.movies.length === 0) return wrapAll([line(seg(`no movie matches ${what}`, 'warn')), line(seg('  try fewer or shorter words', 'dim'))]);
      const more = r.total > r.movies.length ? ` (first ${r.movies.length}; add words or --genre to narrow)` : '';
      return [
        ...wrapAll([line(`${plural(r.total, 'movie')} match ${what}`, seg(more, 'dim'))]),
        ...tableLines(
          [{ head: 'id', align: 'right' }, { head: 'title', flex: true, style: 'title' }, { head: 'genres', style: 'dim' }],
          r.movies.map((m) => [String(m.movieId), clean(m.title), clean(m.genres.join('|'))]),
          w,
        ),
        ...servedLine(r.served, 'answered by', aliases).flatMap((l) => wrap(l, w, 4)),
      ];
    }
    case 'ratings': {
      const who = r.mine ? 'you have' : `user ${r.userId} has`;
      if (r.ratings.length === 0) return wrapAll([line(`${who} rated no movies`), ...servedLine(r.served, 'answered by', aliases)]);
      return [
        line(`${who} rated ${plural(r.ratings.length, 'movie')}`),
        ...tableLines(
          [{ head: 'id', align: 'right' }, { head: 'rating', align: 'right', style: 'num' }, { head: '', style: 'stars' }, { head: 'date', style: 'dim' }, { head: 'title', flex: true, style: 'title' }],
          r.ratings.map((x) => [String(x.movieId), ratingText(x.rating), stars(x.rating), dateText(x.timestamp), clean(x.title)]),
          w,
        ),
        ...servedLine(r.served, 'answered by', aliases).flatMap((l) => wrap(l, w, 4)),
      ];
    }
    case 'status': {
      const a = clusterAliases(r.view, {});
      return clusterLines({ view: r.view, fe: undefined, prev: {}, width: w, height: 100, now: r.view.at, receivedAt: r.view.at }, a);
    }
    case 'statusSet': {
      const sym = STATUS_SYMBOL[r.status] ?? '';
      const why =
        r.status === 'OFFLINE'
          ? 'front ends will not choose it; it still gossips, so it catches up when it returns'
          : r.status === 'OVERLOADED'
            ? 'front ends choose it only when no ACTIVE replica is free'
            : 'front ends choose it again';
      return wrapAll([line(seg('✓ ', 'ok'), `${clean(r.rm)} is now `, seg(`${sym} ${r.status}`, r.status === 'ACTIVE' ? 'active' : r.status === 'OVERLOADED' ? 'overloaded' : 'offline'), seg(` — ${why}`, 'dim'))]);
    }
    case 'help':
      return helpLines(r.entries, r.topic, w);
    case 'choose': {
      const more = r.total > r.candidates.length ? ` (showing ${r.candidates.length})` : '';
      return [
        ...wrapAll([line(seg(`"${clean(r.query)}" matches ${plural(r.total, 'movie')}${more}`, 'warn'), ' — type a number to pick one:')]),
        ...r.candidates.map((c, i) => fit(line(seg(pad(String(i + 1), 4, 'right'), 'cmd'), '  ', seg(clean(c.title), 'title'), seg(`  #${c.movieId}`, 'dim')), w)),
      ];
    }
    case 'trace':
      return wrapAll([line(seg(r.on ? "trace on — the trace panel shows each request's path, gossip and pulls (ctrl-t toggles)" : 'trace off', 'dim'))]);
    case 'clear':
    case 'quit':
      return [];
    case 'error':
      return errorLines(r.message, r.hint, w);
  }
}

export function errorLines(message: string, hint: string, width: number): Line[] {
  return [line(seg('✗ ', 'error'), seg(clean(message), 'error')), ...(hint ? [line(seg(`  → ${clean(hint)}`, 'hint'))] : [])].flatMap((l) => wrap(l, Math.max(20, width), 4));
}
