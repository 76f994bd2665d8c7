/**
 * The replica manager's algorithm as a pure state machine:
 * `step(state, input) → { state, effects }`.
 *
 * It is the gossip architecture of Ladin, Liskov, Shrira & Ghemawat (1992)
 * with three additions, each explained in docs/design.md:
 * 1. Twin copies. The front end logs every update at two replicas, so one uid
 *    has copies from two nodes with different timestamps. An update becomes
 *    visible (is applied) only once two copies are in the log, and then all
 *    its copies are applied together, so whoever sees it carries *both*
 *    timestamps in its `prev`. Any single replica may then die without
 *    leaving a client depending on an entry nobody can satisfy.
 * 2. Prefix timestamps (invariant I2 in state.ts): freshness is judged on
 *    prefixTS, where entry n = k only once n#1..k are all applied, so
 *    "prev ≤ prefixTS" really means "every update the client depends on is in
 *    the value"; replies report valueTS, the merge of all applied timestamps.
 * 3. Retired incarnations. A crashed replica restarts with a fresh id. For
 *    the dead id, an entry of `prev` is satisfied once this replica has
 *    applied everything of that id that any live replica is known to hold;
 *    the rest died with it, and the twin copies' other entries protect
 *    everything a client could have seen.
 */
import type { ReplicaId, UpdateId } from '../../core/ids.js';
import { checkUpdateShape, OpError, orderingOf, type Overlay } from '../../core/ops.js';
import { rngFromState } from '../../core/rng.js';
import * as V from '../../core/vts.js';
import type { VTS } from '../../core/vts.js';
import { recordKey, type Held, type LogEntry, type ReplicaState } from './state.js';
import { committedWithSeq, enabled, entryOf, FORCED, isPrimaryMessage, notPrimary, onPrimaryMessage, primaryTick, propose, takePersist } from './primary.js';
import type { ForcedEntry } from './types.js';
import type { CoreSnapshot, Effect, Input, LogRecord, PeerMessage } from './types.js';

const EMPTY_OVERLAY: Overlay = Object.freeze({ ratings: [], movies: [], forgotten: [] });

export interface StepResult {
  readonly state: ReplicaState;
  readonly effects: Effect[];
}

export function step(s: ReplicaState, input: Input): StepResult {
  const out: Effect[] = [];
  s.seq++;
  const commitBefore = s.primary.commit;
  switch (input.type) {
    case 'tick':
      onTick(s, input.now, out);
      break;
    case 'query':
      onQuery(s, input, out);
      break;
    case 'update':
      onUpdate(s, input, out);
      break;
    case 'peer':
      onPeer(s, input.from, input.msg, out);
      break;
    case 'peerJoined':
      if (input.id !== s.id) {
        s.members.add(input.id);
        s.retired.delete(input.id);
        s.retiredAt.delete(input.id);
      }
      break;
    case 'peerLeft':
      if (input.id !== s.id) {
        s.members.delete(input.id);
        retire(s, input.id);
      }
      break;
  }
  if (s.phase === 'serving') {
    admitForced(s, out);
    applyReady(s, out);
    answerForced(s, out);
    releaseHeld(s, out);
    collectGarbage(s, out);
  }
  if (s.primary.role === 'leader') {
    for (let i = commitBefore + 1; i <= s.primary.commit; i++) {
      const e = s.primary.log[i - 1];
      if (e?.op) out.push({ type: 'event', event: { kind: 'committed', seq: e.seq, uid: e.uid } });
    }
  }
  takePersist(s, out);
  return { state: s, effects: out };
}

// ---------------------------------------------------------------------------
// Coverage: when is a client's prev satisfied?

function retire(s: ReplicaState, id: ReplicaId): void {
  if (!s.retired.has(id)) s.retiredAt.set(id, s.seq);
  s.retired.add(id);
}

/** Live peers not heard from since `node` was retired: until they answer, nobody knows what of `node` survives. */
function notHeardSinceRetired(s: ReplicaState, node: ReplicaId): ReplicaId[] {
  const at = s.retiredAt.get(node) ?? 0;
  return [...s.members].filter((p) => (s.heardAt.get(p) ?? -1) <= at);
}

/**
 * The counter of `node` this replica must reach before `want` counts as met.
 * For a live or unknown node that is `want` itself. For a retired node it is
 * capped at what any live replica (this one included) has received from it —
 * records beyond that died with the node — but only once every live replica
 * has reported its replicaTS since the retirement: before that, one of them
 * may hold more of the dead node's records than the table shows.
 */
