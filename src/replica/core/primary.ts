/**
 * The primary: sequencing of forced and immediate updates (Ladin et al. 1992,
 * §3.3 "forced and immediate updates"), as a Raft-style replicated log
 * (Ongaro & Ousterhout 2014) inside the replica core.
 *
 * - Voters are the replica *names* given by `--voters` (static membership).
 *   A restarted replica keeps its name, and its term, vote and log survive
 *   the restart on disk (the `persist` effect), so it is the same voter
 *   again; its vector-timestamp incarnation is new, as for any restart.
 * - A follower that hears no primary for a random election timeout stands
 *   for election; a candidate with the votes of a majority becomes primary
 *   for its term. A vote goes to at most one candidate per term, and only to
 *   a candidate whose log is at least as up to date as the voter's, so a
 *   primary always holds every committed entry.
 * - The primary appends each forced/immediate update to its log and
 *   replicates it; an entry is committed once a majority of voters has
 *   logged it (and it, or a later entry, is of the primary's own term).
 *   A new primary first commits an empty entry of its term, which commits
 *   whatever earlier primaries left uncommitted.
 * - Committed entries become records of the pseudo-node `forced` in the
 *   gossip log (step.ts, `admitForced`); the record's counter is the entry's
 *   sequence number (empty entries get none), so no two forced updates ever
 *   get the same number, and every replica applies them in that order.
 * - Immediate updates first take a *cut*: the primary gathers the replicaTS
 *   of every live replica (for at most cutTimeoutMs) and makes their merge
 *   part of the entry's prev. Everything any replica had received before the
 *   cut — every update acknowledged before the immediate update was issued —
 *   is then ordered before it, and (with LWW versions extending causality)
 *   everything else after it, the same way at every replica.
 *
 * Guards against a disruptive replica (Raft thesis §9.6 pre-vote, §4.2.3 and
 * §6.2): a replica first asks whether a majority *would* vote for it, without
 * raising any term, and stands only if so — a replica cut off from the others
 * keeps its term and cannot depose a working primary when it returns; a
 * voter that heard from a primary within the minimum election timeout
 * refuses candidates; and a primary that has not heard from a majority for
 * the maximum election timeout steps down (it could not commit anyway).
 */
import { nameOf, type ReplicaId, type RequestId, type UpdateId } from '../../core/ids.js';
import type { Update } from '../../core/ops.js';
import { rngFromState } from '../../core/rng.js';
import * as V from '../../core/vts.js';
import type { VTS } from '../../core/vts.js';
import type { ReplicaState } from './state.js';
import type { Effect, ForcedEntry, PeerMessage, ReplyTo } from './types.js';

/** The vector-timestamp entry that counts forced and immediate updates. */
export const FORCED = 'forced' as ReplicaId;

/** What must survive a crash (Raft's persistent state). */
export interface Durable {
  readonly term: number;
  readonly votedFor: string | null;
  readonly log: readonly ForcedEntry[];
}

export interface Waiter {
  readonly from: ReplyTo;
  readonly requestId: RequestId;
}

interface Cut {
  readonly uid: UpdateId;
  readonly op: Update;
  readonly prev: VTS;
  readonly issuedAt: number;
  readonly deadline: number;
  readonly waitingFor: Set<ReplicaId>;
  merged: VTS;
}

export interface PrimaryState {
  /** Voter names, sorted; empty = forced updates disabled. */
  readonly voters: readonly string[];
  term: number;
  votedFor: string | null;
  /** Entry i is log[i - 1]. */
  log: ForcedEntry[];
  role: 'leader' | 'follower' | 'candidate';
  /** The primary of `term` as far as this replica knows. */
  leader: ReplicaId | null;
  /** Highest index known committed. */
  commit: number;
  /** Committed entries up to here were checked against forced records gossip brought (step.ts). */
  checkedCommit: number;
  /** When a follower stands for election; NaN until the first tick sets it (the rng lives in the replica state). */
  electionAt: number;
  /** Last time a primary of the current term was heard from (followers). */
  leaderSeenAt: number;
  readonly votes: Set<string>;
  /** Pre-vote in progress: who said they would vote for us in term + 1. */
  preVotes: Set<string> | null;
  /** Leader only: per voter name, next index to send and highest index known logged there. */
  readonly next: Map<string, number>;
  readonly match: Map<string, number>;
  /** Leader only: last time each voter answered (check-quorum). */
  readonly ackAt: Map<string, number>;
  leaderSince: number;
  nextHeartbeatAt: number;
  /** uid → index in the log (entries with an op). */
  readonly byUid: Map<UpdateId, number>;
  /** Clients waiting for a forced update to be committed and applied here. */
  readonly waiting: Map<UpdateId, Waiter[]>;
  readonly cuts: Map<UpdateId, Cut>;
  /** The durable part changed during this step (persist before anything is sent). */
  dirty: boolean;
}

