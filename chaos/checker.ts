/**
 * The chaos run's judge. It sees only what crosses the wire to clients (and,
 * after healing, what replicas answer when asked directly): values, vector
 * timestamps, ok/error. docs/chaos.md defines every rule; in short:
 *
 * - Every update writes a unique rating timestamp, so a read that returns a
 *   rating names the write it saw. A missing rating is "some delete of that
 *   row, or the base data had none".
 * - "Older" is the last-writer-wins order, known only in part from outside:
 *     · the base data is older than every write;
 *     · a is older than b when a's writer's session knew a before issuing b
 *       (a is in b's causal past: a copy of a's timestamp is covered by the
 *       prev b was sent with, or b's writer had read or written a, directly
 *       or through other writes it had seen);
 *     · when both writes' versions (order, uid) can be computed from their
 *       replies, by version. An update logged at two replicas comes back with
 *       two copies' timestamps, `ts_A = prev[A := a]` and `ts_B = prev[B := b]`,
 *       from which prev (hence order = Σ prev) follows; one copy gives bounds.
 *   Two writes neither of which is known to be older are concurrent: either
 *   may be shown.
 * - Session guarantees, per client and row: a read must not show a value
 *   older than one the client wrote (read your writes), read before
 *   (monotonic reads), or that belongs to the causal past of a write it has
 *   seen (writes follow reads); a client's later write must not be older
 *   than its earlier one (monotonic writes); a session timestamp never goes
 *   backwards.
 * - After healing: every replica reports the same digest and valueTS and
 *   answers the same value for every row; that value is one some client
 *   wrote (or the base), and no acknowledged write is older than it
 *   (a lost update otherwise); every acknowledged update's timestamp is
 *   covered by every replica's valueTS.
 * - Availability: the share of requests answered ok while at most one
 *   replica is unavailable.
 * - Forgotten users (immediate forgetUser): a forget has the version
 *   (Σ prev, uid) of its forced record, known exactly from its reply
 *   (ts = prev[forced := seq], so Σ prev = Σ ts − 1). It stands for "no
 *   rating" on every row of its user. A write is older than a forget when
 *   the versions say so, or when the write is in the forget's causal past
 *   (a copy's or the reply's timestamp ≤ the forget's ts); a forget is older
 *   than a write whose writer's session had seen it. After its forget is
 *   acknowledged a session never sees that user's older ratings (read your
 *   writes for forgets), and after healing no replica holds a rating of a
 *   forgotten user that is older than the forget (the base rows included).
 * - Added movies (forced addMovie) and the forced sequence: forced.ts.
 */
import * as V from '../src/core/vts.js';
import type { VTS } from '../src/core/vts.js';
import { checkForced, forcedTsOf, type ForcedStats, type MovieAnswers } from './forced.js';
import type { FaultRecord, OpRecord } from './history.js';

export interface BaseRow {
  readonly rating: number;
  readonly timestamp: number;
}

export type RowValue = BaseRow | null;

export interface FinalReplica {
  readonly name: string;
  readonly id: string;
  readonly phase: string;
  readonly digest: string;
  readonly valueTS: VTS;
  /**
   * Every rating this replica holds for the run's users, read after healing:
   * key "user:movie" → value. A key not listed means "no rating".
   */
  readonly rows: ReadonlyMap<string, BaseRow>;
  /** For every movie id a client was given by an acknowledged addMovie: the title this replica answers (null: unknown movie). */
  readonly movies?: MovieAnswers | undefined;
}

export interface FinalState {
  readonly replicas: readonly FinalReplica[];
  /** Milliseconds from healing to convergence, or null if the replicas did not converge in time. */
  readonly convergedMs: number | null;
  readonly convergeBoundMs: number;
}

export interface CheckInput {
  readonly ops: readonly OpRecord[];
  readonly faults: readonly FaultRecord[];
  /** Every base-data row of `users` (absent here = no rating in the base data). */
  readonly base: ReadonlyMap<string, BaseRow>;
  readonly users: readonly number[];
  readonly final?: FinalState | undefined;
  /** Time after a front-end or naming fault ends during which requests do not count towards the threshold (default 3 s). */
  readonly serviceGraceMs?: number | undefined;
  /** Lowest acceptable availability while at most one replica is unavailable (default: report only). */
  readonly minAvailability?: number | undefined;
}