function needed(s: ReplicaState, node: ReplicaId, want: number): number {
  if (!s.retired.has(node)) return want;
  if (notHeardSinceRetired(s, node).length > 0) return want;
  let known = V.get(s.replicaTS, node);
  for (const p of s.members) known = Math.max(known, V.get(s.table.get(p) ?? V.zero(), node));
  return Math.min(want, known);
}

/** prev ≤ ts, with retired entries capped (see `needed`). */
function covered(s: ReplicaState, prev: VTS, ts: VTS): boolean {
  for (const node of Object.keys(prev) as ReplicaId[]) {
    const want = V.get(prev, node);
    if (V.get(ts, node) >= want) continue;
    if (V.get(ts, node) < needed(s, node, want)) return false;
  }
  return true;
}

/** The entries of prev this replica still lacks (for pulls and error messages). */
function missing(s: ReplicaState, prev: VTS, ts: VTS): ReplicaId[] {
  return (Object.keys(prev) as ReplicaId[]).filter((n) => V.get(ts, n) < needed(s, n, V.get(prev, n))).sort();
}

// ---------------------------------------------------------------------------
// Client requests

function onQuery(s: ReplicaState, q: Extract<Input, { type: 'query' }>, out: Effect[]): void {
  if (s.phase !== 'serving') {
    out.push({ type: 'fail', to: q.from, requestId: q.requestId, code: 'UNAVAILABLE', message: `${s.id} is recovering its state from a peer` });
    return;
  }
  if (covered(s, q.prev, s.prefixTS)) {
    out.push({ type: 'answer', to: q.from, requestId: q.requestId, query: q.query, valueTS: s.valueTS });
    return;
  }
  const held: Held = { kind: 'query', from: q.from, requestId: q.requestId, prev: q.prev, query: q.query, deadline: s.now + s.config.queryHoldMs, nextPullAt: 0 };
  s.held.set(q.requestId, held);
  pullFor(s, held, out);
}

function onUpdate(s: ReplicaState, u: Extract<Input, { type: 'update' }>, out: Effect[]): void {
  const fail = (e: OpError) => out.push({ type: 'fail', to: u.from, requestId: u.requestId, code: e.code, message: e.message });
  if (s.phase !== 'serving') {
    fail(new OpError('UNAVAILABLE', `${s.id} is recovering its state from a peer`));
    return;
  }
  try {
    checkUpdateShape(u.op);
  } catch (e) {
    if (e instanceof OpError) return void fail(e);
    throw e;
  }
  if (orderingOf(u.op) !== 'causal') {
    onForcedUpdate(s, u, out);
    return;
  }
  const own = s.ownCopy.get(u.uid);
  if (own) {
    // A retry: never log twice, answer with the timestamp already given.
    out.push({ type: 'ack', to: u.from, requestId: u.requestId, uid: u.uid, ts: own });
    return;
  }
  if (u.issuedAt < s.now - s.config.dedupWindowMs) {
    fail(new OpError('EXPIRED', 'this update was issued too long ago to be deduplicated safely; issue it again'));
    return;
  }
  if (V.get(u.prev, s.id) > V.get(s.replicaTS, s.id)) {
    fail(new OpError('BAD_REQUEST', `prev claims updates from ${s.id} that it never issued`));
    return;
  }
  if (covered(s, u.prev, s.replicaTS)) {
    acceptUpdate(s, u, out);
    return;
  }
  // Invariant I4: log an update only once everything its prev depends on has been received.
  const held: Held = {
    kind: 'update',
    from: u.from,
    requestId: u.requestId,
    prev: u.prev,
    uid: u.uid,
    op: u.op,
    issuedAt: u.issuedAt,
    copies: u.copies,
    deadline: s.now + s.config.queryHoldMs,
    nextPullAt: 0,
  };
  s.held.set(u.requestId, held);
  pullFor(s, held, out);
}

/** Logs this replica's own copy: replicaTS[i]++, ts = prev with ts[i] = replicaTS[i]. */
function logOwnCopy(s: ReplicaState, uid: UpdateId, prev: VTS, op: LogRecord['op'], issuedAt: number): VTS {
  const counter = V.get(s.replicaTS, s.id) + 1;
  s.replicaTS = V.withEntry(s.replicaTS, s.id, counter);
  const ts = V.withEntry(prev, s.id, counter);
  addRecord(s, { node: s.id, ts, prev, uid, op, issuedAt });
  s.ownCopy.set(uid, ts);
  return ts;
}

