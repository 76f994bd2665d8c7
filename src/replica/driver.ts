/**
 * The replica manager's driver: feeds the pure core (core/step.ts) one input
 * at a time and carries out the effects it returns, in order, on a real
 * store, real replies and real peer messages. It knows nothing of sockets:
 * the server (server.ts) gives it a `send` function for peer messages and an
 * `ack` callback per client request, so the same driver runs in unit tests
 * on a MemoryStore.
 *
 * What the driver adds to the core:
 * - Request ids. Front ends choose their own request ids and two of them may
 *   pick the same one, so every client request gets an internal id unique in
 *   this process; the core only ever sees internal ids, and a map leads from
 *   one back to the waiting acknowledgement.
 * - Checks that need the data (an update of a movie that does not exist is
 *   refused with UNKNOWN_MOVIE) and sanity checks on peer messages that the
 *   schema cannot express (a record's timestamp must be its prev with the
 *   node's own entry raised; nobody may claim updates this incarnation never
 *   issued). Invalid input is refused or dropped and never reaches the core.
 * - Availability. While OFFLINE the replica behaves as if it had crashed but
 *   keeps its memory: client requests are refused with OFFLINE, peer
 *   messages in and out are dropped and time stops for the core (no ticks:
 *   no gossip, no timeouts). Membership changes still reach the core, so it
 *   knows who is alive when it comes back.
 * - The primary's durable state. A `persist` effect (always first in its
 *   step) is handed synchronously to `persist` before any message of the
 *   step leaves, even while OFFLINE (membership changes still reach the
 *   core then), because a vote or an append acknowledgement promises it.
 * - Outcomes of forced/immediate updates. The store says what applying one
 *   did (the new movie's id); the driver keeps the last OUTCOMES_KEPT by uid
 *   and puts the outcome in the acknowledgement.
 * - Broken invariants. An exception thrown by the core, or a store write
 *   that fails, means the replica's state can no longer be trusted: the
 *   driver stops accepting input and reports the input that caused it
 *   through `onFatal` (the server logs it and exits non-zero).
 */
import type { Config } from '../core/config.js';
import type { ReplicaId, RequestId, UpdateId } from '../core/ids.js';
import { OpError, orderingOf, type ApplyOutcome, type OpErrorCode, type Query, type Update } from '../core/ops.js';
import type { RmQueryReply, RmTraceEvent, RmUpdateReply } from '../core/protocol.js';
import type { Logger } from '../core/sockets.js';
import type { MovieStore } from '../core/store.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import { entryOf, type Durable } from './core/primary.js';
import { outcomeFromStore } from './outcome.js';
import { createReplica, type ReplicaState } from './core/state.js';
import { step } from './core/step.js';
import type { CoreEvent, Effect, ForcedEntry, Input, LogRecord, PeerMessage, ReplyTo } from './core/types.js';

export interface DriverOptions {
  readonly id: ReplicaId;
  readonly config: Config;
  /** 32-bit seed for the core's random choices (gossip partners). */
  readonly seed: number;
  readonly now: number;
  /** Incarnation ids of the other live replicas at start. */
  readonly peers: readonly ReplicaId[];
  /** True when no other replica was running: serve at once from the data file. */
  readonly fresh: boolean;
  /** The store at the data file's base state. */
  readonly store: MovieStore;
  /** Opens a new store at the data file's base state, synchronously (for installing snapshots). */
  readonly freshStore: () => MovieStore;
  readonly log: Logger;
  /** Sends a message to a peer; fire-and-forget (a lost message is recovered by gossip). */
  readonly send: (to: ReplicaId, msg: PeerMessage) => void;
  /** Called for every trace event (the server forwards them to subscribers). */
  readonly trace?: ((ev: RmTraceEvent) => void) | undefined;
  /** Called when the core's state may have changed (for publishing meta). */
  readonly changed?: (() => void) | undefined;
  /** Called once on a broken invariant; the driver accepts no input afterwards. */
  readonly onFatal: (err: Error, input: string) => void;
  /** Clock for timing measurements; defaults to performance.now. */
  readonly clock?: (() => number) | undefined;
  /** Names of the replicas that elect the primary (the same list everywhere). None: forced updates are refused. */
  readonly voters?: readonly string[] | undefined;
  /** The primary's state as this replica's previous life persisted it. */
  readonly durable?: Durable | undefined;
  /**
   * Writes the primary's state to stable storage, synchronously (it must be
   * durable before the messages that follow it are sent). A throw is a
   * broken invariant: the replica stops.
   */
  readonly persist?: ((d: Durable) => void) | undefined;
  /** How many outcomes of forced/immediate updates to keep for acknowledgements; default OUTCOMES_KEPT. */
  readonly outcomesKept?: number | undefined;
}

