/**
 * The front end's logic as a pure state machine, shared by the real front end
 * process and the simulator.
 *
 * For each client request it picks two replicas (ACTIVE before OVERLOADED,
 * never OFFLINE, least loaded first), sends to both in parallel — a query
 * with prev = merge(FE prev, client prev), an update with the client's prev
 * unchanged (so a retry through another FE carries the same prev) — and:
 * - query: the first good answer wins;
 * - update: acknowledged once two replicas have logged it; a replica that
 *   fails or times out is replaced by another with the same uid and the same
 *   prev (every copy of an update must carry the same prev, see
 *   replica/core/step.ts). If only one replica could log it, the reply says so.
 * Returned timestamps are merged into the FE's prev and into the reply.
 *
 * Forced and immediate updates (orderingOf(op) is not 'causal') are
 * sequenced by the elected primary, so they go to that one replica
 * (primary.ts chooses it), one attempt at a time, always with the same uid
 * and the client's prev (the replicas deduplicate by uid, so a retry after a
 * lost answer never sequences it twice):
 * - a NOT_PRIMARY answer naming a primary this FE can reach: retried there at once;
 * - no primary yet (NO_PRIMARY, NOT_PRIMARY without a usable name), or the
 *   replica failed or said nothing: retried after config.forcedRetryMs, on
 *   whatever the front end then believes is the primary;
 * - forcedDeadlineMs after arrival with no success: the client gets NO_PRIMARY;
 * - any other error (bad title, bad genre, ...): answered at once.
 * The retry timer is driven by ticks, so the core stays pure.
 */
import type { ReplicaId, RequestId, UpdateId } from '../core/ids.js';
import { defaultConfig } from '../core/config.js';
import { orderingOf, type ApplyOutcome, type OpErrorCode, type Ordering, type Query, type Update } from '../core/ops.js';
import { rngFromState } from '../core/rng.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import type { ClientReply, PrimaryInfo, ReplicaStatus } from '../core/protocol.js';
import { choosePrimary, type PrimaryReason } from './primary.js';

export type { ClientReply, PrimaryReason, ReplicaStatus };


export interface FeReplica {
  readonly id: ReplicaId;
  status: ReplicaStatus;
  /** Requests this FE has outstanding at the replica (load spreading). */
  inflight: number;
  /** What the replica last published about the election (its naming meta); undefined if nothing. */
  primary?: PrimaryInfo | undefined;
}

export interface FeConfig {
  readonly rmRequestTimeoutMs: number;
  /** Pause before a forced/immediate update is tried again (no primary yet, no answer). Default: defaultConfig's. */
  readonly forcedRetryMs?: number | undefined;
  /** A forced/immediate update still not sequenced this long after arrival gets NO_PRIMARY. Default: defaultConfig's. */
  readonly forcedDeadlineMs?: number | undefined;
}

/** Error codes after which trying another replica can help. */
const RETRYABLE: ReadonlySet<OpErrorCode> = new Set<OpErrorCode>(['NOT_YET_AVAILABLE', 'UNAVAILABLE', 'OFFLINE', 'TIMEOUT', 'INTERNAL', 'EXPIRED']);

/**
 * Error codes after which a forced/immediate update is tried again (after
 * forcedRetryMs). Every other code (BAD_TITLE, BAD_GENRE, BAD_USER, EXPIRED...)
 * is about the request itself and is answered at once.
 */
const FORCED_RETRYABLE: ReadonlySet<OpErrorCode> = new Set<OpErrorCode>([
  'NOT_PRIMARY',
  'NO_PRIMARY',
  'TIMEOUT',
  'UNAVAILABLE',
  'OFFLINE',
  'NOT_YET_AVAILABLE',
  'INTERNAL',
]);

interface Attempt {
  readonly rm: ReplicaId;
  readonly deadline: number;
}

