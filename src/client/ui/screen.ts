/**
 * The whole screen as lines, from the state and the terminal size (pure).
 * The components only draw what this returns, and the cursor position for
 * the command line comes from the same place.
 */
import { activeBanners, maxScroll, type UiState } from './state.js';
import { clusterAliases, clusterLines, clusterWants } from './cluster.js';
import { layout, type Layout } from './layout.js';
import { traceIds, traceLines } from './trace.js';
import { fit, line, lineWidth, ruleLine, seg, textWidth, truncate, type Line } from './text.js';
import type { VTS } from '../../core/vts.js';
import { sanitize } from '../format.js';

export interface ScreenInput {
  readonly state: UiState;
  readonly columns: number;
  readonly rows: number;
  readonly now: number;
  /** The session timestamp. */
  readonly prev: VTS;
}

export interface ScreenModel {
  readonly layout: Layout;
  readonly banners: readonly Line[];
  readonly cluster: readonly Line[];
  readonly trace: readonly Line[] | undefined;
  readonly results: readonly Line[];
  readonly notice: Line;
  readonly input: Line;
  /** Where the terminal cursor goes (column, row from the top of the screen). */
  readonly cursor: { readonly x: number; readonly y: number };
}

const KEYS_HINT = 'Tab completes · ↑↓ history · PgUp/PgDn scroll · ctrl-t trace · help · ctrl-c quits';

/** Pads with empty lines (at the top when `bottom`) to exactly `h` lines. */
function exactly(lines: readonly Line[], h: number, bottom = false): Line[] {
  const out = lines.length > h ? (bottom ? lines.slice(lines.length - h) : lines.slice(0, h)) : [...lines];
  const blanks: Line[] = Array.from({ length: h - out.length }, () => []);
  return bottom ? [...blanks, ...out] : [...out, ...blanks];
}

export function resultsView(s: UiState, width: number, height: number): Line[] {
  const h = Math.max(1, height - 1);
  const total = s.results.length;
  const scroll = Math.min(s.scroll, maxScroll(total, h));
  const end = total - scroll;
  const start = Math.max(0, end - h);
  const marks: string[] = [];
  if (start > 0) marks.push(`↑ ${start} older (PgUp)`);
  if (scroll > 0) marks.push(`↓ ${scroll} newer${s.unseen > 0 ? `, ${s.unseen} new` : ''} (PgDn, End)`);
  const head = ruleLine(line(seg('RESULTS', 'head')), width, marks.length ? line(seg(marks.join(' · '), s.unseen > 0 ? 'warn' : 'dim')) : undefined);
  const body = s.results.slice(start, end).map((l) => fit(l, width));
  return [head, ...exactly(body, h, true)];
}

export function traceView(s: UiState, aliases: ReturnType<typeof clusterAliases>, width: number, height: number): Line[] {
  const head = ruleLine(line(seg('TRACE', 'head'), seg(' client → FE → 2 RMs, or the primary → reply; gossip', 'dim')), width, line(seg('ctrl-t hides', 'dim')));
  const h = Math.max(0, height - 1);
  if (s.trace.length === 0) return [head, ...exactly([line(seg('waiting for requests and gossip… (try avg 1 or rate 1 4)', 'dim'))], h)];
  const lines = traceLines(s.trace, aliases, width);
  return [head, ...exactly(lines.map((l) => fit(l, width)), h, true)];
}

/** The command line, scrolled sideways so the cursor stays visible. */
export function inputView(prompt: string, text: string, cursor: number, width: number): { line: Line; x: number } {
  const pw = textWidth(prompt);
  const room = Math.max(4, width - pw - 1);
  const chars = [...text];
  const before = chars.slice(0, cursor);
  let startAt = 0;
  // Keep the cursor inside the window: drop characters from the left as needed.
  while (textWidth(before.slice(startAt).join('')) > room - 1) startAt++;
  const shown = truncate(chars.slice(startAt).join(''), room);
  const x = pw + textWidth(before.slice(startAt).join(''));
  return { line: line(seg(prompt, 'cmd'), startAt > 0 ? seg('…', 'dim') : '', startAt > 0 ? shown.slice(1) : shown), x };
}

export function promptFor(s: UiState): string {
  if (s.confirm) return 'y/N › ';
  if (s.choose) return `pick 1-${s.choose.candidates.length} › `;
  return '› ';
}

export function screenModel(i: ScreenInput): ScreenModel {
  const s = i.state;
  const banners = activeBanners(s);
  const L = layout(i.columns, i.rows, { banners: banners.length, clusterWants: clusterWants(s.cluster), traceOn: s.traceOn });
  const aliases = clusterAliases(s.cluster, i.prev, s.traceOn ? traceIds(s.trace) : []);
  const bannerLines = banners.slice(0, L.banners).map((b) => fit(line(seg(`⚠ ${sanitize(b.text)}`, b.style)), L.width));
  const cluster = exactly(
    clusterLines({ view: s.cluster, fe: s.frontend, prev: i.prev, width: L.cluster.width, height: L.cluster.height, now: i.now, receivedAt: s.clusterAt }, aliases),
    L.cluster.height,
  );
  const trace = L.trace ? traceView(s, aliases, L.trace.width, L.trace.height) : undefined;
  const results = resultsView(s, L.results.width, L.results.height);
  const notice: Line = s.notice
    ? fit(s.notice, L.width)
    : s.busy
      ? fit(line(seg(`⋯ ${sanitize(s.busy)}`, 'warn')), L.width)
      : fit(line(seg(KEYS_HINT, 'dim')), L.width);
  const inp = inputView(promptFor(s), s.input, s.cursor, L.width);
  const y = L.height - 1;
  return { layout: L, banners: bannerLines, cluster, trace, results, notice, input: inp.line, cursor: { x: Math.min(inp.x, L.width - 1), y } };
}

/** The screen as plain text (for captures and tests). */
export function screenText(m: ScreenModel): string {
  const t = (l: Line) => l.map((s) => s.text).join('');
  const rows: string[] = [...m.banners.map(t)];
  if (m.layout.mode === 'stacked') {
    rows.push(...m.cluster.map(t), ...(m.trace ?? []).map(t), ...m.results.map(t));
  } else {
    const right = [...m.cluster, ...(m.trace ?? [])];
    const h = Math.max(m.results.length, right.length);
    for (let k = 0; k < h; k++) {
      const left = m.results[k] ?? [];
      rows.push(t(left) + ' '.repeat(Math.max(0, m.layout.results.width - lineWidth(left))) + '│' + t(right[k] ?? []));
    }
  }
  rows.push(t(m.notice), t(m.input));
  return rows.map((r) => r.trimEnd()).join('\n');
}
