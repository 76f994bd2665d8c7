/**
 * The trace panel's model: what the front end and the replicas did, newest
 * last, bounded, and aggregated so a gossip storm reads as a few lines.
 *
 * A request is one row that fills in as its events arrive (the front end's
 * choice of replicas, each replica's answer, the merged reply). Background
 * work (gossip, pulls, applying updates) that happens after the latest
 * request is folded per pair of replicas: "rm1 → rm3 gossip ×12 (4 records)".
 * Gossip that carries nothing counts into one "idle gossip" row.
 *
 * A forced or immediate update's row shows its path to the primary: which
 * replica the front end took for the primary and why (its 'chose' event's
 * `reason` and `term`), redirects, and the primary's 'committed' event
 * (matched by uid: the session's request ids start with the update's uid).
 * An election won ('elected') is a row of its own.
 */
import type { ReplicaStatus, TraceEvent } from '../../core/protocol.js';
import type { VTS } from '../../core/vts.js';
import { compactVts, label, type Aliases } from './timestamps.js';
import { sanitize } from '../format.js';
import { STATUS_SYMBOL } from './cluster.js';
import { fit, line, seg, wrap, type Line, type Seg } from './text.js';

export const TRACE_LIMIT = 200;

export interface ChoiceView {
  readonly rm: string;
  readonly status: ReplicaStatus;
  readonly inflight: number;
}

export interface AttemptView {
  readonly chosen: readonly ChoiceView[];
  readonly retry: boolean;
  /** Forced/immediate updates: why this replica was taken for the primary ('primary', 'redirect', 'guess'). */
  readonly reason?: string | undefined;
  readonly term?: number | undefined;
}

export type TraceRow =
  | {
      readonly kind: 'request';
      readonly id: string;
      readonly fe: string;
      readonly op: string;
      readonly prev: VTS | undefined;
      readonly attempts: readonly AttemptView[];
      readonly replies: readonly { readonly rm: string; readonly ok: boolean; readonly ts?: VTS | undefined; readonly code?: string | undefined }[];
      /** The primary's commit of a forced/immediate update: its place in the total order. */
      readonly committed?: { readonly rm: string; readonly seq: number } | undefined;
      readonly done?: { readonly ok: boolean; readonly ts?: VTS | undefined; readonly feprev: VTS } | undefined;
      readonly at: number;
    }
  | { readonly kind: 'elected'; readonly rm: string; readonly term: number; readonly at: number }
  /** A commit whose request is not on the panel (another client's, or tracing started late). */
  | { readonly kind: 'committed'; readonly rm: string; readonly seq: number; readonly uid: string; readonly at: number }
  | { readonly kind: 'gossip'; readonly from: string; readonly to: string; readonly count: number; readonly records: number; readonly kept: number; readonly at: number }
  | { readonly kind: 'idle'; readonly count: number; readonly at: number }
  | { readonly kind: 'pull'; readonly rm: string; readonly from: string; readonly missing: readonly string[]; readonly count: number; readonly at: number }
  | { readonly kind: 'applied'; readonly rm: string; readonly count: number; readonly at: number }
  | { readonly kind: 'status'; readonly rm: string; readonly status: ReplicaStatus; readonly at: number }
  | { readonly kind: 'snapshot'; readonly rm: string; readonly from: string; readonly at: number };

/** Index of the first row after the latest request: background rows from there on may be folded together. */
function runStart(rows: readonly TraceRow[]): number {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i]?.kind === 'request') return i + 1;
  return 0;
}

function replaceAt(rows: readonly TraceRow[], i: number, row: TraceRow): TraceRow[] {
  const out = rows.slice();
  out[i] = row;
  return out;
}

function bound(rows: TraceRow[], limit: number): TraceRow[] {
  return rows.length > limit ? rows.slice(rows.length - limit) : rows;
}