interface Pending {
  readonly from: string;
  readonly requestId: RequestId;
  readonly kind: 'query' | 'update';
  readonly query?: Query | undefined;
  readonly op?: Update | undefined;
  readonly uid?: UpdateId | undefined;
  readonly issuedAt: number;
  /** Fixed at arrival and reused for every attempt. */
  readonly prev: VTS;
  readonly tried: ReplicaId[];
  /** rmRequestId → attempt. */
  readonly outstanding: Map<string, Attempt>;
  readonly acks: Map<ReplicaId, VTS>;
  readonly errors: { rm: ReplicaId; code: OpErrorCode; message: string }[];
  /** 'causal' for queries and causal updates; forced/immediate ones go to the primary. */
  readonly ordering: Ordering;
  /** Forced/immediate only: the state of its attempts at the primary. */
  readonly forced?: ForcedProgress | undefined;
}

interface ForcedProgress {
  /** FE time of arrival; the deadline counts from here. */
  readonly arrivedAt: number;
  /** When the next attempt is due; undefined while one is in flight. */
  retryAt: number | undefined;
  /** The primary a NOT_PRIMARY answer named: the next attempt goes there. */
  redirect: ReplicaId | undefined;
  /** Redirects followed without a pause; bounded, so replicas naming each other cannot make the FE spin. */
  redirects: number;
  /** Attempts that timed out: a late success from one of them still completes the request. */
  readonly stale: Map<string, Attempt>;
  /** What went wrong last, for the NO_PRIMARY message. */
  lastError: string | undefined;
  /** The replica of the last failed attempt. */
  lastFailed: ReplicaId | undefined;
}

export interface FeState {
  readonly name: string;
  /** Prefix of the uids this front end makes; unique per incarnation, bounded length. */
  readonly uidPrefix: string;
  readonly config: FeConfig;
  now: number;
  rngState: number;
  prev: VTS;
  seq: number;
  readonly replicas: Map<ReplicaId, FeReplica>;
  readonly pending: Map<RequestId, Pending>;
  /** rmRequestId → client requestId. */
  readonly byRmRequest: Map<string, RequestId>;
}

export type FeInput =
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'replicas'; readonly list: readonly { id: ReplicaId; status: ReplicaStatus; primary?: PrimaryInfo | undefined }[] }
  | { readonly type: 'clientQuery'; readonly from: string; readonly requestId: RequestId; readonly prev: VTS; readonly query: Query }
  | {
      readonly type: 'clientUpdate';
      readonly from: string;
      readonly requestId: RequestId;
      readonly prev: VTS;
      readonly op: Update;
      /** A client retrying an update passes the uid it was given; otherwise the FE makes one. */
      readonly uid?: UpdateId | undefined;
      readonly issuedAt: number;
    }
  | {
      readonly type: 'rmReply';
      readonly rmRequestId: string;
      readonly rm: ReplicaId;
      readonly reply:
        | { readonly ok: true; readonly valueTS: VTS; readonly result: unknown }
        | { readonly ok: true; readonly ts: VTS; readonly uid: UpdateId; readonly result?: ApplyOutcome | undefined }
        /** `leader`: with NOT_PRIMARY, the primary the replica knows. */
        | { readonly ok: false; readonly code: OpErrorCode; readonly message: string; readonly leader?: ReplicaId | undefined };
    };

export interface TraceChoice {
  readonly rm: ReplicaId;
  readonly status: ReplicaStatus;
  readonly inflight: number;
}

export type FeEffect =
  | { readonly type: 'sendQuery'; readonly rm: ReplicaId; readonly rmRequestId: string; readonly prev: VTS; readonly query: Query }
  | {
      readonly type: 'sendUpdate';
      readonly rm: ReplicaId;
      readonly rmRequestId: string;
      readonly uid: UpdateId;
      readonly prev: VTS;
      readonly op: Update;
      readonly issuedAt: number;
      readonly copies: readonly ReplicaId[];
    }
  | {
      readonly type: 'reply';
      readonly to: string;
      readonly requestId: RequestId;
      readonly reply: ClientReply;
    }
  /**
   * For the trace view: which replicas were chosen for a request and why.
   * `reason` (and the election `term` it rests on) is set for forced and
   * immediate updates, which go to the primary alone.
   */
  | {
      readonly type: 'chose';
      readonly requestId: RequestId;
      readonly prev: VTS;
      readonly chosen: readonly TraceChoice[];
      readonly retry: boolean;
      readonly reason?: PrimaryReason | undefined;
      readonly term?: number | undefined;
    };