export function createPrimary(voters: readonly string[], durable: Durable | undefined): PrimaryState {
  const p: PrimaryState = {
    voters: [...new Set(voters)].sort(),
    term: durable?.term ?? 0,
    votedFor: durable?.votedFor ?? null,
    log: [...(durable?.log ?? [])],
    role: 'follower',
    leader: null,
    commit: 0,
    checkedCommit: 0,
    electionAt: Number.NaN,
    leaderSeenAt: -Infinity,
    votes: new Set(),
    preVotes: null,
    next: new Map(),
    match: new Map(),
    ackAt: new Map(),
    leaderSince: 0,
    nextHeartbeatAt: 0,
    byUid: new Map(),
    waiting: new Map(),
    cuts: new Map(),
    dirty: false,
  };
  reindex(p);
  return p;
}

export function durableOf(p: PrimaryState): Durable {
  return { term: p.term, votedFor: p.votedFor, log: p.log };
}

function reindex(p: PrimaryState): void {
  p.byUid.clear();
  for (const e of p.log) if (e.op) p.byUid.set(e.uid, e.index);
}

const lastIndex = (p: PrimaryState): number => p.log.length;
const lastTerm = (p: PrimaryState): number => p.log.at(-1)?.term ?? 0;
const termAt = (p: PrimaryState, i: number): number => (i === 0 ? 0 : (p.log[i - 1]?.term ?? -1));
const lastSeq = (p: PrimaryState): number => p.log.at(-1)?.seq ?? 0;
const majority = (p: PrimaryState): number => Math.floor(p.voters.length / 2) + 1;

export const enabled = (s: ReplicaState): boolean => s.primary.voters.includes(nameOf(s.id));

/** Live incarnations of the other voters (one name may briefly have two: the old one is on its way out). */
function voterPeers(s: ReplicaState): ReplicaId[] {
  const me = nameOf(s.id);
  return [...s.members].filter((m) => s.primary.voters.includes(nameOf(m)) && nameOf(m) !== me).sort();
}

function resetElectionTimer(s: ReplicaState): void {
  const rng = rngFromState(s.rngState);
  const span = Math.max(1, s.config.electionTimeoutMaxMs - s.config.electionTimeoutMinMs);
  s.primary.electionAt = s.now + s.config.electionTimeoutMinMs + rng.int(0, span - 1);
  s.rngState = rng.state();
}

/** Adopts a newer term: back to follower, no vote cast in it yet. */
function adoptTerm(s: ReplicaState, term: number, out: Effect[]): void {
  const p = s.primary;
  if (term <= p.term) return;
  const wasLeader = p.role === 'leader';
  p.term = term;
  p.votedFor = null;
  p.dirty = true;
  p.role = 'follower';
  p.leader = null;
  if (wasLeader) stepDown(s, out);
}

/** A former primary answers everyone waiting on it: the new primary will take the retries. */
function stepDown(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  p.role = 'follower';
  // Everyone waiting, those behind a cut in progress included, is in `waiting`.
  for (const [, ws] of p.waiting) for (const w of ws) out.push(notPrimary(s, w));
  p.waiting.clear();
  p.cuts.clear();
  p.next.clear();
  p.match.clear();
  p.ackAt.clear();
}

export function notPrimary(s: ReplicaState, w: Waiter): Effect {
  const p = s.primary;
  const leader = p.leader && p.leader !== s.id ? p.leader : undefined;
  if (!enabled(s)) {
    return { type: 'fail', to: w.from, requestId: w.requestId, code: 'NO_PRIMARY', message: `${s.id} takes no part in sequencing forced updates (it was started without --voters naming it)` };
  }
  return leader
    ? { type: 'fail', to: w.from, requestId: w.requestId, code: 'NOT_PRIMARY', message: `${s.id} is not the primary; ${leader} is (term ${p.term})`, leader }
    : { type: 'fail', to: w.from, requestId: w.requestId, code: 'NO_PRIMARY', message: `no primary is elected yet (term ${p.term}); try again in a moment` };
}

// ---------------------------------------------------------------------------
// Time