/** A write of the primary's state slower than this is logged (it blocks the replica meanwhile). */
const SLOW_PERSIST_MS = 100;

/** Outcomes of forced/immediate updates kept for acknowledgements (retries included). */
export const OUTCOMES_KEPT = 10_000;

type QueryAck = (r: RmQueryReply) => void;
type UpdateAck = (r: RmUpdateReply) => void;

interface Pending {
  readonly client: string;
  readonly clientRequestId: RequestId;
  readonly kind: 'query' | 'update';
  readonly ack: QueryAck | UpdateAck;
  readonly at: number;
}

export type DriverCounters = Record<
  | 'queries'
  | 'updates'
  | 'answered'
  | 'acked'
  | 'failed'
  | 'refusedOffline'
  | 'refusedUnknownMovie'
  | 'queryErrors'
  | 'peerIn'
  | 'peerDroppedOffline'
  | 'peerRejected'
  | 'peerOut'
  | 'gossipSent'
  | 'gossipReceived'
  | 'pullsSent'
  | 'applied'
  | 'collected'
  | 'recruited'
  | 'snapshotsSent'
  | 'snapshotsInstalled'
  | 'persisted'
  | 'persistMsMax'
  | 'elected'
  | 'committed'
  | 'outcomeMissing',
  number
>;

function newCounters(): DriverCounters {
  return {
    queries: 0,
    updates: 0,
    answered: 0,
    acked: 0,
    failed: 0,
    refusedOffline: 0,
    refusedUnknownMovie: 0,
    queryErrors: 0,
    peerIn: 0,
    peerDroppedOffline: 0,
    peerRejected: 0,
    peerOut: 0,
    gossipSent: 0,
    gossipReceived: 0,
    pullsSent: 0,
    applied: 0,
    collected: 0,
    recruited: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    persisted: 0,
    persistMsMax: 0,
    elected: 0,
    committed: 0,
    outcomeMissing: 0,
  };
}

export class ReplicaDriver {
  readonly id: ReplicaId;
  readonly state: ReplicaState;
  readonly counters = newCounters();
  /** Time (ms since epoch) of the last gossip message received from a peer. */
  lastGossipAt: number | null = null;
  /** How long the last snapshot installation took to reset the store (ms). */
  lastResetMs: number | null = null;
  /** Grows with every store write or reset (to cache what is computed from the store). */
  storeVersion = 0;
  private storeRef: MovieStore;
  private offlineFlag = false;
  private dead = false;
  private seq = 0;
  /** Internal request id → the waiting acknowledgement. */
  private readonly pending = new Map<RequestId, Pending>();
  /** Client → its internal request ids (to forget them when it disconnects). */
  private readonly byClient = new Map<string, Set<RequestId>>();
  private readonly clock: () => number;
  /** uid → what applying that forced/immediate update did; insertion order = age (oldest evicted first). */
  private readonly outcomes = new Map<UpdateId, ApplyOutcome>();