/**
 * A forced or immediate update: only the primary takes it (primary.ts); it is
 * answered once committed by a majority and applied here (`answerForced`).
 */
function onForcedUpdate(s: ReplicaState, u: Extract<Input, { type: 'update' }>, out: Effect[]): void {
  const w = { from: u.from, requestId: u.requestId };
  if (s.executed.has(u.uid)) {
    const ts = forcedTs(s, u.uid);
    if (ts) return void out.push({ type: 'ack', to: u.from, requestId: u.requestId, uid: u.uid, ts, forced: true, op: u.op });
  }
  if (u.issuedAt < s.now - s.config.dedupWindowMs) {
    out.push({ type: 'fail', to: u.from, requestId: u.requestId, code: 'EXPIRED', message: 'this update was issued too long ago to be deduplicated safely; issue it again' });
    return;
  }
  if (!enabled(s) || s.primary.role !== 'leader') return void out.push(notPrimary(s, w));
  propose(s, { ...w, uid: u.uid, prev: u.prev, op: u.op, issuedAt: u.issuedAt, immediate: orderingOf(u.op) === 'immediate' }, out);
}

/** The record of committed entry e as every replica logs it: counter = seq, prev also covering the forced update before it. */
function forcedRecord(e: ForcedEntry): LogRecord {
  const prev = V.merge(e.prev, V.withEntry(V.zero(), FORCED, e.seq - 1));
  return { node: FORCED, ts: V.withEntry(prev, FORCED, e.seq), prev, uid: e.uid, op: e.op!, issuedAt: e.issuedAt };
}

function forcedTs(s: ReplicaState, uid: UpdateId): VTS | undefined {
  const own = s.ownCopy.get(uid);
  if (own) return own;
  const e = entryOf(s.primary, uid);
  return e && e.index <= s.primary.commit ? forcedRecord(e).ts : undefined;
}

/**
 * Moves committed forced entries into the gossip log, in sequence order, as
 * records of the pseudo-node `forced`. Gossip may have brought some of them
 * first (replicaTS[forced] counts both). An entry waits until everything its
 * prev names has been received (invariant I4), pulling for it meanwhile.
 */
function admitForced(s: ReplicaState, out: Effect[]): void {
  checkForcedAgreement(s);
  for (;;) {
    const e = committedWithSeq(s.primary, V.get(s.replicaTS, FORCED) + 1);
    if (!e) return;
    const r = forcedRecord(e);
    if (!covered(s, r.prev, s.replicaTS)) {
      if (s.now >= s.forcedPullAt) {
        s.forcedPullAt = s.now + s.config.pullRetryMs;
        pullMissing(s, r.prev, out);
      }
      return;
    }
    addRecord(s, r);
    s.replicaTS = V.withEntry(s.replicaTS, FORCED, e.seq);
  }
}

/**
 * Broken-invariant check: a sequence number means one update everywhere. A
 * committed entry whose number gossip already brought here must be that very
 * update (two primaries handing out one number — possible only if a voter
 * lost its durable state — would show here first).
 */
function checkForcedAgreement(s: ReplicaState): void {
  const p = s.primary;
  for (; p.checkedCommit < p.commit && p.checkedCommit < p.log.length; p.checkedCommit++) {
    const e = p.log[p.checkedCommit]!;
    if (!e.op) continue;
    const rec = s.log.get(recordKey(FORCED, e.seq))?.rec;
    if (rec && rec.uid !== e.uid) throw new Error(`forced update #${e.seq} is ${rec.uid} in the gossip log but ${e.uid} was committed with that number`);
    // Its record was already collected here: then its uid must be known as executed (within the dedup window, while it is remembered).
    const seen = !rec && e.seq <= V.get(s.replicaTS, FORCED) && e.issuedAt >= s.now - s.config.dedupWindowMs;
    if (seen && !s.executed.has(e.uid) && !s.copiesByUid.has(e.uid)) {
      throw new Error(`forced update #${e.seq} was received here as another update, but ${e.uid} was committed with that number`);
    }
  }
}