/**
 * `seed` also names this incarnation of the front end in the uids it makes
 * (`<name>.<seed>:<n>`): a restarted front end must not reuse the uid of an
 * update issued by its previous life, which replicas still remember.
 */
export function createFrontend(name: string, config: FeConfig, now: number, seed: number): FeState {
  return {
    name,
    uidPrefix: `${name}.${(seed >>> 0).toString(36)}`,
    config,
    now,
    rngState: seed >>> 0,
    prev: V.zero(),
    seq: 0,
    replicas: new Map(),
    pending: new Map(),
    byRmRequest: new Map(),
  };
}

export function feStep(s: FeState, input: FeInput): FeEffect[] {
  const out: FeEffect[] = [];
  switch (input.type) {
    case 'tick':
      if (input.now > s.now) s.now = input.now;
      expire(s, out);
      forcedTimers(s, out);
      break;
    case 'replicas': {
      const seen = new Set<ReplicaId>();
      for (const r of input.list) {
        seen.add(r.id);
        const cur = s.replicas.get(r.id);
        if (cur) {
          cur.status = r.status;
          cur.primary = r.primary;
        } else s.replicas.set(r.id, { id: r.id, status: r.status, inflight: 0, primary: r.primary });
      }
      for (const id of [...s.replicas.keys()]) if (!seen.has(id)) s.replicas.delete(id);
      forcedNewsOfPrimary(s, out);
      break;
    }
    case 'clientQuery':
    case 'clientUpdate': {
      const isUpdate = input.type === 'clientUpdate';
      const ordering: Ordering = isUpdate ? orderingOf(input.op) : 'causal';
      const p: Pending = {
        from: input.from,
        requestId: input.requestId,
        kind: isUpdate ? 'update' : 'query',
        query: isUpdate ? undefined : input.query,
        op: isUpdate ? input.op : undefined,
        uid: isUpdate ? (input.uid ?? (`${s.uidPrefix}:${++s.seq}` as UpdateId)) : undefined,
        issuedAt: isUpdate ? input.issuedAt : s.now,
        // A query may wait for everything this FE has seen (fresher, never staler).
        // An update depends on exactly what its session has seen: every copy, and
        // every retry through any front end, must carry the same prev (its
        // version is derived from it), so the FE adds nothing of its own.
        prev: isUpdate ? input.prev : V.merge(s.prev, input.prev),
        tried: [],
        outstanding: new Map(),
        acks: new Map(),
        errors: [],
        ordering,
        forced:
          ordering === 'causal'
            ? undefined
            : { arrivedAt: s.now, retryAt: undefined, redirect: undefined, redirects: 0, stale: new Map(), lastError: undefined, lastFailed: undefined },
      };
      s.pending.set(p.requestId, p);
      if (p.forced) dispatchForced(s, p, p.forced, false, out);
      else dispatch(s, p, 2, false, out);
      break;
    }
    case 'rmReply':
      onReply(s, input, out);
      break;
  }
  return out;
}

/** Candidates for a new attempt, best first: ACTIVE before OVERLOADED, then least loaded, ties at random. */
function candidates(s: FeState, p: Pending): FeReplica[] {
  const rng = rngFromState(s.rngState);
  const list = rng.shuffle([...s.replicas.values()].filter((r) => r.status !== 'OFFLINE' && !p.tried.includes(r.id)).sort((a, b) => (a.id < b.id ? -1 : 1)));
  s.rngState = rng.state();
  const rank = (r: FeReplica) => (r.status === 'ACTIVE' ? 0 : 1);
  return list.sort((a, b) => rank(a) - rank(b) || a.inflight - b.inflight);
}