  constructor(private readonly o: DriverOptions) {
    this.id = o.id;
    this.storeRef = o.store;
    this.clock = o.clock ?? (() => performance.now());
    this.state = createReplica({ id: o.id, config: o.config, now: o.now, seed: o.seed, peers: o.peers, fresh: o.fresh, voters: o.voters, durable: o.durable });
  }

  get store(): MovieStore {
    return this.storeRef;
  }

  /** Client requests waiting for an answer (held by the core or in progress). */
  get inflight(): number {
    return this.pending.size;
  }

  get offline(): boolean {
    return this.offlineFlag;
  }

  get failed(): boolean {
    return this.dead;
  }

  /**
   * Going OFFLINE answers every waiting client with OFFLINE (the core keeps
   * its held requests; their late answers find nobody waiting and are dropped).
   */
  setOffline(off: boolean): void {
    if (off === this.offlineFlag) return;
    this.offlineFlag = off;
    if (off) {
      for (const [rid, p] of [...this.pending]) {
        this.forget(rid, p);
        this.counters.refusedOffline++;
        p.ack({ ok: false, code: 'OFFLINE', message: `${this.id} is offline` });
      }
    }
    this.o.changed?.();
  }

  // -------------------------------------------------------------------------
  // Inputs

  tick(now: number): void {
    if (this.offlineFlag) return;
    this.run({ type: 'tick', now });
  }

  query(client: string, req: { requestId: RequestId; prev: VTS; query: Query }, ack: QueryAck): void {
    this.counters.queries++;
    if (this.refuse(ack)) return;
    const rid = this.track(client, req.requestId, 'query', ack);
    this.run({ type: 'query', from: client, requestId: rid, prev: req.prev, query: req.query });
  }