/** Answers the clients waiting at the primary for updates now applied here. */
function answerForced(s: ReplicaState, out: Effect[]): void {
  for (const [uid, ws] of s.primary.waiting) {
    if (!s.executed.has(uid)) continue;
    const ts = forcedTs(s, uid);
    if (!ts) continue;
    s.primary.waiting.delete(uid);
    const op = entryOf(s.primary, uid)?.op ?? undefined;
    for (const w of ws) out.push({ type: 'ack', to: w.from, requestId: w.requestId, uid, ts, forced: true, ...(op ? { op } : {}) });
  }
}

type UpdateLike = { from: string; requestId: Extract<Input, { type: 'update' }>['requestId']; uid: UpdateId; prev: VTS; op: LogRecord['op']; issuedAt: number; copies: readonly ReplicaId[] };

function acceptUpdate(s: ReplicaState, u: UpdateLike, out: Effect[]): void {
  const ts = logOwnCopy(s, u.uid, u.prev, u.op, u.issuedAt);
  out.push({ type: 'ack', to: u.from, requestId: u.requestId, uid: u.uid, ts });
  // Push our copy straight to the twin(s) so the update binds within one hop.
  for (const peer of u.copies) {
    if (peer !== s.id && s.members.has(peer)) sendGossip(s, peer, true, out);
  }
}

// ---------------------------------------------------------------------------
// Peer messages

function onPeer(s: ReplicaState, from: ReplicaId, msg: PeerMessage, out: Effect[]): void {
  if (from === s.id) return;
  if (isPrimaryMessage(msg)) {
    // The primary's protocol runs in every phase: its state is durable, not rebuilt by snapshots.
    if (msg.type !== 'cut' || s.phase === 'serving') onPrimaryMessage(s, from, msg, out);
    return;
  }
  switch (msg.type) {
    case 'gossip':
      if (s.phase !== 'serving') return;
      receiveGossip(s, from, msg.records, msg.replicaTS, msg.covers ?? msg.replicaTS, out);
      if (msg.wantReply) replyTo(s, from, out);
      return;
    case 'pull':
      if (s.phase !== 'serving') return;
      noteTable(s, from, msg.replicaTS);
      replyTo(s, from, out);
      return;
    case 'replicate': {
      if (s.phase !== 'serving' || s.ownCopy.has(msg.record.uid)) return;
      if (!covered(s, msg.record.prev, s.replicaTS)) return; // the recruiter will ask again or ask another
      const r = msg.record;
      logOwnCopy(s, r.uid, r.prev, r.op, r.issuedAt);
      sendGossip(s, from, false, out);
      return;
    }
    case 'snapshotRequest':
      if (s.phase === 'serving') out.push({ type: 'sendSnapshot', to: from, snapshot: makeSnapshot(s) });
      return;
    case 'snapshot':
      if (!maybeInstallSnapshot(s, msg.snapshot, msg.overlay ?? EMPTY_OVERLAY, out) && s.phase === 'serving') {
        // Not needed (the sender's table row for us was stale): tell it where we are.
        noteTable(s, from, msg.snapshot.replicaTS);
        sendGossip(s, from, false, out);
      }
      return;
  }
}

function noteTable(s: ReplicaState, peer: ReplicaId, ts: VTS): void {
  s.table.set(peer, V.merge(s.table.get(peer) ?? V.zero(), ts));
  s.heardAt.set(peer, s.seq);
}

/** Keeps records not yet covered by replicaTS, then adopts the sender's replicaTS (it sent all we may lack). */
function receiveGossip(s: ReplicaState, from: ReplicaId, records: readonly LogRecord[], senderTS: VTS, covers: VTS, out: Effect[]): void {
  let kept = 0;
  for (const r of records) {
    const counter = V.get(r.ts, r.node);
    if (counter <= V.get(s.replicaTS, r.node)) continue; // already received (or collected)
    if (s.log.has(recordKey(r.node, counter))) continue;
    addRecord(s, r);
    kept++;
  }
  s.replicaTS = V.merge(s.replicaTS, covers);
  noteTable(s, from, senderTS);
  out.push({ type: 'event', event: { kind: 'gossipReceived', from, records: records.length, kept } });
}

/** Answers a peer that told us its replicaTS. */
function replyTo(s: ReplicaState, peer: ReplicaId, out: Effect[]): void {
  sendGossip(s, peer, false, out);
}