/** Finds, among the trailing background rows, the first that `match` accepts. */
function findInRun(rows: readonly TraceRow[], match: (r: TraceRow) => boolean): number {
  for (let i = rows.length - 1; i >= runStart(rows); i--) {
    const r = rows[i];
    if (r && match(r)) return i;
  }
  return -1;
}

function findRequest(rows: readonly TraceRow[], id: string): number {
  for (let i = rows.length - 1; i >= 0 && i >= rows.length - 100; i--) {
    const r = rows[i];
    if (r?.kind === 'request' && r.id === id) return i;
  }
  return -1;
}

/** The request of an update by its uid: a session names every attempt of an update `<uid>.<attempt>`. */
function findUpdate(rows: readonly TraceRow[], uid: string): number {
  for (let i = rows.length - 1; i >= 0 && i >= rows.length - 100; i--) {
    const r = rows[i];
    if (r?.kind === 'request' && (r.id === uid || r.id.startsWith(`${uid}.`))) return i;
  }
  return -1;
}

/** `reason` and `term` of a 'chose' event, when the front end gave them (forced/immediate updates). */
function primaryChoice(ev: object): { reason?: string; term?: number } {
  const x = ev as { reason?: unknown; term?: unknown };
  return {
    ...(typeof x.reason === 'string' ? { reason: x.reason } : {}),
    ...(typeof x.term === 'number' && Number.isFinite(x.term) ? { term: x.term } : {}),
  };
}

/** Adds one event to the rows (pure: returns new rows, never mutates). */
export function addTrace(rows: readonly TraceRow[], ev: TraceEvent, limit = TRACE_LIMIT): TraceRow[] {
  switch (ev.kind) {
    case 'request':
      return bound([...rows, { kind: 'request', id: ev.requestId, fe: ev.fe, op: ev.op, prev: ev.prev, attempts: [], replies: [], at: ev.at }], limit);
    case 'chose':
    case 'rmReply':
    case 'reply': {
      let i = findRequest(rows, ev.requestId);
      let base = rows;
      if (i < 0) {
        // The request's first event was missed (e.g. tracing was switched on mid-flight).
        base = [...rows, { kind: 'request', id: ev.requestId, fe: ev.fe, op: '?', prev: undefined, attempts: [], replies: [], at: ev.at }];
        i = base.length - 1;
      }
      const r = base[i];
      if (r?.kind !== 'request') return rows.slice();
      let next: TraceRow;
      if (ev.kind === 'chose') {
        next = { ...r, attempts: [...r.attempts, { chosen: ev.chosen.map((c) => ({ rm: c.rm, status: c.status, inflight: c.inflight })), retry: ev.retry, ...primaryChoice(ev) }] };
      } else if (ev.kind === 'rmReply') {
        next = { ...r, replies: [...r.replies, { rm: ev.rm, ok: ev.ok, ts: ev.ts, code: ev.code }] };
      } else {
        next = { ...r, done: { ok: ev.ok, ts: ev.ts, feprev: ev.feprev } };
      }
      return bound(replaceAt(base, i, next), limit);
    }
    case 'gossipSent': {
      if (ev.records === 0) {
        const i = findInRun(rows, (r) => r.kind === 'idle');
        const cur = rows[i];
        if (cur?.kind === 'idle') return replaceAt(rows, i, { ...cur, count: cur.count + 1, at: ev.at });
        return bound([...rows, { kind: 'idle', count: 1, at: ev.at }], limit);
      }
      const i = findInRun(rows, (r) => r.kind === 'gossip' && r.from === ev.rm && r.to === ev.to);
      const cur = rows[i];
      if (cur?.kind === 'gossip') return replaceAt(rows, i, { ...cur, count: cur.count + 1, records: cur.records + ev.records, at: ev.at });
      return bound([...rows, { kind: 'gossip', from: ev.rm, to: ev.to, count: 1, records: ev.records, kept: 0, at: ev.at }], limit);
    }
    case 'gossipReceived': {
      if (ev.kept === 0) return rows.slice();
      const i = findInRun(rows, (r) => r.kind === 'gossip' && r.from === ev.from && r.to === ev.rm);
      const cur = rows[i];
      if (cur?.kind === 'gossip') return replaceAt(rows, i, { ...cur, kept: cur.kept + ev.kept, at: ev.at });
      return bound([...rows, { kind: 'gossip', from: ev.from, to: ev.rm, count: 0, records: ev.records, kept: ev.kept, at: ev.at }], limit);
    }
    case 'pullSent': {
      const i = findInRun(rows, (r) => r.kind === 'pull' && r.rm === ev.rm && r.from === ev.to);
      const cur = rows[i];
      if (cur?.kind === 'pull') return replaceAt(rows, i, { ...cur, count: cur.count + 1, missing: [...new Set([...cur.missing, ...ev.missing])], at: ev.at });
      return bound([...rows, { kind: 'pull', rm: ev.rm, from: ev.to, missing: [...ev.missing], count: 1, at: ev.at }], limit);
    }
    case 'applied': {
      const i = findInRun(rows, (r) => r.kind === 'applied' && r.rm === ev.rm);
      const cur = rows[i];
      if (cur?.kind === 'applied') return replaceAt(rows, i, { ...cur, count: cur.count + 1, at: ev.at });
      return bound([...rows, { kind: 'applied', rm: ev.rm, count: 1, at: ev.at }], limit);
    }
    case 'snapshotInstalled':
      return bound([...rows, { kind: 'snapshot', rm: ev.rm, from: ev.from, at: ev.at }], limit);
    case 'status':
      return bound([...rows, { kind: 'status', rm: ev.rm, status: ev.status, at: ev.at }], limit);
    case 'elected':
      return bound([...rows, { kind: 'elected', rm: ev.rm, term: ev.term, at: ev.at }], limit);
    case 'committed': {
      const i = findUpdate(rows, ev.uid);
      const r = rows[i];
      if (r?.kind === 'request') return replaceAt(rows, i, { ...r, committed: { rm: ev.rm, seq: ev.seq } });
      return bound([...rows, { kind: 'committed', rm: ev.rm, seq: ev.seq, uid: ev.uid, at: ev.at }], limit);
    }
    default:
      return rows.slice();
  }
}