export interface Violation {
  readonly rule: string;
  /** Milliseconds since the run start. */
  readonly at: number;
  readonly client?: string | undefined;
  readonly op?: number | undefined;
  readonly detail: string;
}

export interface Availability {
  readonly ok: number;
  readonly total: number;
  readonly share: number;
}

export interface CheckResult {
  readonly violations: Violation[];
  readonly ops: number;
  readonly queries: number;
  readonly updates: number;
  readonly acked: number;
  readonly errors: Readonly<Record<string, number>>;
  /** All requests of the fault phase. */
  readonly availability: Availability;
  /** Requests during which at most one replica was unavailable. */
  readonly availabilityOneDown: Availability;
  /**
   * Requests during which at most one replica was unavailable and no front
   * end or naming fault was in force (nor had ended less than
   * `serviceGraceMs` before): what the threshold applies to.
   */
  readonly availabilityReplicaFaults: Availability;
  readonly exactVersions: number;
  readonly excused: number;
  /** Forced (addMovie) and immediate (forgetUser) updates. */
  readonly forced: ForcedStats;
}

/** Faults that kill a replica (the primary is a replica too). */
export const RM_KILLS: ReadonlySet<string> = new Set(['rm-kill', 'primary-kill']);

/** Faults of the front ends and the naming service (their windows are left out of the availability threshold). */
const SERVICE_FAULTS: ReadonlySet<string> = new Set(['fe-kill', 'fe-partition', 'naming-kill', 'naming-partition']);

export const rowKey = (user: number, movie: number): string => `${user}:${movie}`;
const userOfKey = (key: string): number => Number(key.split(':')[0]);

// ---------------------------------------------------------------------------
// Writes and what is known about their order

interface Write {
  readonly op: OpRecord;
  readonly key: string;
  readonly kind: 'rate' | 'delete';
  readonly rating: number | null;
  readonly stamp: number;
  readonly acked: boolean;
  readonly uid: string | undefined;
  /** Bounds of the version's order (Σ prev); equal when known exactly. */
  readonly lo: number;
  readonly hi: number;
  readonly exact: boolean;
  readonly copies: readonly (readonly [string, VTS])[];
  /** What the writer's session knew when it issued this write. */
  past?: Knowledge | undefined;
}

/**
 * An immediate forgetUser: "no rating" on every row of `user`, with the
 * version of its forced record. Acknowledged: the version is exact, and `ts`
 * is the forced record's timestamp; otherwise it may or may not have been
 * applied, with a version above what the client sent.
 */
interface Forget {
  readonly kind: 'forget';
  readonly op: OpRecord;
  readonly user: number;
  readonly acked: boolean;
  readonly uid: string | undefined;
  readonly lo: number;
  readonly hi: number;
  readonly exact: boolean;
  readonly ts: VTS | undefined;
}

type Elem = Write | Forget | 'base';
type Label = 'own write' | 'read' | 'writes follow reads';
/** row key → writes known (none known to be older than another) → how they became known. */
type Knowledge = Map<string, Map<Write, Label>>;

const describe = (e: Elem | undefined): string =>
  e === undefined
    ? 'nothing'
    : e === 'base'
      ? 'the base data'
      : e.kind === 'forget'
        ? `forget of user ${e.user} #${e.op.id} by ${e.op.client} (${e.acked ? `order ${e.lo}` : 'not acknowledged'})`
        : `${e.kind === 'rate' ? `rating ${e.rating}` : 'delete'} #${e.op.id} by ${e.op.client} (stamp ${e.stamp}${e.exact ? `, order ${e.lo}` : ''})`;

/**
 * The prev an update was logged with, from its copies' timestamps:
 * ts_n = prev with entry n raised. Consistent only if all copies agree
 * outside their own entries and the result covers the prev the client sent.
 */