/** Whether a replica at `theirs` lacks records already collected from a log whose gcTS is given. */
function lacksCollected(_s: ReplicaState, theirs: VTS, gcTS: VTS): boolean {
  return V.ahead(theirs, gcTS).length > 0;
}

/**
 * The records a peer at `theirs` may lack, at most `gossipMaxRecords` of
 * them, and the replicaTS the message may claim. For each origin node the
 * records a peer lacks form one contiguous range (invariant I3, and
 * collected ones go by snapshot), so a message cut short claims, for a node
 * it could not send in full, only the counter of the last record it sent:
 * the receiver still holds everything its new replicaTS covers.
 */
function gossipFor(s: ReplicaState, theirs: VTS): { records: LogRecord[]; claim: VTS } {
  const byNode = new Map<ReplicaId, LogRecord[]>();
  for (const e of s.log.values()) {
    const node = e.rec.node;
    if (V.get(e.rec.ts, node) <= V.get(theirs, node)) continue;
    let list = byNode.get(node);
    if (!list) byNode.set(node, (list = []));
    list.push(e.rec);
  }
  let budget = Math.max(1, s.config.gossipMaxRecords);
  let claim = s.replicaTS;
  const records: LogRecord[] = [];
  for (const node of [...byNode.keys()].sort()) {
    const list = byNode.get(node)!;
    if (list.length <= budget) {
      records.push(...list);
      budget -= list.length;
      continue;
    }
    list.sort((a, b) => V.get(a.ts, node) - V.get(b.ts, node));
    const sent = list.slice(0, budget);
    records.push(...sent);
    budget = 0;
    const last = sent.at(-1);
    claim = V.withEntry(claim, node, last ? V.get(last.ts, node) : V.get(theirs, node));
  }
  return { records, claim };
}

/**
 * Sends a peer every record it may lack (per the timestamp table) with our
 * replicaTS; the receiver then holds everything that covers (invariant I3).
 * If the peer may lack records we have already collected, a gossip message
 * could not keep that promise, so a snapshot goes instead (rate-limited; a
 * peer that is not in fact behind ignores it).
 */
function sendGossip(s: ReplicaState, peer: ReplicaId, wantReply: boolean, out: Effect[]): void {
  const theirs = s.table.get(peer);
  if (theirs === undefined && !V.equals(s.gcTS, V.zero())) {
    // Never heard from this peer: ask for its replicaTS first (a pull carries ours and is answered with gossip).
    out.push({ type: 'send', to: peer, msg: { type: 'pull', replicaTS: s.replicaTS } });
    return;
  }
  if (theirs !== undefined && lacksCollected(s, theirs, s.gcTS)) {
    const last = s.snapshotSentAt.get(peer);
    if (last === undefined || s.now - last >= s.config.snapshotRetryMs) {
      s.snapshotSentAt.set(peer, s.now);
      out.push({ type: 'sendSnapshot', to: peer, snapshot: makeSnapshot(s) });
    }
    return;
  }
  const { records, claim } = gossipFor(s, theirs ?? V.zero());
  const covers = V.equals(claim, s.replicaTS) ? undefined : claim;
  out.push({ type: 'send', to: peer, msg: { type: 'gossip', replicaTS: s.replicaTS, covers, records, wantReply } });
  out.push({ type: 'event', event: { kind: 'gossipSent', to: peer, records: records.length } });
}

// ---------------------------------------------------------------------------
// The log

function addRecord(s: ReplicaState, r: LogRecord): void {
  const key = recordKey(r.node, V.get(r.ts, r.node));
  // A forced record is the update's only copy: remember its timestamp for retries, as for an own copy.
  if (r.node === FORCED) s.ownCopy.set(r.uid, r.ts);
  s.log.set(key, { rec: r, applied: false, loggedAt: s.now });
  let keys = s.copiesByUid.get(r.uid);
  if (!keys) s.copiesByUid.set(r.uid, (keys = new Set()));
  keys.add(key);
}

/** Distinct nodes holding a copy of uid, as far as this log shows. */
function holders(s: ReplicaState, uid: UpdateId): number {
  const keys = s.copiesByUid.get(uid);
  if (!keys) return 0;
  const nodes = new Set<string>();
  for (const k of keys) nodes.add(s.log.get(k)!.rec.node);
  return nodes.size;
}