/** Replica ids and timestamps the rows mention (for choosing display names). */
export function traceIds(rows: readonly TraceRow[]): string[] {
  const s = new Set<string>();
  const addTs = (t: VTS | undefined) => {
    if (t) for (const k of Object.keys(t)) s.add(k);
  };
  for (const r of rows) {
    switch (r.kind) {
      case 'request':
        addTs(r.prev);
        for (const a of r.attempts) for (const c of a.chosen) s.add(c.rm);
        for (const x of r.replies) {
          s.add(x.rm);
          addTs(x.ts);
        }
        if (r.done) {
          addTs(r.done.ts);
          addTs(r.done.feprev);
        }
        if (r.committed) s.add(r.committed.rm);
        break;
      case 'elected':
      case 'committed':
        s.add(r.rm);
        break;
      case 'gossip':
        s.add(r.from);
        s.add(r.to);
        break;
      case 'pull':
        s.add(r.rm);
        s.add(r.from);
        for (const m of r.missing) s.add(m);
        break;
      case 'applied':
      case 'status':
        s.add(r.rm);
        break;
      case 'snapshot':
        s.add(r.rm);
        s.add(r.from);
        break;
      default:
        break;
    }
  }
  return [...s];
}

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

/** The lines of one row. Requests take up to four lines; background rows one. */
export function traceRowLines(r: TraceRow, a: Aliases): Line[] {
  const L = (id: string) => label(id, a);
  switch (r.kind) {
    case 'request': {
      const out: Line[] = [line(seg('▸ ', 'cmd'), seg(sanitize(r.op), 'cmd'), ` via ${sanitize(r.fe)}`, seg(` prev ${compactVts(r.prev, a)}`, 'dim'))];
      for (const at of r.attempts) {
        if (at.reason !== undefined) {
          out.push(primaryAttemptLine(at, L));
          continue;
        }
        const why = at.chosen.map((c) => `${L(c.rm)} (${c.status}, ${c.inflight} in flight)`).join(' + ');
        out.push(line(`  ${at.retry ? 'retry with' : 'chose'} `, why));
      }
      // The primary's commit goes on the answers' line: a forced request's path takes no more lines than a causal one's.
      const commit = r.committed ? [seg(' · ', 'dim'), seg(`committed by ${L(r.committed.rm)} as forced #${r.committed.seq}`, 'primary'), seg(' (a majority holds it)', 'dim')] : [];
      if (r.replies.length > 0) {
        const parts = r.replies.map((x) => (x.ok ? `${L(x.rm)} ts ${compactVts(x.ts, a)}` : `${L(x.rm)} failed ${sanitize(x.code ?? '')}`.trimEnd()));
        out.push(line('  ← ', parts.join(' · '), ...commit));
      } else if (r.committed) {
        out.push(line('  ', ...commit.slice(1)));
      }
      if (r.done) {
        out.push(
          r.done.ok
            ? line(seg('  ✓ ', 'ok'), `reply ts ${compactVts(r.done.ts, a)}`, seg(` → ${sanitize(r.fe)} prev ${compactVts(r.done.feprev, a)}`, 'dim'))
            : line(seg('  ✗ ', 'error'), 'failed', seg(` → ${sanitize(r.fe)} prev ${compactVts(r.done.feprev, a)}`, 'dim')),
        );
      }
      return out;
    }
    case 'gossip': {
      const what = [r.records > 0 ? plural(r.records, 'record') : '', r.kept > 0 ? `${r.kept} new` : ''].filter(Boolean).join(', ');
      return [line(seg(`${L(r.from)} → ${L(r.to)}`, 'hint'), ` gossip${r.count > 1 ? ` ×${r.count}` : ''}`, what ? ` (${what})` : '')];
    }
    case 'idle':
      return [line(seg(`idle gossip ×${r.count}`, 'dim'), seg(' (nothing new to send)', 'dim'))];
    case 'pull':
      return [
        line(
          seg(`${L(r.rm)} ⇠ ${L(r.from)}`, 'warn'),
          ` pull${r.count > 1 ? ` ×${r.count}` : ''}`,
          r.missing.length > 0 ? ` (needs updates from ${r.missing.map(L).join(', ')})` : '',
        ),
      ];
    case 'applied':
      return [line(seg(L(r.rm), 'hint'), ` applied ${plural(r.count, 'update')}`)];
    case 'status':
      return [line(seg(L(r.rm), 'hint'), ' is now ', seg(`${STATUS_SYMBOL[r.status] ?? ''} ${r.status}`, r.status === 'ACTIVE' ? 'active' : r.status === 'OVERLOADED' ? 'overloaded' : 'offline'))];
    case 'snapshot':
      return [line(seg(L(r.rm), 'hint'), ` installed a snapshot from ${L(r.from)}`)];
    case 'elected':
      return [line(seg('★ ', 'primary'), seg(`${L(r.rm)} elected primary`, 'primary'), ` for term ${r.term}`)];
    case 'committed':
      return [line(seg(L(r.rm), 'primary'), ` committed forced #${r.seq}`, seg(` (${sanitize(r.uid)})`, 'dim'))];
  }
}