function dispatch(s: FeState, p: Pending, want: number, retry: boolean, out: FeEffect[]): void {
  const chosen = candidates(s, p).slice(0, want);
  if (chosen.length > 0) {
    out.push({ type: 'chose', requestId: p.requestId, prev: p.prev, chosen: chosen.map((r) => ({ rm: r.id, status: r.status, inflight: r.inflight })), retry });
  }
  const copies = [...p.acks.keys(), ...chosen.map((r) => r.id)];
  for (const r of chosen) {
    const rmRequestId = `${s.name}:${++s.seq}`;
    p.tried.push(r.id);
    p.outstanding.set(rmRequestId, { rm: r.id, deadline: s.now + s.config.rmRequestTimeoutMs });
    s.byRmRequest.set(rmRequestId, p.requestId);
    r.inflight++;
    if (p.kind === 'query') out.push({ type: 'sendQuery', rm: r.id, rmRequestId, prev: p.prev, query: p.query! });
    else out.push({ type: 'sendUpdate', rm: r.id, rmRequestId, uid: p.uid!, prev: p.prev, op: p.op!, issuedAt: p.issuedAt, copies });
  }
  settle(s, p, out);
}

function onReply(s: FeState, input: Extract<FeInput, { type: 'rmReply' }>, out: FeEffect[]): void {
  const requestId = s.byRmRequest.get(input.rmRequestId);
  if (requestId === undefined) return; // late or duplicate reply
  s.byRmRequest.delete(input.rmRequestId);
  const forced = s.pending.get(requestId);
  if (forced?.forced) {
    onForcedReply(s, forced, forced.forced, input, out);
    return;
  }
  const p = s.pending.get(requestId);
  const attempt = p?.outstanding.get(input.rmRequestId);
  const r = s.replicas.get(input.rm);
  if (r && r.inflight > 0) r.inflight--;
  if (!p || !attempt || attempt.rm !== input.rm) return;
  p.outstanding.delete(input.rmRequestId);
  const reply = input.reply;
  if (!reply.ok) {
    p.errors.push({ rm: input.rm, code: reply.code, message: reply.message });
    if (!RETRYABLE.has(reply.code)) {
      // The request itself is wrong (bad rating, unknown movie): every replica would say the same.
      finish(s, p, { ok: false, code: reply.code, message: reply.message, tried: p.tried }, out);
      return;
    }
    dispatch(s, p, 1, true, out);
    return;
  }
  if ('valueTS' in reply) {
    s.prev = V.merge(s.prev, reply.valueTS);
    if (p.kind === 'query') {
      finish(s, p, { ok: true, kind: 'query', result: reply.result, ts: V.merge(p.prev, reply.valueTS), servedBy: [input.rm], valueTS: reply.valueTS }, out);
    }
    return;
  }
  if (p.kind !== 'update') return;
  s.prev = V.merge(s.prev, reply.ts);
  p.acks.set(input.rm, reply.ts);
  settle(s, p, out);
}

function expire(s: FeState, out: FeEffect[]): void {
  for (const p of [...s.pending.values()]) {
    let timedOut = 0;
    for (const [rid, a] of p.outstanding) {
      if (s.now >= a.deadline) {
        p.outstanding.delete(rid);
        const r = s.replicas.get(a.rm);
        if (r && r.inflight > 0) r.inflight--;
        const message = `no answer within ${s.config.rmRequestTimeoutMs} ms`;
        p.errors.push({ rm: a.rm, code: 'TIMEOUT', message });
        if (p.forced) {
          // The primary may still sequence it (and answer late): keep listening.
          p.forced.stale.set(rid, a);
          forcedFailed(s, p.forced, a.rm, `${a.rm}: TIMEOUT ${message}`);
        } else {
          s.byRmRequest.delete(rid);
        }
        timedOut++;
      }
    }
    if (timedOut > 0 && s.pending.has(p.requestId) && !p.forced) dispatch(s, p, timedOut, true, out);
  }
}

// ---------------------------------------------------------------------------
// Forced and immediate updates: one replica, the primary

function forcedRetryMs(s: FeState): number {
  return s.config.forcedRetryMs ?? defaultConfig.forcedRetryMs;
}

function forcedDeadlineMs(s: FeState): number {
  return s.config.forcedDeadlineMs ?? defaultConfig.forcedDeadlineMs;
}