/**
 * An update may become visible once two replicas hold a copy, or once it has
 * been applied here already (a late copy), or when there is nobody to share
 * it with (a one-replica cluster).
 */
function bound(s: ReplicaState, uid: UpdateId): boolean {
  const first = s.copiesByUid.get(uid)?.values().next().value;
  // A forced record was logged by a majority before it was committed.
  if (first !== undefined && s.log.get(first)?.rec.node === FORCED) return true;
  return holders(s, uid) >= 2 || s.executed.has(uid) || s.members.size === 0;
}

/**
 * Applies every stable, bound record, repeatedly, until none is left: the
 * fixpoint makes the order consistent with causality (a record depending on
 * another is not stable until that one has been applied and counted).
 * Within one round records are independent; they are applied in version
 * order so every replica issues the same store writes.
 */
function applyReady(s: ReplicaState, out: Effect[]): void {
  for (;;) {
    const ready: LogEntry[] = [];
    for (const e of s.log.values()) {
      if (!e.applied && covered(s, e.rec.prev, s.prefixTS) && bound(s, e.rec.uid)) ready.push(e);
    }
    if (ready.length === 0) return;
    ready.sort((a, b) => {
      const oa = V.sum(a.rec.prev);
      const ob = V.sum(b.rec.prev);
      if (oa !== ob) return oa - ob;
      if (a.rec.uid !== b.rec.uid) return a.rec.uid < b.rec.uid ? -1 : 1;
      return a.rec.node < b.rec.node ? -1 : a.rec.node > b.rec.node ? 1 : 0;
    });
    for (const e of ready) {
      const r = e.rec;
      if (!s.executed.has(r.uid)) {
        out.push({ type: 'apply', uid: r.uid, op: r.op, version: { order: V.sum(r.prev), uid: r.uid } });
        s.executed.set(r.uid, r.issuedAt);
        out.push({ type: 'event', event: { kind: 'applied', uid: r.uid, copies: holders(s, r.uid) } });
      }
      e.applied = true;
      s.valueTS = V.merge(s.valueTS, r.ts);
      countApplied(s, r.node, V.get(r.ts, r.node));
      s.recruitAt.delete(r.uid);
    }
  }
}

/** Maintains invariant I2. */
function countApplied(s: ReplicaState, node: ReplicaId, counter: number): void {
  let upTo = V.get(s.prefixTS, node);
  if (counter <= upTo) return;
  let ahead = s.appliedAhead.get(node);
  if (counter !== upTo + 1) {
    if (!ahead) s.appliedAhead.set(node, (ahead = new Set()));
    ahead.add(counter);
    return;
  }
  upTo = counter;
  while (ahead?.delete(upTo + 1)) upTo++;
  if (ahead && ahead.size === 0) s.appliedAhead.delete(node);
  s.prefixTS = V.withEntry(s.prefixTS, node, upTo);
}

/**
 * A record leaves the log once it is applied here (inside the applied prefix)
 * and every live replica is known (timestamp table) to have received it. Executed-table entries leave
 * once the uid has no copy left in the log and its dedup window has passed;
 * older updates are refused (EXPIRED), so the table stays bounded by the
 * update rate times the window.
 */
function collectGarbage(s: ReplicaState, out: Effect[]): void {
  let collected = 0;
  for (const [key, e] of s.log) {
    if (!e.applied) continue;
    const node = e.rec.node;
    const counter = V.get(e.rec.ts, node);
    // Only inside the applied prefix, so gcTS ≤ prefixTS and a snapshot's log + prefixTS say all.
    if (counter > V.get(s.prefixTS, node)) continue;
    let everywhere = true;
    for (const p of s.members) {
      if (V.get(s.table.get(p) ?? V.zero(), node) < counter) {
        everywhere = false;
        break;
      }
    }
    if (!everywhere) continue;
    s.log.delete(key);
    const keys = s.copiesByUid.get(e.rec.uid);
    keys?.delete(key);
    if (keys && keys.size === 0) s.copiesByUid.delete(e.rec.uid);
    if (counter > V.get(s.gcTS, node)) s.gcTS = V.withEntry(s.gcTS, node, counter);
    collected++;
  }
  if (collected > 0) out.push({ type: 'event', event: { kind: 'collected', records: collected } });
}