/** "  → primary rm2 (term 3)": where the front end sent a forced/immediate update, and why. */
function primaryAttemptLine(at: AttemptView, L: (id: string) => string): Line {
  const rm = at.chosen.map((c) => L(c.rm)).join(' + ') || 'nobody';
  const term = at.term !== undefined ? ` (term ${at.term})` : '';
  const lead = at.retry ? '  retry → ' : '  → ';
  switch (at.reason) {
    case 'primary':
      return line(lead, seg(`primary ${rm}`, 'primary'), seg(term, 'dim'));
    case 'redirect':
      return line(lead, seg(`primary ${rm}`, 'primary'), seg(`${term}, as the replica asked said`, 'dim'));
    default:
      return line(lead, rm, seg(' (no primary known: it will name one, or say there is none)', 'dim'));
  }
}

type Background = Extract<TraceRow, { kind: 'gossip' | 'idle' | 'applied' }>;
const isBackground = (r: TraceRow): r is Background => r.kind === 'gossip' || r.kind === 'idle' || r.kind === 'applied';

/** Several background rows as one summary: "gossip rm1→rm2 ×86 (172 records) · rm3→rm4 (2 records, 2 new) · applied rm4 1 · idle ×1056". */
function backgroundLines(group: readonly Background[], a: Aliases, width: number): Line[] {
  const first = group[0];
  if (group.length === 1 && first) return traceRowLines(first, a).map((l) => fit(l, width));
  const L = (id: string) => label(id, a);
  const parts: Seg[] = [];
  const sep = () => {
    if (parts.length > 0) parts.push(seg(' · ', 'dim'));
  };
  const gossip = group.filter((r): r is Extract<Background, { kind: 'gossip' }> => r.kind === 'gossip');
  if (gossip.length > 0) {
    // One entry per sender, so even gossip between every pair of four replicas stays short.
    const bySender = new Map<string, { to: string[]; count: number; records: number; kept: number }>();
    for (const g of gossip) {
      const e = bySender.get(g.from) ?? { to: [], count: 0, records: 0, kept: 0 };
      e.to.push(L(g.to));
      e.count += g.count;
      e.records += g.records;
      e.kept += g.kept;
      bySender.set(g.from, e);
    }
    parts.push(seg('gossip ', 'dim'));
    [...bySender].forEach(([from, e], i) => {
      if (i > 0) parts.push(seg(' · ', 'dim'));
      const what = [plural(e.records, 'record'), e.kept > 0 ? `${e.kept} new` : ''].filter(Boolean).join(', ');
      parts.push(seg(`${L(from)}→${e.to.join(',')}`, 'hint'), seg(`${e.count > 1 ? ` ×${e.count}` : ''} (${what})`));
    });
  }
  const applied = group.filter((r): r is Extract<Background, { kind: 'applied' }> => r.kind === 'applied');
  if (applied.length > 0) {
    sep();
    parts.push(seg('applied ', 'dim'), seg(applied.map((x) => `${L(x.rm)} ${x.count}`).join(', ')));
  }
  const idle = group.reduce((n, r) => n + (r.kind === 'idle' ? r.count : 0), 0);
  if (idle > 0) {
    sep();
    parts.push(seg(`idle gossip ×${idle}`, 'dim'));
  }
  return wrap(parts, width, 2);
}

/**
 * The trace panel's lines for the newest rows: requests in full, and each
 * stretch of background work (gossip, updates applied) summarised in as few
 * lines as the width allows, so a gossip storm never pushes a request's
 * path off the panel.
 */
export function traceLines(rows: readonly TraceRow[], a: Aliases, width: number, maxRows = 60): Line[] {
  const out: Line[] = [];
  const recent = rows.slice(-maxRows);
  for (let i = 0; i < recent.length; ) {
    const r = recent[i] as TraceRow;
    if (isBackground(r)) {
      const group: Background[] = [];
      while (i < recent.length && isBackground(recent[i] as TraceRow)) group.push(recent[i++] as Background);
      out.push(...backgroundLines(group, a, width));
    } else {
      out.push(...traceRowLines(r, a).map((l) => fit(l, width)));
      i++;
    }
  }
  return out;
}