/** Sends the next attempt to the primary, or, if no replica can be tried, waits forcedRetryMs. */
function dispatchForced(s: FeState, p: Pending, f: ForcedProgress, retry: boolean, out: FeEffect[]): void {
  f.retryAt = undefined;
  const choice = choosePrimary([...s.replicas.values()], f.redirect, (list) => {
    const rng = rngFromState(s.rngState);
    const shuffled = rng.shuffle(list);
    s.rngState = rng.state();
    return shuffled;
  });
  f.redirect = undefined;
  if (!choice) {
    f.lastError = s.replicas.size === 0 ? 'no replica is registered' : 'every replica is OFFLINE or unreachable';
    f.retryAt = s.now + forcedRetryMs(s);
    return;
  }
  const r = choice.replica as FeReplica;
  out.push({
    type: 'chose',
    requestId: p.requestId,
    prev: p.prev,
    chosen: [{ rm: r.id, status: r.status, inflight: r.inflight }],
    retry,
    reason: choice.reason,
    term: choice.term,
  });
  const rmRequestId = `${s.name}:${++s.seq}`;
  if (!p.tried.includes(r.id)) p.tried.push(r.id);
  p.outstanding.set(rmRequestId, { rm: r.id, deadline: s.now + s.config.rmRequestTimeoutMs });
  s.byRmRequest.set(rmRequestId, p.requestId);
  r.inflight++;
  // Same uid and prev on every attempt: the replicas recognise a retry by its uid.
  out.push({ type: 'sendUpdate', rm: r.id, rmRequestId, uid: p.uid!, prev: p.prev, op: p.op!, issuedAt: p.issuedAt, copies: [] });
}

/** Notes a failed attempt; the next one is due after forcedRetryMs. */
function forcedFailed(s: FeState, f: ForcedProgress, rm: ReplicaId, why: string): void {
  f.lastError = why;
  f.lastFailed = rm;
  f.redirects = 0;
  f.retryAt = s.now + forcedRetryMs(s);
}

function onForcedReply(s: FeState, p: Pending, f: ForcedProgress, input: Extract<FeInput, { type: 'rmReply' }>, out: FeEffect[]): void {
  const current = p.outstanding.get(input.rmRequestId);
  const late = current ? undefined : f.stale.get(input.rmRequestId);
  const attempt = current ?? late;
  if (!attempt || attempt.rm !== input.rm) return;
  if (current) {
    p.outstanding.delete(input.rmRequestId);
    const r = s.replicas.get(input.rm);
    if (r && r.inflight > 0) r.inflight--;
  } else {
    f.stale.delete(input.rmRequestId); // its load was released when it timed out
  }
  const reply = input.reply;
  if (!reply.ok) {
    // A late failure adds nothing: its timeout was counted, and a newer attempt may be on its way.
    if (late) return;
    p.errors.push({ rm: input.rm, code: reply.code, message: reply.message });
    if (!FORCED_RETRYABLE.has(reply.code)) {
      finish(s, p, { ok: false, code: reply.code, message: reply.message, tried: p.tried }, out);
      return;
    }
    const leader = reply.code === 'NOT_PRIMARY' ? reply.leader : undefined;
    const named = leader !== undefined && leader !== input.rm ? s.replicas.get(leader) : undefined;
    if (named && named.status !== 'OFFLINE' && f.redirects < Math.max(2, s.replicas.size)) {
      f.lastError = `${input.rm}: NOT_PRIMARY ${reply.message}`;
      f.lastFailed = input.rm;
      f.redirects++;
      f.redirect = named.id;
      dispatchForced(s, p, f, true, out);
      return;
    }
    forcedFailed(s, f, input.rm, `${input.rm}: ${reply.code} ${reply.message}`);
    return;
  }
  if (!('ts' in reply)) return; // a query answer to an update: not from this protocol
  s.prev = V.merge(s.prev, reply.ts);
  finish(
    s,
    p,
    {
      ok: true,
      kind: 'update',
      uid: p.uid!,
      ts: V.merge(p.prev, reply.ts),
      servedBy: [input.rm],
      copies: { [input.rm]: reply.ts },
      ordering: p.ordering,
      result: reply.result,
    },
    out,
  );
}