export function primaryTick(s: ReplicaState, out: Effect[]): void {
  if (!enabled(s)) return;
  const p = s.primary;
  if (Number.isNaN(p.electionAt)) resetElectionTimer(s);
  if (p.role === 'leader') {
    // Check-quorum: a primary cut off from a majority steps down, so clients go elsewhere.
    const heard = 1 + [...p.ackAt.values()].filter((t) => s.now - t <= s.config.electionTimeoutMaxMs).length;
    if (heard < majority(p) && s.now - p.leaderSince > s.config.electionTimeoutMaxMs) {
      p.leader = null;
      stepDown(s, out);
      resetElectionTimer(s);
      return;
    }
    for (const [uid, c] of p.cuts) if (s.now >= c.deadline) finishCut(s, uid, out);
    if (s.now >= p.nextHeartbeatAt) broadcastAppend(s, out);
    return;
  }
  // A recovering replica does not stand: it could not answer clients until its snapshot arrives.
  if (s.now >= p.electionAt && s.phase === 'serving') startPreVote(s, out);
}

function startPreVote(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  p.role = 'follower';
  p.leader = null;
  p.preVotes = new Set([nameOf(s.id)]);
  resetElectionTimer(s);
  if (p.preVotes.size >= majority(p)) return void startElection(s, out);
  for (const peer of voterPeers(s)) {
    out.push({ type: 'send', to: peer, msg: { type: 'vote', pre: true, term: p.term + 1, lastIndex: lastIndex(p), lastTerm: lastTerm(p) } });
  }
}

function startElection(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  p.preVotes = null;
  p.term++;
  p.votedFor = nameOf(s.id);
  p.dirty = true;
  p.role = 'candidate';
  p.leader = null;
  p.votes.clear();
  p.votes.add(nameOf(s.id));
  resetElectionTimer(s);
  if (p.votes.size >= majority(p)) {
    becomeLeader(s, out);
    return;
  }
  for (const peer of voterPeers(s)) {
    out.push({ type: 'send', to: peer, msg: { type: 'vote', pre: false, term: p.term, lastIndex: lastIndex(p), lastTerm: lastTerm(p) } });
  }
}

function becomeLeader(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  p.role = 'leader';
  p.leader = s.id;
  p.leaderSince = s.now;
  p.next.clear();
  p.match.clear();
  p.ackAt.clear();
  for (const v of p.voters) {
    p.next.set(v, lastIndex(p) + 1);
    p.match.set(v, 0);
  }
  // An empty entry of the new term commits whatever earlier primaries left uncommitted.
  appendEntry(s, { term: p.term, index: lastIndex(p) + 1, seq: lastSeq(p), uid: `~term:${p.term}` as UpdateId, op: null, prev: V.zero(), issuedAt: s.now });
  out.push({ type: 'event', event: { kind: 'elected', term: p.term } });
  broadcastAppend(s, out);
}

function appendEntry(s: ReplicaState, e: ForcedEntry): void {
  const p = s.primary;
  p.log.push(e);
  if (e.op) p.byUid.set(e.uid, e.index);
  p.match.set(nameOf(s.id), e.index);
  p.dirty = true;
  advanceCommit(s);
}

// ---------------------------------------------------------------------------
// Client requests (forced and immediate updates)

export interface ForcedRequest {
  readonly from: ReplyTo;
  readonly requestId: RequestId;
  readonly uid: UpdateId;
  readonly prev: VTS;
  readonly op: Update;
  readonly issuedAt: number;
  readonly immediate: boolean;
}

/**
 * Takes a forced/immediate update at the primary: appends it (after a cut,
 * for an immediate one) unless its uid is already in the log, and records
 * who waits for it. The answer comes once it is committed and applied here.
 */
export function propose(s: ReplicaState, r: ForcedRequest, out: Effect[]): void {
  const p = s.primary;
  const w: Waiter = { from: r.from, requestId: r.requestId };
  if (p.role !== 'leader') {
    out.push(notPrimary(s, w));
    return;
  }
  let ws = p.waiting.get(r.uid);
  if (!ws) p.waiting.set(r.uid, (ws = []));
  ws.push(w);
  if (p.byUid.has(r.uid) || p.cuts.has(r.uid)) return; // a retry: it is on its way
  if (!r.immediate) {
    appendEntry(s, { term: p.term, index: lastIndex(p) + 1, seq: lastSeq(p) + 1, uid: r.uid, op: r.op, prev: r.prev, issuedAt: r.issuedAt });
    broadcastAppend(s, out);
    return;
  }
  const peers = [...s.members].filter((m) => m !== s.id);
  p.cuts.set(r.uid, {
    uid: r.uid,
    op: r.op,
    prev: r.prev,
    issuedAt: r.issuedAt,
    deadline: s.now + s.config.cutTimeoutMs,
    waitingFor: new Set(peers),
    merged: V.merge(r.prev, s.replicaTS),
  });
  for (const m of peers) out.push({ type: 'send', to: m, msg: { type: 'cut', uid: r.uid } });
  if (peers.length === 0) finishCut(s, r.uid, out);
}