export function prevFromCopies(copies: readonly (readonly [string, VTS])[], sent: VTS): VTS | undefined {
  if (copies.length < 2) return undefined;
  const nodes = new Set(copies.map(([n]) => n));
  const prev: Record<string, number> = {};
  const keys = new Set<string>();
  for (const [, ts] of copies) for (const k of Object.keys(ts)) keys.add(k);
  for (const k of keys) {
    // An entry is read from any copy made by another node; all such copies must agree.
    let v: number | undefined;
    for (const [n, ts] of copies) {
      if (n === k) continue;
      const x = (ts as Record<string, number>)[k] ?? 0;
      if (v === undefined) v = x;
      else if (v !== x) return undefined;
    }
    if (v === undefined) return undefined;
    if (v > 0) prev[k] = v;
  }
  for (const [n, ts] of copies) {
    if (!nodes.has(n)) return undefined;
    if (((ts as Record<string, number>)[n] ?? 0) <= (prev[n] ?? 0)) return undefined;
  }
  const p = V.parse(prev);
  return V.leq(sent, p) ? p : undefined;
}

function makeForget(op: OpRecord): Forget {
  const u = op.update!;
  if (u.kind !== 'forgetUser') throw new Error(`op #${op.id} is not a forget`);
  const r = op.reply;
  const ts = r && r.ok && r.kind === 'update' ? forcedTsOf(r) : undefined;
  // Unacknowledged: its prev (the client's, merged with the primary's cut) covers what the client sent.
  const order = ts ? V.sum(ts) - 1 : undefined;
  return {
    kind: 'forget',
    op,
    user: u.userId,
    acked: ts !== undefined,
    uid: ts && r?.ok && r.kind === 'update' ? r.uid : undefined,
    lo: order ?? V.sum(op.prevBefore),
    hi: order ?? Number.POSITIVE_INFINITY,
    exact: order !== undefined,
    ts,
  };
}

function makeWrite(op: OpRecord): Write {
  const u = op.update!;
  if (u.kind !== 'rate' && u.kind !== 'delete') throw new Error(`op #${op.id} is not a rating write`);
  const key = rowKey(u.userId, u.movieId);
  const r = op.reply;
  const acked = r !== undefined && r.ok && r.kind === 'update';
  const copies: (readonly [string, VTS])[] = acked ? Object.entries(r.copies).map(([n, ts]) => [n, ts] as const) : [];
  let lo = V.sum(op.prevBefore);
  let hi = Number.POSITIVE_INFINITY;
  let exact = false;
  if (acked) {
    const prev = prevFromCopies(copies, op.prevBefore);
    if (prev) {
      lo = hi = V.sum(prev);
      exact = true;
    } else if (copies.length > 0) {
      // Each copy ts_n = prev[n := c] with prev[n] < c: Σ prev lies below Σ ts_n.
      hi = Math.max(...copies.map(([, ts]) => V.sum(ts) - 1));
      if (copies.length === 1) {
        const [n, ts] = copies[0]!;
        const own = (ts as Record<string, number>)[n] ?? 0;
        const sentOwn = (op.prevBefore as Record<string, number>)[n] ?? 0;
        lo = Math.max(lo, V.sum(ts) - own + sentOwn);
      }
    }
  }
  return {
    op,
    key,
    kind: u.kind,
    rating: u.kind === 'rate' ? u.rating : null,
    stamp: u.timestamp,
    acked,
    uid: acked ? r.uid : undefined,
    lo,
    hi,
    exact,
    copies,
  };
}

class Order {
  private readonly memo = new Map<Write, Map<Write, boolean>>();

  /** a is provably older than b in the last-writer-wins order. */
  older(a: Elem, b: Elem): boolean {
    if (a === b) return false;
    if (a === 'base') return true;
    if (b === 'base') return false;
    if (a.kind !== 'forget' && b.kind !== 'forget') return this.olderW(a, b);
    return olderWithForget(a, b);
  }

  private olderW(a: Write, b: Write): boolean {
    if (a.exact && b.exact) {
      if (a.lo !== b.lo) return a.lo < b.lo;
      return a.uid! < b.uid!;
    }
    if (a.hi < b.lo) return true;
    if (b.hi < a.lo) return false;
    for (const [, ts] of a.copies) if (V.leq(ts, b.op.prevBefore)) return true;
    let m = this.memo.get(b);
    if (!m) this.memo.set(b, (m = new Map()));
    const cached = m.get(a);
    if (cached !== undefined) return cached;
    m.set(a, false); // guards against cycles while searching
    let found = false;
    for (const x of b.past?.get(a.key)?.keys() ?? []) {
      if (x === a || this.olderW(a, x)) {
        found = true;
        break;
      }
    }
    m.set(a, found);
    return found;
  }
}