/** On ticks: attempts that are due go out; requests past their deadline get NO_PRIMARY. */
function forcedTimers(s: FeState, out: FeEffect[]): void {
  for (const p of [...s.pending.values()]) {
    const f = p.forced;
    if (!f) continue;
    const deadlineMs = forcedDeadlineMs(s);
    if (s.now >= f.arrivedAt + deadlineMs) {
      const waiting = p.outstanding.size > 0 ? `; the last attempt, at ${[...p.outstanding.values()].map((a) => a.rm).join(', ')}, has not answered` : '';
      finish(
        s,
        p,
        {
          ok: false,
          code: 'NO_PRIMARY',
          message: `no primary could sequence this ${p.ordering} update in ${deadlineMs} ms (last error: ${f.lastError ?? 'none'}${waiting})`,
          tried: p.tried,
        },
        out,
      );
      continue;
    }
    if (p.outstanding.size === 0 && f.retryAt !== undefined && s.now >= f.retryAt) dispatchForced(s, p, f, true, out);
  }
}

/**
 * The replica list changed: a forced update waiting for its next attempt
 * goes at once if a primary other than the replica that just failed is now
 * known (an election ended), instead of waiting out its pause.
 */
function forcedNewsOfPrimary(s: FeState, out: FeEffect[]): void {
  for (const p of s.pending.values()) {
    const f = p.forced;
    if (!f || p.outstanding.size > 0 || f.retryAt === undefined) continue;
    const c = choosePrimary([...s.replicas.values()]);
    if (c && c.reason === 'primary' && c.replica.id !== f.lastFailed) dispatchForced(s, p, f, true, out);
  }
}

/** Finishes the request if it can no longer improve, or is complete. */
function settle(s: FeState, p: Pending, out: FeEffect[]): void {
  if (!s.pending.has(p.requestId)) return;
  if (p.kind === 'update' && p.acks.size >= 2) {
    finish(s, p, updateReply(p), out);
    return;
  }
  if (p.outstanding.size > 0) return;
  // Nothing in flight and nobody left to try.
  if (p.kind === 'update' && p.acks.size === 1) {
    finish(s, p, updateReply(p, `only ${[...p.acks.keys()][0]} logged this update; it will spread by gossip, but is not yet protected against that replica failing`), out);
    return;
  }
  const why = p.errors.length > 0 ? p.errors.map((e) => `${e.rm}: ${e.message}`).join('; ') : 'no replica is registered or all are OFFLINE';
  const code: OpErrorCode = p.errors.length > 0 && p.errors.every((e) => e.code === 'NOT_YET_AVAILABLE') ? 'NOT_YET_AVAILABLE' : 'UNAVAILABLE';
  finish(s, p, { ok: false, code, message: `no replica could serve this request (${why})`, tried: p.tried }, out);
}

function updateReply(p: Pending, warning?: string): ClientReply {
  let ts = p.prev;
  const copies: Record<string, VTS> = {};
  for (const [rm, t] of p.acks) {
    ts = V.merge(ts, t);
    copies[rm] = t;
  }
  return { ok: true, kind: 'update', uid: p.uid!, ts, servedBy: [...p.acks.keys()], copies, warning };
}

function finish(s: FeState, p: Pending, reply: ClientReply, out: FeEffect[]): void {
  s.pending.delete(p.requestId);
  for (const rid of p.outstanding.keys()) s.byRmRequest.delete(rid);
  if (p.forced) {
    for (const rid of p.forced.stale.keys()) s.byRmRequest.delete(rid);
    p.forced.stale.clear();
  }
  // Replies still in flight are ignored when they come; release their load now.
  for (const a of p.outstanding.values()) {
    const r = s.replicas.get(a.rm);
    if (r && r.inflight > 0) r.inflight--;
  }
  p.outstanding.clear();
  out.push({ type: 'reply', to: p.from, requestId: p.requestId, reply });
}