  update(
    client: string,
    req: { requestId: RequestId; uid: UpdateId; prev: VTS; op: Update; issuedAt: number; copies: readonly ReplicaId[] },
    ack: UpdateAck,
  ): void {
    this.counters.updates++;
    if (this.refuse(ack)) return;
    // Ratings of a movie that does not exist are refused here; forced/immediate updates name no existing movie.
    const op = req.op;
    if (orderingOf(op) === 'causal' && (op.kind === 'rate' || op.kind === 'delete') && !this.storeRef.hasMovie(op.movieId)) {
      this.counters.refusedUnknownMovie++;
      ack({ ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie with id ${op.movieId}` });
      return;
    }
    const rid = this.track(client, req.requestId, 'update', ack);
    this.run({ type: 'update', from: client, requestId: rid, uid: req.uid, prev: req.prev, op: req.op, issuedAt: req.issuedAt, copies: req.copies });
  }

  /** A message from a peer (already schema-checked). Returns why it was not fed to the core, if it was not. */
  peer(from: ReplicaId, msg: PeerMessage): string | undefined {
    if (this.dead) return 'the replica has failed';
    this.counters.peerIn++;
    if (this.offlineFlag) {
      this.counters.peerDroppedOffline++;
      return 'offline';
    }
    const bad = this.checkPeer(from, msg);
    if (bad) {
      this.counters.peerRejected++;
      this.o.log.warn(`dropped a ${msg.type} message from ${from}: ${bad}`);
      return bad;
    }
    this.run({ type: 'peer', from, msg });
    return undefined;
  }

  peerJoined(id: ReplicaId): void {
    if (id === this.id) return;
    this.run({ type: 'peerJoined', id });
  }

  peerLeft(id: ReplicaId): void {
    if (id === this.id) return;
    this.run({ type: 'peerLeft', id });
  }

  /** Forgets the requests of a client that went away (their answers are dropped). */
  dropClient(client: string): void {
    const ids = this.byClient.get(client);
    if (!ids) return;
    for (const rid of [...ids]) {
      const p = this.pending.get(rid);
      if (p) this.forget(rid, p);
    }
    this.byClient.delete(client);
    this.o.changed?.();
  }

  /** Answers every waiting client (used when shutting down). */
  failAll(code: OpErrorCode, message: string): void {
    for (const [rid, p] of [...this.pending]) {
      this.forget(rid, p);
      p.ack({ ok: false, code, message });
    }
  }

  // -------------------------------------------------------------------------

  private refuse(ack: QueryAck | UpdateAck): boolean {
    if (this.dead) {
      ack({ ok: false, code: 'UNAVAILABLE', message: `${this.id} has failed` });
      return true;
    }
    if (this.offlineFlag) {
      this.counters.refusedOffline++;
      ack({ ok: false, code: 'OFFLINE', message: `${this.id} is offline; try another replica` });
      return true;
    }
    return false;
  }

  private track(client: string, clientRequestId: RequestId, kind: 'query' | 'update', ack: QueryAck | UpdateAck): RequestId {
    const rid = `r${++this.seq}` as RequestId;
    this.pending.set(rid, { client, clientRequestId, kind, ack, at: this.clock() });
    let set = this.byClient.get(client);
    if (!set) this.byClient.set(client, (set = new Set()));
    set.add(rid);
    return rid;
  }

  private forget(rid: RequestId, p: Pending): void {
    this.pending.delete(rid);
    const set = this.byClient.get(p.client);
    set?.delete(rid);
    if (set && set.size === 0) this.byClient.delete(p.client);
  }

  private take(rid: RequestId): Pending | undefined {
    const p = this.pending.get(rid);
    if (p) this.forget(rid, p);
    return p;
  }

  /**
   * What the schema cannot say about a peer message. A record must be
   * `<node, ts, prev>` with ts = prev except ts[node] > prev[node]; and no
   * peer can hold updates of this incarnation beyond what it has issued (a
   * gossip claiming so would make this replica skip counters of its own).
   * The primary's messages: see `checkAppend`; a vote cannot name a last
   * log term above the term it asks for.
   */
  private checkPeer(from: ReplicaId, msg: PeerMessage): string | undefined {
    if (from === this.id) return 'it claims to come from this replica';
    const own = V.get(this.state.replicaTS, this.id);
    const checkRecord = (r: LogRecord): string | undefined => {
      const counter = V.get(r.ts, r.node);
      if (counter <= V.get(r.prev, r.node)) return `record ${r.uid} has ts[${r.node}] not above its prev`;
      for (const k of new Set([...Object.keys(r.ts), ...Object.keys(r.prev)]) as Set<ReplicaId>) {
        if (k !== r.node && V.get(r.ts, k) !== V.get(r.prev, k)) return `record ${r.uid} has a ts that differs from its prev outside entry ${r.node}`;
      }
      if (r.node === this.id && counter > own) return `record ${r.uid} claims counter ${counter} of ${this.id}, which has issued ${own}`;
      if (V.get(r.prev, this.id) > own) return `record ${r.uid} depends on updates of ${this.id} it never issued`;
      return undefined;
    };
    const checkTS = (ts: VTS, what: string): string | undefined =>
      V.get(ts, this.id) > own ? `${what} claims ${V.get(ts, this.id)} updates of ${this.id}, which has issued ${own}` : undefined;
    switch (msg.type) {
      case 'gossip':
        for (const r of msg.records) {
          const bad = checkRecord(r);
          if (bad) return bad;
        }
        return checkTS(msg.replicaTS, 'its replicaTS');
      case 'pull':
        return checkTS(msg.replicaTS, 'its replicaTS');
      case 'replicate':
        return checkRecord(msg.record);
      case 'snapshotRequest':
        return undefined;
      case 'vote':
        return msg.lastTerm > msg.term ? `a vote request for term ${msg.term} claims a log ending in term ${msg.lastTerm}` : undefined;
      case 'voteReply':
      case 'cut':
        return undefined;
      case 'cutReply':
        return checkTS(msg.replicaTS, 'its replicaTS');
      case 'appendReply': {
        const p = this.state.primary;
        // While primary of that term, every follower's match is an index of our own log.
        if (msg.ok && p.role === 'leader' && msg.term === p.term && msg.match > p.log.length) {
          return `it claims to match index ${msg.match} of a log of ${p.log.length} entries`;
        }
        return undefined;
      }
      case 'append': {
        const bad = this.checkAppend(msg);
        if (bad) return bad;
        for (const e of msg.entries) {
          const b = checkTS(e.prev, `entry ${e.index}'s prev`);
          if (b) return b;
        }
        return undefined;
      }
      case 'snapshot': {
        const s = msg.snapshot;
        if (s.from !== from) return `snapshot from ${s.from} sent by ${from}`;
        for (const r of s.log) {
          const bad = checkRecord(r);
          if (bad) return bad;
        }
        // valueTS may exceed replicaTS on a retired incarnation's entry (a record
        // whose prev named lost updates of a dead replica), so only these hold.
        if (!V.leq(s.prefixTS, s.valueTS) || !V.leq(s.prefixTS, s.replicaTS)) return 'snapshot timestamps are not ordered prefixTS ≤ valueTS and prefixTS ≤ replicaTS';
        return checkTS(s.replicaTS, 'the snapshot');
      }
    }
  }