/**
 * Forgets executed uids whose dedup window has passed. Runs on ticks only,
 * and walks the table in insertion (≈ issue) order, stopping at the first
 * entry still inside the window: the cost per tick is what expires, not the
 * size of the table (which holds a whole window of updates).
 */
function expireExecuted(s: ReplicaState): void {
  const horizon = s.now - s.config.dedupWindowMs;
  for (const [uid, issuedAt] of s.executed) {
    if (issuedAt >= horizon) break;
    if (s.copiesByUid.has(uid)) continue; // a copy still in the log keeps it
    s.executed.delete(uid);
    s.ownCopy.delete(uid);
  }
}

// ---------------------------------------------------------------------------
// Held requests and pulls

function releaseHeld(s: ReplicaState, out: Effect[]): void {
  for (const [id, h] of s.held) {
    if (h.kind === 'query' && covered(s, h.prev, s.prefixTS)) {
      s.held.delete(id);
      out.push({ type: 'answer', to: h.from, requestId: h.requestId, query: h.query, valueTS: s.valueTS });
    } else if (h.kind === 'update' && covered(s, h.prev, s.replicaTS)) {
      s.held.delete(id);
      if (s.ownCopy.has(h.uid)) out.push({ type: 'ack', to: h.from, requestId: h.requestId, uid: h.uid, ts: s.ownCopy.get(h.uid)! });
      else acceptUpdate(s, h, out);
    }
  }
}

/** Asks the replicas that can supply what `h.prev` needs (targeted pull). */
function pullFor(s: ReplicaState, h: Held, out: Effect[]): void {
  h.nextPullAt = s.now + s.config.pullRetryMs;
  pullMissing(s, h.prev, out);
}

function pullMissing(s: ReplicaState, prev: VTS, out: Effect[]): void {
  const lacking = missing(s, prev, s.replicaTS);
  const targets = new Set<ReplicaId>();
  for (const n of lacking) {
    if (s.members.has(n)) targets.add(n);
    if (s.retired.has(n)) for (const p of notHeardSinceRetired(s, n)) targets.add(p);
    for (const p of s.members) {
      if (V.get(s.table.get(p) ?? V.zero(), n) > V.get(s.replicaTS, n)) targets.add(p);
    }
  }
  // Nobody is known to have it (the table lags, or the node left): ask a few live peers.
  if (targets.size === 0 && lacking.length > 0) {
    const rng = rngFromState(s.rngState);
    for (const p of rng.shuffle([...s.members].sort()).slice(0, 2)) targets.add(p);
    s.rngState = rng.state();
  }
  for (const p of [...targets].sort()) {
    out.push({ type: 'send', to: p, msg: { type: 'pull', replicaTS: s.replicaTS } });
    out.push({ type: 'event', event: { kind: 'pullSent', to: p, missing: lacking } });
  }
}

// ---------------------------------------------------------------------------
// Time

function onTick(s: ReplicaState, now: number, out: Effect[]): void {
  if (now < s.now) return; // time never runs backwards inside the core
  s.now = now;
  primaryTick(s, out);
  if (s.phase === 'recovering') {
    askForSnapshot(s, out);
    return;
  }
  for (const [id, h] of s.held) {
    if (now >= h.deadline) {
      s.held.delete(id);
      const lack = missing(s, h.prev, h.kind === 'query' ? s.prefixTS : s.replicaTS);
      out.push({
        type: 'fail',
        to: h.from,
        requestId: h.requestId,
        code: 'NOT_YET_AVAILABLE',
        message: `${s.id} has not yet received updates from ${lack.join(', ') || 'peers'} that this session has seen; try again or another replica`,
      });
    } else if (now >= h.nextPullAt) {
      pullFor(s, h, out);
    }
  }
  recruitTwins(s, out);
  expireExecuted(s);
  if (now >= s.nextGossipAt && s.members.size > 0) {
    s.nextGossipAt = now + s.config.gossipIntervalMs;
    const rng = rngFromState(s.rngState);
    const peers = rng.shuffle([...s.members].sort()).slice(0, Math.max(1, s.config.gossipFanout));
    s.rngState = rng.state();
    for (const p of peers) sendGossip(s, p, true, out);
  }
}