function finishCut(s: ReplicaState, uid: UpdateId, out: Effect[]): void {
  const p = s.primary;
  const c = p.cuts.get(uid);
  if (!c) return;
  p.cuts.delete(uid);
  // The cut may name updates this replica has not received; admission waits for them (I4).
  appendEntry(s, { term: p.term, index: lastIndex(p) + 1, seq: lastSeq(p) + 1, uid, op: c.op, prev: c.merged, issuedAt: c.issuedAt });
  broadcastAppend(s, out);
}

// ---------------------------------------------------------------------------
// Messages

type PrimaryMessage = Extract<PeerMessage, { type: 'vote' | 'voteReply' | 'append' | 'appendReply' | 'cut' | 'cutReply' }>;

export function isPrimaryMessage(m: PeerMessage): m is PrimaryMessage {
  return m.type === 'vote' || m.type === 'voteReply' || m.type === 'append' || m.type === 'appendReply' || m.type === 'cut' || m.type === 'cutReply';
}

export function onPrimaryMessage(s: ReplicaState, from: ReplicaId, msg: PrimaryMessage, out: Effect[]): void {
  const p = s.primary;
  if (msg.type === 'cut') {
    // Any replica answers a cut, voter or not: its replicaTS is what it has received.
    out.push({ type: 'send', to: from, msg: { type: 'cutReply', uid: msg.uid, replicaTS: s.replicaTS } });
    return;
  }
  if (msg.type === 'cutReply') {
    const c = p.cuts.get(msg.uid);
    if (!c) return;
    c.merged = V.merge(c.merged, msg.replicaTS);
    c.waitingFor.delete(from);
    if (c.waitingFor.size === 0) finishCut(s, msg.uid, out);
    return;
  }
  const name = nameOf(from);
  if (!enabled(s) || !p.voters.includes(name) || name === nameOf(s.id)) return;
  switch (msg.type) {
    case 'vote': {
      const upToDate = msg.lastTerm > lastTerm(p) || (msg.lastTerm === lastTerm(p) && msg.lastIndex >= lastIndex(p));
      // A voter that hears from a live primary refuses candidates (disruption guard).
      const primaryAlive = p.role === 'leader' ? heardFromMajority(s) : s.now - p.leaderSeenAt < s.config.electionTimeoutMinMs;
      if (msg.pre) {
        const would = msg.term > p.term && upToDate && !primaryAlive;
        out.push({ type: 'send', to: from, msg: { type: 'voteReply', pre: true, term: would ? msg.term : p.term, granted: would } });
        return;
      }
      if (primaryAlive && msg.term > p.term) return;
      adoptTerm(s, msg.term, out);
      const granted = msg.term === p.term && upToDate && (p.votedFor === null || p.votedFor === name);
      if (granted) {
        if (p.votedFor !== name) p.dirty = true;
        p.votedFor = name;
        resetElectionTimer(s);
      }
      out.push({ type: 'send', to: from, msg: { type: 'voteReply', pre: false, term: p.term, granted } });
      return;
    }
    case 'voteReply':
      if (msg.pre) {
        if (!msg.granted) return void adoptTerm(s, msg.term, out);
        if (!p.preVotes || msg.term !== p.term + 1 || p.role === 'leader') return;
        p.preVotes.add(name);
        if (p.preVotes.size >= majority(p)) startElection(s, out);
        return;
      }
      adoptTerm(s, msg.term, out);
      if (p.role !== 'candidate' || msg.term !== p.term || !msg.granted) return;
      p.votes.add(name);
      if (p.votes.size >= majority(p)) becomeLeader(s, out);
      return;
    case 'append':
      onAppend(s, from, msg, out);
      return;
    case 'appendReply':
      adoptTerm(s, msg.term, out);
      if (p.role !== 'leader' || msg.term !== p.term) return;
      p.ackAt.set(name, s.now);
      if (msg.ok) {
        p.match.set(name, Math.max(p.match.get(name) ?? 0, msg.match));
        p.next.set(name, Math.max(p.next.get(name) ?? 1, msg.match + 1));
        advanceCommit(s);
        if ((p.next.get(name) ?? 1) <= lastIndex(p)) sendAppend(s, from, out);
      } else {
        // Back up to just after the follower's last entry (or one step) and try again.
        const next = Math.max(1, Math.min((p.next.get(name) ?? 1) - 1, msg.match + 1));
        p.next.set(name, next);
        sendAppend(s, from, out);
      }
      return;
  }
}