  /**
   * An append must be a slice of a well-formed primary's log, or a hostile or
   * buggy peer could make this replica log (and later apply) what no primary
   * sequenced: entries numbered prevIndex+1, prevIndex+2, ...; terms never
   * decreasing, from prevTerm up to the message's term; each sequence number
   * the one before it plus one for an update, the same for an empty entry
   * (primary.ts); only forced/immediate updates. And since a term has at
   * most one primary, an append of this replica's own term while it is
   * primary is a lie (the core would stop on it as a broken invariant).
   */
  private checkAppend(msg: Extract<PeerMessage, { type: 'append' }>): string | undefined {
    const p = this.state.primary;
    if (msg.prevTerm > msg.term) return `append of term ${msg.term} follows an entry of term ${msg.prevTerm}`;
    if (msg.prevIndex === 0 && msg.prevTerm !== 0) return `append at the start of the log names prevTerm ${msg.prevTerm}`;
    if (p.role === 'leader' && msg.term === p.term) return `it claims to be primary in term ${msg.term}, in which this replica is`;
    // The entry at prevIndex, if this replica holds the same one (otherwise the core refuses the append anyway).
    const mine = msg.prevIndex > 0 ? p.log[msg.prevIndex - 1] : undefined;
    let seq: number | undefined = msg.prevIndex === 0 ? 0 : mine && mine.term === msg.prevTerm ? mine.seq : undefined;
    let term = msg.prevTerm;
    for (let i = 0; i < msg.entries.length; i++) {
      const e: ForcedEntry = msg.entries[i]!;
      if (e.index !== msg.prevIndex + 1 + i) return `entry ${i} of an append after index ${msg.prevIndex} has index ${e.index}`;
      if (e.term < term) return `entry ${e.index} has term ${e.term}, below the entry before it (${term})`;
      if (e.term > msg.term) return `entry ${e.index} has term ${e.term}, above the append's term ${msg.term}`;
      if (e.op !== null && orderingOf(e.op) === 'causal') return `entry ${e.index} holds a ${e.op.kind}, which is not sequenced by the primary`;
      const want = seq === undefined ? undefined : seq + (e.op === null ? 0 : 1);
      if (want !== undefined && e.seq !== want) return `entry ${e.index} has sequence number ${e.seq}, expected ${want}`;
      term = e.term;
      seq = e.seq;
    }
    return undefined;
  }

  /** Feeds one input to the core and carries out its effects in order. */
  private run(input: Input): void {
    if (this.dead) return;
    let effects: Effect[];
    try {
      effects = step(this.state, input).effects;
    } catch (e) {
      this.fatal(e, input, 'the replica core threw');
      return;
    }
    for (const e of effects) {
      if (this.dead) return;
      try {
        this.effect(e);
      } catch (err) {
        this.fatal(err, input, `carrying out a ${e.type} effect failed`);
        return;
      }
    }
    this.o.changed?.();
  }