/** An update with one holder for too long (its twin died or never got it): ask another peer to take a copy. */
function recruitTwins(s: ReplicaState, out: Effect[]): void {
  if (s.members.size === 0) return;
  for (const [uid, keys] of s.copiesByUid) {
    if (s.executed.has(uid) || holders(s, uid) >= 2) continue;
    const first = s.log.get(keys.values().next().value as string)!;
    // Only the owner recruits, unless the owner is gone.
    if (first.rec.node !== s.id && !s.retired.has(first.rec.node)) continue;
    const at = s.recruitAt.get(uid) ?? first.loggedAt + s.config.bindTimeoutMs;
    if (s.now < at) continue;
    const candidates = [...s.members].filter((p) => p !== first.rec.node).sort();
    if (candidates.length === 0) continue;
    const rng = rngFromState(s.rngState);
    const peer = rng.pick(candidates);
    s.rngState = rng.state();
    s.recruitAt.set(uid, s.now + s.config.bindTimeoutMs);
    // The peer needs everything the record depends on: send our log first.
    sendGossip(s, peer, false, out);
    out.push({ type: 'send', to: peer, msg: { type: 'replicate', record: first.rec } });
    out.push({ type: 'event', event: { kind: 'recruited', uid, peer } });
  }
}

// ---------------------------------------------------------------------------
// Snapshots (state transfer)

function askForSnapshot(s: ReplicaState, out: Effect[]): void {
  const ask = s.snapshotAsk;
  if (ask && s.now - ask.at < s.config.snapshotRetryMs && s.members.has(ask.peer)) return;
  const peers = [...s.members].sort();
  if (peers.length === 0) {
    // Everyone else is gone: nothing to recover from, start from the data file.
    s.phase = 'serving';
    return;
  }
  const rng = rngFromState(s.rngState);
  const peer = rng.pick(peers);
  s.rngState = rng.state();
  s.snapshotAsk = { peer, at: s.now };
  out.push({ type: 'send', to: peer, msg: { type: 'snapshotRequest' } });
}

export function makeSnapshot(s: ReplicaState): CoreSnapshot {
  return {
    from: s.id,
    valueTS: s.valueTS,
    prefixTS: s.prefixTS,
    replicaTS: s.replicaTS,
    gcTS: s.gcTS,
    log: [...s.log.values()].map((e) => ({ ...e.rec, applied: e.applied })),
    executed: [...s.executed].map(([uid, issuedAt]) => ({ uid, issuedAt })),
    retired: [...s.retired].sort(),
  };
}

/**
 * A recovering replica adopts the first snapshot it gets. A serving one adopts
 * a snapshot only if it lacks records its peers have already collected (it was
 * cut off for a long time); it then keeps the records of its own log that the
 * snapshot does not cover and applies them again on top.
 */
function maybeInstallSnapshot(s: ReplicaState, snap: CoreSnapshot, overlay: Overlay, out: Effect[]): boolean {
  if (s.phase === 'serving' && !lacksCollected(s, s.replicaTS, snap.gcTS)) return false;
  const keep = [...s.log.values()].map((e) => e.rec).filter((r) => V.get(r.ts, r.node) > V.get(snap.replicaTS, r.node));
  const replicaTS = V.merge(snap.replicaTS, s.replicaTS);
  out.push({ type: 'installSnapshot', overlay });
  s.log.clear();
  s.copiesByUid.clear();
  s.appliedAhead.clear();
  s.executed.clear();
  s.recruitAt.clear();
  s.valueTS = snap.valueTS;
  s.prefixTS = snap.prefixTS;
  s.replicaTS = replicaTS;
  s.gcTS = V.merge(s.gcTS, snap.gcTS);
  for (const e of snap.executed) s.executed.set(e.uid, e.issuedAt);
  for (const r of snap.log) {
    addRecord(s, { node: r.node, ts: r.ts, prev: r.prev, uid: r.uid, op: r.op, issuedAt: r.issuedAt });
    const entry = s.log.get(recordKey(r.node, V.get(r.ts, r.node)))!;
    entry.applied = r.applied;
    if (r.applied) countApplied(s, r.node, V.get(r.ts, r.node));
  }
  for (const r of keep) if (!s.log.has(recordKey(r.node, V.get(r.ts, r.node)))) addRecord(s, r);
  for (const id of snap.retired) if (!s.members.has(id) && id !== s.id) retire(s, id);
  noteTable(s, snap.from, snap.replicaTS);
  s.phase = 'serving';
  s.snapshotAsk = undefined;
  out.push({ type: 'event', event: { kind: 'snapshotInstalled', from: snap.from } });
  return true;
}