function heardFromMajority(s: ReplicaState): boolean {
  const p = s.primary;
  const heard = 1 + [...p.ackAt.values()].filter((t) => s.now - t < s.config.electionTimeoutMinMs).length;
  return heard >= majority(p);
}

function onAppend(s: ReplicaState, from: ReplicaId, msg: Extract<PeerMessage, { type: 'append' }>, out: Effect[]): void {
  const p = s.primary;
  const reply = (ok: boolean, match: number) => out.push({ type: 'send', to: from, msg: { type: 'appendReply', term: p.term, ok, match } });
  if (msg.term < p.term) return void reply(false, lastIndex(p));
  adoptTerm(s, msg.term, out);
  if (p.role === 'leader') throw new Error(`two primaries in term ${p.term}: ${s.id} and ${from}`);
  p.role = 'follower';
  p.preVotes = null;
  p.leader = from;
  p.leaderSeenAt = s.now;
  resetElectionTimer(s);
  if (msg.prevIndex > lastIndex(p) || termAt(p, msg.prevIndex) !== msg.prevTerm) {
    return void reply(false, Math.min(lastIndex(p), msg.prevIndex - 1));
  }
  let changed = false;
  for (const e of msg.entries) {
    const have = p.log[e.index - 1];
    if (have && have.term === e.term) continue;
    if (have) {
      // A conflicting entry was never committed (Log Matching): drop it and all after it.
      p.log.length = e.index - 1;
    }
    p.log.push(e);
    changed = true;
  }
  if (changed) {
    p.dirty = true;
    reindex(p);
  }
  const matched = msg.prevIndex + msg.entries.length;
  const commit = Math.min(msg.commit, matched);
  if (commit > p.commit) p.commit = commit;
  reply(true, matched);
}

function broadcastAppend(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  p.nextHeartbeatAt = s.now + s.config.primaryHeartbeatMs;
  for (const peer of voterPeers(s)) sendAppend(s, peer, out);
}

function sendAppend(s: ReplicaState, peer: ReplicaId, out: Effect[]): void {
  const p = s.primary;
  const next = Math.min(p.next.get(nameOf(peer)) ?? lastIndex(p) + 1, lastIndex(p) + 1);
  const prevIndex = next - 1;
  const entries = p.log.slice(prevIndex, prevIndex + Math.max(1, s.config.appendMaxEntries));
  out.push({ type: 'send', to: peer, msg: { type: 'append', term: p.term, prevIndex, prevTerm: termAt(p, prevIndex), entries, commit: p.commit } });
}

/** Commit = the highest index of the current term that a majority of voters has logged. */
function advanceCommit(s: ReplicaState): void {
  const p = s.primary;
  if (p.role !== 'leader') return;
  const matches = p.voters.map((v) => (v === nameOf(s.id) ? lastIndex(p) : (p.match.get(v) ?? 0))).sort((a, b) => b - a);
  const n = matches[majority(p) - 1] ?? 0;
  if (n > p.commit && termAt(p, n) === p.term) p.commit = n;
}

// ---------------------------------------------------------------------------
// For step.ts: committed entries, in order

/** The committed entry with sequence number `seq`, if this replica has it. */
export function committedWithSeq(p: PrimaryState, seq: number): ForcedEntry | undefined {
  // Sequence numbers grow with the index; binary search over the committed prefix.
  let lo = 0;
  let hi = Math.min(p.commit, p.log.length) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = p.log[mid]!;
    // Empty entries repeat the sequence number before them, so the entry that introduced `seq` is left of them.
    if (e.seq < seq) lo = mid + 1;
    else if (e.seq > seq || !e.op) hi = mid - 1;
    else return e;
  }
  return undefined;
}

/** The entry of a forced/immediate update in this replica's log, by uid. */
export function entryOf(p: PrimaryState, uid: UpdateId): ForcedEntry | undefined {
  const i = p.byUid.get(uid);
  return i === undefined ? undefined : p.log[i - 1];
}

/** The persist effect, first in the step's effects, if the durable state changed. */
export function takePersist(s: ReplicaState, out: Effect[]): void {
  const p = s.primary;
  if (!p.dirty) return;
  p.dirty = false;
  out.unshift({ type: 'persist', durable: { term: p.term, votedFor: p.votedFor, log: p.log.slice() } });
}