  private fatal(e: unknown, input: Input, what: string): void {
    this.dead = true;
    const err = e instanceof Error ? e : new Error(String(e));
    let shown: string;
    try {
      shown = JSON.stringify(input);
      if (shown.length > 4000) shown = `${shown.slice(0, 4000)}… (${shown.length} chars)`;
    } catch {
      shown = `(${input.type}, not serialisable)`;
    }
    this.o.log.error(`BROKEN INVARIANT in ${this.id}: ${what}: ${err.stack ?? err.message}`);
    this.o.log.error(`BROKEN INVARIANT in ${this.id}: the input was ${shown}`);
    this.failAll('INTERNAL', `${this.id} hit an internal error and stopped serving`);
    this.o.onFatal(err, shown);
  }

  private effect(e: Effect): void {
    switch (e.type) {
      case 'apply': {
        this.storeVersion++;
        const outcome = this.storeRef.apply(e.op, e.version);
        if (outcome) this.keepOutcome(e.uid, outcome);
        return;
      }
      case 'persist': {
        // Before anything else of this step, and also while OFFLINE (see the top of the file).
        const t0 = this.clock();
        this.o.persist?.(e.durable);
        const ms = this.clock() - t0;
        this.counters.persisted++;
        this.counters.persistMsMax = Math.max(this.counters.persistMsMax, Math.round(ms));
        // The write blocks this replica: heartbeats stop meanwhile, and a long one can start an election.
        if (ms > SLOW_PERSIST_MS) this.o.log.warn(`writing the primary's state (${e.durable.log.length} log entries) took ${ms.toFixed(0)} ms`);
        return;
      }
      case 'answer': {
        const p = this.take(e.requestId);
        if (!p) return; // the client went away or was answered OFFLINE meanwhile
        const ack = p.ack as QueryAck;
        try {
          const result = this.storeRef.query(e.query);
          this.counters.answered++;
          ack({ ok: true, valueTS: e.valueTS, result });
        } catch (err) {
          this.counters.queryErrors++;
          if (err instanceof OpError) {
            ack({ ok: false, code: err.code, message: err.message });
          } else {
            // A query that fails does not change the value: report it, keep serving.
            const x = err instanceof Error ? err : new Error(String(err));
            this.o.log.error(`query ${JSON.stringify(e.query)} failed: ${x.stack ?? x.message}`);
            ack({ ok: false, code: 'INTERNAL', message: `internal error while answering a ${e.query.kind} query; see the replica's log` });
          }
        }
        return;
      }
      case 'ack': {
        const p = this.take(e.requestId);
        if (!p) return;
        this.counters.acked++;
        const result = e.forced ? this.outcomeOf(e.uid, e.op) : undefined;
        (p.ack as UpdateAck)(result ? { ok: true, ts: e.ts, uid: e.uid, result } : { ok: true, ts: e.ts, uid: e.uid });
        return;
      }
      case 'fail': {
        const p = this.take(e.requestId);
        if (!p) return;
        this.counters.failed++;
        p.ack(e.leader ? { ok: false, code: e.code, message: e.message, leader: e.leader } : { ok: false, code: e.code, message: e.message });
        return;
      }
      case 'send':
        // Membership changes still reach the core while offline (as in the
        // simulator), but nothing leaves an offline replica.
        if (this.offlineFlag) return;
        this.counters.peerOut++;
        this.o.send(e.to, e.msg);
        return;
      case 'sendSnapshot': {
        if (this.offlineFlag) return;
        // Taken in the same synchronous step as the core's part, so the two agree.
        const overlay = this.storeRef.exportOverlay();
        this.counters.snapshotsSent++;
        this.counters.peerOut++;
        this.o.log.info(`sending a snapshot to ${e.to}: ${e.snapshot.log.length} log records, ${overlay.ratings.length} rating rows, ${overlay.movies.length} added movies, ${overlay.forgotten.length} forgotten users`);
        this.o.send(e.to, { type: 'snapshot', snapshot: e.snapshot, overlay });
        return;
      }
      case 'installSnapshot': {
        const t0 = this.clock();
        if (this.storeVersion === 0) {
          // Nothing written since the data file was loaded: the store already is the base state.
          this.storeRef.importOverlay(e.overlay);
        } else {
          const old = this.storeRef;
          const fresh = this.o.freshStore();
          fresh.importOverlay(e.overlay);
          this.storeRef = fresh;
          closeStore(old);
        }
        this.storeVersion++;
        this.lastResetMs = this.clock() - t0;
        this.o.log.info(
          `installed a snapshot: store reset to the data file and ${e.overlay.ratings.length} rating rows, ${e.overlay.movies.length} added movies, ${e.overlay.forgotten.length} forgotten users imported in ${this.lastResetMs.toFixed(0)} ms`,
        );
        return;
      }
      case 'event':
        this.onEvent(e.event);
        return;
    }
  }