/**
 * Order where a forget is involved (no knowledge search: a forget is not
 * part of any row's knowledge). Versions first; then causality: x is in a
 * forget's past if a timestamp of x is covered by the forget's (its prev was
 * taken after x reached some replica), and a forget is in a write's past if
 * the writer's session held the forget's timestamp.
 */
function olderWithForget(a: Write | Forget, b: Write | Forget): boolean {
  if (a.exact && b.exact) {
    if (a.lo !== b.lo) return a.lo < b.lo;
    return a.uid! < b.uid!;
  }
  if (a.hi < b.lo) return true;
  if (b.hi < a.lo) return false;
  const stampsOfA: VTS[] = a.kind === 'forget' ? (a.ts ? [a.ts] : []) : [...a.copies.map(([, t]) => t), ...(a.acked && a.op.reply?.ok ? [a.op.reply.ts] : [])];
  for (const t of stampsOfA) {
    if (V.leq(t, b.op.prevBefore)) return true;
    if (b.kind === 'forget' && b.ts && V.leq(t, b.ts)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Reading results

function parseRows(op: OpRecord, result: unknown): { rows: Map<string, RowValue>; scopeUser?: number } | string {
  const q = op.query!;
  const r = result as Record<string, unknown> | null;
  if (!r || typeof r !== 'object') return 'the result is not an object';
  if (q.kind === 'get') {
    if (r.kind !== 'get' || r.userId !== q.userId || r.movieId !== q.movieId) return `a get of ${q.userId}:${q.movieId} answered ${JSON.stringify(r).slice(0, 120)}`;
    const rows = new Map<string, RowValue>();
    if (r.rating === null) rows.set(rowKey(q.userId, q.movieId), null);
    else if (typeof r.rating === 'number' && typeof r.timestamp === 'number') rows.set(rowKey(q.userId, q.movieId), { rating: r.rating, timestamp: r.timestamp });
    else return `malformed get result ${JSON.stringify(r).slice(0, 120)}`;
    return { rows };
  }
  if (q.kind === 'mine') {
    if (r.kind !== 'mine' || r.userId !== q.userId || !Array.isArray(r.ratings)) return `a mine of ${q.userId} answered ${JSON.stringify(r).slice(0, 120)}`;
    const rows = new Map<string, RowValue>();
    for (const x of r.ratings as unknown[]) {
      const y = x as Record<string, unknown> | null;
      if (!y || typeof y.movieId !== 'number' || typeof y.rating !== 'number' || typeof y.timestamp !== 'number') return `malformed rating in mine: ${JSON.stringify(x).slice(0, 120)}`;
      const k = rowKey(q.userId, y.movieId);
      if (rows.has(k)) return `mine lists movie ${y.movieId} twice`;
      rows.set(k, { rating: y.rating, timestamp: y.timestamp });
    }
    return { rows, scopeUser: q.userId };
  }
  return { rows: new Map() };
}

// ---------------------------------------------------------------------------

export function check(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const add = (v: Violation) => violations.push(v);
  const order = new Order();

  // Writes, by stamp and by row.
  const byStamp = new Map<number, Write>();
  const writesOf = new Map<string, Write[]>();
  const writeOfOp = new Map<OpRecord, Write>();
  const forgetsOf = new Map<number, Forget[]>();
  const forgetOfOp = new Map<OpRecord, Forget>();
  for (const op of input.ops) {
    if (op.kind !== 'update' || !op.update) continue;
    if (op.update.kind === 'forgetUser') {
      const f = makeForget(op);
      forgetOfOp.set(op, f);
      let l = forgetsOf.get(f.user);
      if (!l) forgetsOf.set(f.user, (l = []));
      l.push(f);
      continue;
    }
    if (op.update.kind !== 'rate' && op.update.kind !== 'delete') continue;
    const w = makeWrite(op);
    if (byStamp.has(w.stamp)) throw new Error(`two updates share the rating timestamp ${w.stamp}; the workload must make them unique`);
    byStamp.set(w.stamp, w);
    writeOfOp.set(op, w);
    let l = writesOf.get(w.key);
    if (!l) writesOf.set(w.key, (l = []));
    l.push(w);
  }
  const userKeys = new Map<number, Set<string>>();
  for (const u of input.users) userKeys.set(u, new Set());
  for (const k of input.base.keys()) userKeys.get(Number(k.split(':')[0]))?.add(k);
  for (const k of writesOf.keys()) userKeys.get(Number(k.split(':')[0]))?.add(k);

  /** What a shown value is: a write, the base row, or "no rating" (null). Returns a string for an impossible value. */
  const classify = (key: string, v: RowValue): Write | 'base' | null | { error: string } => {
    if (v === null) return null;
    const w = byStamp.get(v.timestamp);
    if (w && w.key === key) {
      if (w.kind !== 'rate') return { error: `row ${key} shows stamp ${v.timestamp}, which a delete wrote` };
      if (w.rating !== v.rating) return { error: `row ${key} shows rating ${v.rating} with the stamp of ${describe(w)}` };
      return w;
    }
    const b = input.base.get(key);
    if (b && b.rating === v.rating && b.timestamp === v.timestamp) return 'base';
    return { error: `row ${key} shows ${v.rating} at ${v.timestamp}, which no client wrote and the base data does not hold` };
  };

  /** The values a "no rating" answer may stand for, as of time `at`: a delete of the row, a forget of its user, or the base if it has no row. */
  const absentCandidates = (key: string, at: number): Elem[] => {
    const out: Elem[] = [];
    if (!input.base.has(key)) out.push('base');
    for (const w of writesOf.get(key) ?? []) if (w.kind === 'delete' && w.op.invokedAt <= at) out.push(w);
    for (const f of forgetsOf.get(userOfKey(key)) ?? []) if (f.op.invokedAt <= at) out.push(f);
    return out;
  };

  // ---- per-client session guarantees, over events in time order ------------
  const knowledge = new Map<string, Knowledge>();
  const kOf = (client: string): Knowledge => {
    let k = knowledge.get(client);
    if (!k) knowledge.set(client, (k = new Map()));
    return k;
  };
  const snapshot = (k: Knowledge): Knowledge => {
    const out: Knowledge = new Map();
    for (const [key, m] of k) out.set(key, new Map(m));
    return out;
  };
  /** Adds w to what is known of its row, dropping what it supersedes. */
  const learn = (k: Knowledge, w: Write, label: Label) => {
    let m = k.get(w.key);
    if (!m) k.set(w.key, (m = new Map()));
    if (m.has(w)) return;
    for (const x of m.keys()) if (order.older(w, x)) return; // already superseded
    for (const x of [...m.keys()]) if (order.older(x, w)) m.delete(x);
    m.set(w, label);
  };

  type Ev = { t: number; phase: 0 | 1; op: OpRecord };
  const events: Ev[] = [];
  for (const op of input.ops) {
    events.push({ t: op.invokedAt, phase: 0, op });
    if (op.completedAt !== undefined) events.push({ t: op.completedAt, phase: 1, op });
  }
  events.sort((a, b) => a.t - b.t || a.phase - b.phase || a.op.id - b.op.id);

  /** client → user → the forgets of that user the client has had acknowledged. */
  const forgotBy = new Map<string, Map<number, Forget[]>>();
  const lastOf = new Map<string, OpRecord>();
  const lastWriteOf = new Map<string, Map<string, Write>>();
  let exactVersions = 0;
  for (const w of byStamp.values()) if (w.exact) exactVersions++;

  for (const ev of events) {
    const op = ev.op;
    const k = kOf(op.client);
    if (ev.phase === 0) {
      // Session timestamps never go backwards.
      const last = lastOf.get(op.client);
      if (last?.prevAfter && !V.leq(last.prevAfter, op.prevBefore)) {
        add({ rule: 'session timestamp', at: op.invokedAt, client: op.client, op: op.id, detail: `sent prev ${V.format(op.prevBefore)} after holding ${V.format(last.prevAfter)}` });
      }
      const w = writeOfOp.get(op);
      if (w) w.past = snapshot(k);
      continue;
    }
    lastOf.set(op.client, op);
    const r = op.reply;
    if (!r || !r.ok) continue;
    if (op.prevAfter && !V.leq(r.ts, op.prevAfter)) {
      add({ rule: 'session timestamp', at: ev.t, client: op.client, op: op.id, detail: `reply ts ${V.format(r.ts)} not merged into the session (${V.format(op.prevAfter)})` });
    }
    if (r.kind === 'update') {
      const f = forgetOfOp.get(op);
      if (f) {
        if (!f.acked) continue;
        let m = forgotBy.get(op.client);
        if (!m) forgotBy.set(op.client, (m = new Map()));
        let l = m.get(f.user);
        if (!l) m.set(f.user, (l = []));
        l.push(f);
        continue;
      }
      const w = writeOfOp.get(op);
      if (!w) continue; // an added movie: forced.ts
      for (const [n, ts] of w.copies) {
        if (!V.leq(ts, r.ts)) add({ rule: 'session timestamp', at: ev.t, client: op.client, op: op.id, detail: `reply ts ${V.format(r.ts)} does not cover the copy at ${n} (${V.format(ts)})` });
      }
      let mine = lastWriteOf.get(op.client);
      if (!mine) lastWriteOf.set(op.client, (mine = new Map()));
      const prevW = mine.get(w.key);
      if (prevW && order.older(w, prevW)) {
        add({ rule: 'monotonic writes', at: ev.t, client: op.client, op: op.id, detail: `${describe(w)} is older than the same session's earlier ${describe(prevW)}` });
      }
      mine.set(w.key, w);
      learn(k, w, 'own write');
      continue;
    }
    if (r.kind !== 'query' || !op.query || (op.query.kind !== 'get' && op.query.kind !== 'mine')) continue;
    const parsed = parseRows(op, r.result);
    if (typeof parsed === 'string') {
      add({ rule: 'malformed reply', at: ev.t, client: op.client, op: op.id, detail: parsed });
      continue;
    }
    // The keys this answer speaks for.
    const scope = parsed.scopeUser !== undefined ? new Set([...(userKeys.get(parsed.scopeUser) ?? []), ...parsed.rows.keys()]) : new Set(parsed.rows.keys());
    const shown = new Map<string, Elem[]>();
    /** Rows that showed a rating: the write or base row it is. */
    const values: [string, Write | 'base'][] = [];
    const seen: Write[] = [];
    for (const key of scope) {
      const v = parsed.rows.get(key) ?? null;
      const c = classify(key, v);
      if (c !== null && typeof c === 'object' && 'error' in c) {
        add({ rule: 'impossible value', at: ev.t, client: op.client, op: op.id, detail: c.error });
        continue;
      }
      if (c === null) {
        shown.set(key, absentCandidates(key, ev.t));
      } else {
        if (c !== 'base' && c.op.invokedAt > ev.t) {
          add({ rule: 'impossible value', at: ev.t, client: op.client, op: op.id, detail: `row ${key} shows ${describe(c)}, issued after this read completed` });
        }
        if (c !== 'base') seen.push(c);
        values.push([key, c]);
        shown.set(key, [c]);
      }
    }
    // Read your writes for forgets: nothing older than a forget this session had acknowledged.
    const myForgets = forgotBy.get(op.client);
    if (myForgets) {
      for (const [key, c] of values) {
        const f = (myForgets.get(userOfKey(key)) ?? []).find((x) => order.older(c, x));
        if (f) add({ rule: 'read your writes (forget)', at: ev.t, client: op.client, op: op.id, detail: `${op.query.kind} of ${key} served by ${r.servedBy.join(',')} showed ${describe(c)}; the session had ${describe(f)} acknowledged` });
      }
    }
    // Writes follow reads: whatever the writers of the shown values had seen must be visible too.
    for (const w of seen) {
      for (const [, m] of w.past ?? []) for (const x of m.keys()) learn(k, x, 'writes follow reads');
    }
    for (const [key, cands] of shown) {
      const known = k.get(key);
      if (cands.length === 0) {
        add({ rule: 'impossible value', at: ev.t, client: op.client, op: op.id, detail: `row ${key} shows no rating, but the base data has one and no client deleted it` });
        continue;
      }
      if (!known || known.size === 0) {
        const only = cands.length === 1 ? cands[0]! : undefined;
        if (only !== undefined && only !== 'base' && only.kind !== 'forget') learn(k, only, 'read');
        continue;
      }
      const live = cands.filter((c) => ![...known.keys()].some((x) => order.older(c, x)));
      if (live.length === 0) {
        const c0 = cands[cands.length - 1]!;
        const [x, label] = [...known.entries()].find(([x]) => order.older(c0, x))!;
        const rule = label === 'own write' ? 'read your writes' : label === 'read' ? 'monotonic reads' : 'writes follow reads';
        const what = cands.length === 1 ? describe(c0) : `no rating (every delete of it, and the base, is older)`;
        add({ rule, at: ev.t, client: op.client, op: op.id, detail: `${op.query.kind} of ${key} served by ${r.servedBy.join(',')} showed ${what}; the session had ${label === 'read' ? 'read' : label === 'own write' ? 'written' : 'seen, in the past of a write it read,'} ${describe(x)}` });
        continue;
      }
      const only = live.length === 1 ? live[0]! : undefined;
      if (only !== undefined && only !== 'base' && only.kind !== 'forget') learn(k, only, 'read');
    }
  }

  // ---- after healing -------------------------------------------------------
  let excused = 0;
  const fin = input.final;
  const endAt = Math.max(0, ...input.ops.map((o) => o.completedAt ?? o.invokedAt));
  if (fin) {
    if (fin.convergedMs === null) {
      add({ rule: 'convergence', at: endAt, detail: `the replicas did not reach one digest and valueTS within ${fin.convergeBoundMs} ms of healing` });
    }
    const reps = fin.replicas;
    for (const rep of reps) if (rep.phase !== 'serving') add({ rule: 'convergence', at: endAt, detail: `${rep.name} (${rep.id}) is still ${rep.phase} after healing` });
    if (reps.length > 1) {
      const d0 = reps[0]!;
      for (const rep of reps.slice(1)) {
        if (rep.digest !== d0.digest) add({ rule: 'convergence', at: endAt, detail: `${rep.name} digest ${rep.digest} ≠ ${d0.name} digest ${d0.digest}` });
        if (!V.equals(rep.valueTS, d0.valueTS)) add({ rule: 'convergence', at: endAt, detail: `${rep.name} valueTS ${V.format(rep.valueTS)} ≠ ${d0.name} valueTS ${V.format(d0.valueTS)}` });
      }
    }
    const keys = new Set<string>();
    for (const ks of userKeys.values()) for (const key of ks) keys.add(key);
    for (const rep of reps) for (const key of rep.rows.keys()) keys.add(key);
    for (const key of keys) {
      const values = reps.map((rep) => rep.rows.get(key));
      const texts = new Set(values.map((v) => JSON.stringify(v ?? null)));
      if (texts.size > 1) {
        add({ rule: 'convergence', at: endAt, detail: `replicas disagree on row ${key}: ${reps.map((rep, i) => `${rep.name}=${JSON.stringify(values[i] ?? null)}`).join(' ')}` });
        continue;
      }
      const c = classify(key, values[0] ?? null);
      if (c !== null && typeof c === 'object' && 'error' in c) {
        add({ rule: 'impossible value', at: endAt, detail: `after healing, ${c.error}` });
        continue;
      }
      if (c !== null) {
        // Forgotten means forgotten: no rating older than an acknowledged forget of its user stays.
        const f = (forgetsOf.get(userOfKey(key)) ?? []).find((x) => x.acked && order.older(c, x));
        if (f) add({ rule: 'forgotten means forgotten', at: endAt, client: f.op.client, op: f.op.id, detail: `after healing every replica holds ${describe(c)} on row ${key}, older than the acknowledged ${describe(f)}` });
      }
      const cands: Elem[] = c === null ? absentCandidates(key, Number.POSITIVE_INFINITY) : [c];
      for (const a of writesOf.get(key) ?? []) {
        if (!a.acked) continue;
        if (cands.some((x) => x === a || !order.older(x, a))) continue;
        add({ rule: 'lost update', at: endAt, client: a.op.client, op: a.op.id, detail: `acknowledged ${describe(a)} was replaced on row ${key} by ${c === null ? 'no rating' : describe(c)}, which is older` });
      }
    }
    // Every acknowledged update is in every replica's value: some copy's timestamp is covered.
    const kills = input.faults.filter((f) => RM_KILLS.has(f.kind) && f.outcome === 'done' && f.victimId);
    for (const w of byStamp.values()) {
      if (!w.acked || w.copies.length === 0) continue;
      const missing = reps.filter((rep) => !w.copies.some(([, ts]) => V.leq(ts, rep.valueTS)));
      if (missing.length === 0) continue;
      // A single-copy acknowledgement (the reply warned of it) dies with its holder if that
      // holder was killed before any other replica received the copy.
      if (w.copies.length === 1) {
        const [n, ts] = w.copies[0]!;
        const counter = (ts as Record<string, number>)[n] ?? 0;
        const k = kills.find((f) => f.victimId === n && (f.startedAt ?? 0) >= (w.op.completedAt ?? 0) - 1 && counter > (f.coveredByOthers?.[n] ?? 0));
        if (k) {
          excused++;
          continue;
        }
      }
      add({
        rule: 'lost update',
        at: endAt,
        client: w.op.client,
        op: w.op.id,
        detail: `acknowledged ${describe(w)} (copies ${w.copies.map(([n, ts]) => `${n}:${V.format(ts)}`).join(' ; ')}) is not covered by the valueTS of ${missing.map((m) => m.name).join(', ')}`,
      });
    }
    // Every client is served again after healing.
    const clients = new Set(input.ops.map((o) => o.client));
    for (const c of clients) {
      const finals = input.ops.filter((o) => o.client === c && o.final);
      if (finals.length > 0 && !finals.some((o) => o.reply?.ok)) {
        add({ rule: 'availability', at: endAt, client: c, detail: `${c} was not served after healing (${finals.map((o) => (o.reply && !o.reply.ok ? o.reply.code : 'no reply')).join(', ')})` });
      }
    }
  }

  // ---- availability -----------------------------------------------------------
  const doneFaults = input.faults.filter((f) => f.outcome === 'done' && f.startedAt !== undefined);
  const rmWindows = doneFaults.filter((f) => f.rmUnavailable).map((f) => [f.startedAt!, f.endedAt ?? Number.POSITIVE_INFINITY] as const);
  const graceMs = input.serviceGraceMs ?? 3000;
  const serviceWindows = doneFaults.filter((f) => SERVICE_FAULTS.has(f.kind)).map((f) => [f.startedAt!, (f.endedAt ?? Number.POSITIVE_INFINITY) + graceMs] as const);
  const errors: Record<string, number> = {};
  const counts = { all: [0, 0], one: [0, 0], rm: [0, 0] };
  let acked = 0;
  const overlaps = (ws: readonly (readonly [number, number])[], op: OpRecord) => ws.filter(([s, e]) => s < op.completedAt! && e > op.invokedAt).length;
  for (const op of input.ops) {
    if (op.final || op.completedAt === undefined) continue;
    const good = op.reply?.ok === true;
    if (!good) {
      const code = op.reply && !op.reply.ok ? op.reply.code : 'NO_REPLY';
      errors[code] = (errors[code] ?? 0) + 1;
    }
    if (good && op.kind === 'update') acked++;
    const tally = (c: number[]) => {
      c[1]!++;
      if (good) c[0]!++;
    };
    tally(counts.all);
    if (overlaps(rmWindows, op) <= 1) {
      tally(counts.one);
      if (overlaps(serviceWindows, op) === 0) tally(counts.rm);
    }
  }
  const avail = ([okN, total]: number[]): Availability => ({ ok: okN!, total: total!, share: total === 0 ? 1 : okN! / total! });
  const availabilityReplicaFaults = avail(counts.rm);
  if (input.minAvailability !== undefined && availabilityReplicaFaults.share < input.minAvailability) {
    add({
      rule: 'availability',
      at: endAt,
      detail: `${(availabilityReplicaFaults.share * 100).toFixed(1)}% of requests answered ok while at most one replica was unavailable (front ends and naming up); at least ${(input.minAvailability * 100).toFixed(0)}% required`,
    });
  }
  const forced = checkForced({ ops: input.ops, faults: input.faults, final: fin?.replicas, endAt });
  violations.push(...forced.violations);
  return {
    violations: violations.sort((a, b) => a.at - b.at),
    ops: input.ops.length,
    queries: input.ops.filter((o) => o.kind === 'query').length,
    updates: input.ops.filter((o) => o.kind === 'update').length,
    acked,
    errors,
    availability: avail(counts.all),
    availabilityOneDown: avail(counts.one),
    availabilityReplicaFaults,
    exactVersions,
    excused,
    forced: forced.stats,
  };
}