  private keepOutcome(uid: UpdateId, outcome: ApplyOutcome): void {
    this.outcomes.delete(uid);
    this.outcomes.set(uid, outcome);
    if (this.outcomes.size > (this.o.outcomesKept ?? OUTCOMES_KEPT)) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  /** What applying forced update `uid` did: as kept when applied here, else worked out from the store (outcome.ts). */
  private outcomeOf(uid: UpdateId, op: Update | undefined): ApplyOutcome | undefined {
    const kept = this.outcomes.get(uid);
    if (kept) return kept;
    this.counters.outcomeMissing++;
    return outcomeFromStore(this.storeRef, op ?? this.opOf(uid));
  }

  /** The op of a forced update, from the primary's log or the gossip log. */
  private opOf(uid: UpdateId): Update | undefined {
    const e = entryOf(this.state.primary, uid);
    if (e?.op) return e.op;
    for (const k of this.state.copiesByUid.get(uid) ?? []) {
      const rec = this.state.log.get(k)?.rec;
      if (rec) return rec.op;
    }
    return undefined;
  }

  private onEvent(ev: CoreEvent): void {
    const at = Date.now();
    const rm = this.id;
    let out: RmTraceEvent | undefined;
    switch (ev.kind) {
      case 'gossipSent':
        this.counters.gossipSent++;
        out = { kind: 'gossipSent', rm, to: ev.to, records: ev.records, at };
        break;
      case 'gossipReceived':
        this.counters.gossipReceived++;
        this.lastGossipAt = at;
        out = { kind: 'gossipReceived', rm, from: ev.from, records: ev.records, kept: ev.kept, at };
        break;
      case 'pullSent':
        this.counters.pullsSent++;
        out = { kind: 'pullSent', rm, to: ev.to, missing: ev.missing, at };
        break;
      case 'applied':
        this.counters.applied++;
        out = { kind: 'applied', rm, uid: ev.uid, at };
        break;
      case 'snapshotInstalled':
        this.counters.snapshotsInstalled++;
        out = { kind: 'snapshotInstalled', rm, from: ev.from, at };
        break;
      case 'collected':
        this.counters.collected += ev.records;
        break;
      case 'recruited':
        this.counters.recruited++;
        break;
      case 'elected':
        this.counters.elected++;
        this.o.log.info(`elected primary for term ${ev.term} (voters ${this.state.primary.voters.join(', ')}; forced log of ${this.state.primary.log.length} entries)`);
        out = { kind: 'elected', rm, term: ev.term, at };
        break;
      case 'committed':
        this.counters.committed++;
        out = { kind: 'committed', rm, seq: ev.seq, uid: ev.uid, at };
        break;
    }
    if (out) this.o.trace?.(out);
  }
}

function closeStore(s: MovieStore): void {
  const c = (s as { close?: unknown }).close;
  if (typeof c === 'function') (c as () => void).call(s);
}
