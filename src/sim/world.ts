/**
 * A seeded, in-process cluster: replica managers (the real pure core on
 * in-memory stores), front ends (the real pure FE core), clients, a
 * simulated naming service, and a network that one seed controls: delay and
 * reordering, loss, duplication, partitions, isolation, crashes with memory
 * loss and restarts, and random statuses.
 *
 * One seed decides everything, so a failing seed replays exactly.
 */
import { makeReplicaId, type MovieId, type ReplicaId, type RequestId, type UpdateId, type UserId } from '../core/ids.js';
import { OpError, orderingOf, type ApplyOutcome, type Query, type QueryResult, type Update, type Version } from '../core/ops.js';
import { rngFromState, seedFrom, type Rng } from '../core/rng.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import { createFrontend, feStep, type ClientReply, type FeEffect, type FeInput, type FeState, type ReplicaStatus } from '../frontend/core.js';
import { createReplica, recordKey, type CoreConfig, type ReplicaState } from '../replica/core/state.js';
import { step } from '../replica/core/step.js';
import type { Effect, Input, PeerMessage } from '../replica/core/types.js';
import { FORCED, type Durable } from '../replica/core/primary.js';
import { outcomeFromStore } from '../replica/outcome.js';
import { MemoryStore, type SeedMovie, type SeedRating } from '../replica/store/memory-store.js';
import { SessionChecker, type Violation } from './checker.js';
import { EventQueue } from './queue.js';

export interface SimOptions {
  readonly seed: number;
  /** Replica managers; default 3 to 9, from the seed. */
  readonly replicas?: number;
  readonly frontends?: number;
  readonly clients?: number;
  /** Length of the phase with faults and client load (simulated ms). */
  readonly faultMs?: number;
  /** Time allowed to converge once everything is healed (simulated ms). */
  readonly healMs?: number;
  /** Set false for a fault-free run (a baseline). */
  readonly faults?: boolean;
  /**
   * Breaks the clients on purpose, to show the checker catches it: with
   * 'forget-session' a client sends an empty prev instead of its session
   * timestamp, so nothing guarantees its session any more. With 'lose-disk'
   * a crashed replica loses the primary's durable state too (term, vote,
   * log), which Raft's safety argument forbids.
   */
  readonly sabotage?: 'forget-session' | 'lose-disk' | undefined;
  /** Receives a line per notable event, for replaying a seed. */
  readonly trace?: ((line: string) => void) | undefined;
}

export interface SimStats {
  replicas: number;
  ops: number;
  updatesAcked: number;
  singleCopyAcks: number;
  failedRequests: number;
  crashes: number;
  isolations: number;
  partitions: number;
  statusChanges: number;
  messages: number;
  dropped: number;
  duplicated: number;
  snapshots: number;
  recruits: number;
  /** Forced (addMovie) and immediate (forgetUser) updates acknowledged. */
  forcedAcked: number;
  immediateAcked: number;
  /** Primaries elected, and crashes of the replica that was primary. */
  elections: number;
  primaryCrashes: number;
  maxLogAfterGc: number;
  convergeMs: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly stats: SimStats;
}

const CORE: CoreConfig = {
  gossipIntervalMs: 50,
  gossipFanout: 1,
  gossipMaxRecords: 8,
  queryHoldMs: 1500,
  pullRetryMs: 100,
  bindTimeoutMs: 300,
  snapshotRetryMs: 300,
  dedupWindowMs: 600_000,
  primaryHeartbeatMs: 40,
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  cutTimeoutMs: 100,
  // Small, so a lagging follower's catch-up needs several appends.
  appendMaxEntries: 4,
};
/** The front end gives up on a forced update after this long (then the client may retry with the same uid). */
const FORCED_DEADLINE_MS = 1500;
const LEASE_MS = 400;
const TICK_MS = 10;
const RM_TIMEOUT_MS = 250;

type Addr = string;
type Body =
  | { kind: 'rm'; input: Input }
  | { kind: 'fe'; input: FeInput }
  | { kind: 'client'; requestId: RequestId; reply: ClientReply };

type Ev =
  | { k: 'msg'; from: Addr; to: Addr; body: Body }
  | { k: 'tick'; node: Addr }
  | { k: 'client'; name: string }
  | { k: 'final'; name: string }
  | { k: 'fault' }
  | { k: 'restart'; name: string }
  | { k: 'unregister'; id: ReplicaId }
  | { k: 'register'; id: ReplicaId }
  | { k: 'status'; id: ReplicaId; status: ReplicaStatus }
  | { k: 'heal-link'; key: string }
  | { k: 'unisolate'; id: ReplicaId };

interface RmNode {
  readonly id: ReplicaId;
  readonly name: string;
  state: ReplicaState;
  store: MemoryStore;
  applied: Set<UpdateId>;
  /** What forced/immediate updates did when applied here (the driver's cache). */
  outcomes: Map<UpdateId, ApplyOutcome>;
}

interface ClientNode {
  readonly name: string;
  readonly user: UserId;
  prev: VTS;
  busy: boolean;
  seq: number;
  pendingQuery?: Query | undefined;
  pendingUpdate?: { key: string; op: Update } | undefined;
  /** A forced/immediate update in flight, kept so that a failed one can be retried with the same uid. */
  pendingForced?: { uid: UpdateId; op: Update; prev: VTS; issuedAt: number; tries: number } | undefined;
  expectError?: string | undefined;
  stopped: boolean;
  finalDone?: boolean;
}

interface ObservedAnswer {
  readonly result: QueryResult;
  readonly observed: readonly [string, Version][];
  /** The replica's user tombstones (forgotten users) when it answered. */
  readonly forgotten: readonly [number, Version][];
}

export class World {
  readonly rng: Rng;
  readonly queue = new EventQueue<Ev>();
  readonly checker = new SessionChecker();
  readonly violations: Violation[] = [];
  time = 0;
  readonly stats: SimStats;
  private readonly movies: SeedMovie[];
  private readonly ratings: SeedRating[];
  readonly rms = new Map<ReplicaId, RmNode>();
  /** The naming service's view: registered replica incarnations. */
  private readonly registered = new Set<ReplicaId>();
  private readonly status = new Map<ReplicaId, ReplicaStatus>();
  private readonly isolated = new Set<ReplicaId>();
  private readonly cuts = new Set<string>();
  private readonly crashedNames = new Set<string>();
  private readonly fes = new Map<string, FeState>();
  private readonly clients = new Map<string, ClientNode>();
  /** uid → version and row key, captured from the FE's sends (the oracle). */
  private readonly updates = new Map<UpdateId, { version: Version; key: string }>();
  private readonly acked = new Map<UpdateId, { version: Version; key: string }>();
  /** Updates acknowledged with one copy → the replica that holds it. */
  private readonly singleCopy = new Map<UpdateId, ReplicaId>();
  /** uid → the client that issued it. */
  private readonly feClient = new Map<string, string>();
  /** The replicas' disks: the primary's durable state by replica name (survives crashes). */
  private readonly disks = new Map<string, Durable>();
  /** Voter names: the replicas the cluster started with. */
  private readonly voters: string[];
  /** Oracle of forced updates: movie title → id given; id → title. */
  private readonly titleToId = new Map<string, number>();
  private readonly idToTitle = new Map<number, string>();
  /** Acknowledged forgets: user, uid, reply timestamp. */
  private readonly forgets: { user: number; uid: UpdateId; ts: VTS; client: string }[] = [];
  /** Acknowledged ratings with their reply timestamps (for "forgotten means forgotten"). */
  private readonly ratingTs = new Map<UpdateId, VTS>();
  private lastPrimary: string | undefined;
  private epoch = 0;
  private loss: number;
  private dup: number;
  private readonly maxDelay: number;
  private faultsOn: boolean;
  private readonly trace: ((line: string) => void) | undefined;

  constructor(readonly opts: SimOptions) {
    this.rng = rngFromState(seedFrom(`sim:${opts.seed}`));
    this.trace = opts.trace;
    const r = this.rng;
    const nRm = opts.replicas ?? r.int(3, 9);
    this.faultsOn = opts.faults ?? true;
    this.loss = this.faultsOn ? r.next() * 0.1 : 0;
    this.dup = this.faultsOn ? r.next() * 0.05 : 0;
    this.maxDelay = r.int(2, 30);
    this.stats = {
      replicas: nRm,
      ops: 0,
      updatesAcked: 0,
      singleCopyAcks: 0,
      failedRequests: 0,
      crashes: 0,
      isolations: 0,
      partitions: 0,
      statusChanges: 0,
      messages: 0,
      dropped: 0,
      duplicated: 0,
      snapshots: 0,
      recruits: 0,
      forcedAcked: 0,
      immediateAcked: 0,
      elections: 0,
      primaryCrashes: 0,
      maxLogAfterGc: 0,
      convergeMs: -1,
    };
    this.movies = Array.from({ length: 10 }, (_, i) => ({ movieId: i + 1, title: `Movie ${i + 1}`, genres: ['Drama'] }));
    this.ratings = [];
    for (let u = 1; u <= 6; u++) {
      for (let m = 1; m <= 10; m++) if (r.chance(0.3)) this.ratings.push({ userId: u, movieId: m, rating: r.int(1, 10) / 2, timestamp: 1000 + u * 10 + m });
    }
    this.voters = Array.from({ length: nRm }, (_, i) => `rm${i + 1}`);
    const ids = this.voters.map((name) => this.newId(name));
    for (const id of ids) {
      this.registered.add(id);
      this.status.set(id, 'ACTIVE');
      this.addRm(id, ids, true);
    }
    const nFe = opts.frontends ?? 2;
    for (let i = 1; i <= nFe; i++) {
      const name = `fe${i}`;
      const fe = createFrontend(name, { rmRequestTimeoutMs: RM_TIMEOUT_MS, forcedRetryMs: 30, forcedDeadlineMs: FORCED_DEADLINE_MS }, 0, seedFrom(`${opts.seed}:${name}`));
      this.fes.set(name, fe);
      this.runFe(name, { type: 'replicas', list: this.replicaList() });
      this.queue.push(r.int(0, TICK_MS), { k: 'tick', node: name });
    }
    const nCl = opts.clients ?? r.int(3, 8);
    for (let i = 1; i <= nCl; i++) {
      // Clients share user ids so that one user writes from two sessions at once.
      const c: ClientNode = { name: `c${i}`, user: (1 + (i % 3)) as UserId, prev: V.zero(), busy: false, seq: 0, stopped: false };
      this.clients.set(c.name, c);
      this.queue.push(r.int(0, 50), { k: 'client', name: c.name });
    }
    if (this.faultsOn) this.queue.push(r.int(50, 200), { k: 'fault' });
  }

  private log(line: string): void {
    this.trace?.(`${String(this.time).padStart(6)} ${line}`);
  }

  private violate(rule: string, detail: string): void {
    this.violations.push({ time: this.time, rule, detail });
    this.log(`VIOLATION ${rule}: ${detail}`);
  }

  private newId(name: string): ReplicaId {
    return makeReplicaId(name, `e${this.epoch++}`);
  }

  private addRm(id: ReplicaId, peers: readonly ReplicaId[], fresh: boolean): void {
    const name = id.slice(0, id.lastIndexOf('.'));
    const durable = this.disks.get(name);
    const state = createReplica({ id, config: CORE, now: this.time, seed: seedFrom(`${this.opts.seed}:${id}`), peers, fresh, voters: this.voters, durable: durable && structuredClone(durable) });
    this.rms.set(id, { id, name, state, store: new MemoryStore(this.movies, this.ratings), applied: new Set(), outcomes: new Map() });
    this.queue.push(this.time + this.rng.int(1, TICK_MS), { k: 'tick', node: id });
  }

  /** What naming shows: registered incarnations, their status and (from their meta) their part in electing the primary. */
  private replicaList(): { id: ReplicaId; status: ReplicaStatus; primary?: { role: 'leader' | 'follower' | 'candidate'; term: number; leader: ReplicaId | null; commit: number } }[] {
    return [...this.registered].sort().map((id) => {
      const p = this.rms.get(id)?.state.primary;
      return { id, status: this.status.get(id) ?? 'ACTIVE', ...(p ? { primary: { role: p.role, term: p.term, leader: p.leader, commit: p.commit } } : {}) };
    });
  }

  // -------------------------------------------------------------------------
  // Network

  private linkUp(from: Addr, to: Addr): boolean {
    if (this.isolated.has(from as ReplicaId) || this.isolated.has(to as ReplicaId)) return false;
    if (this.cuts.has(`${from}|${to}`)) return false;
    const sOff = this.status.get(from as ReplicaId) === 'OFFLINE' || this.status.get(to as ReplicaId) === 'OFFLINE';
    return !sOff;
  }

  private send(from: Addr, to: Addr, body: Body): void {
    this.stats.messages++;
    // Client ↔ front end runs in one process in the real system too; it is never lossy here.
    const lossy = body.kind !== 'client' && !(body.kind === 'fe' && body.input.type !== 'rmReply');
    if (lossy && (!this.linkUp(from, to) || this.rng.chance(this.loss))) {
      this.stats.dropped++;
      return;
    }
    const delay = lossy ? this.rng.int(1, this.maxDelay) : 1;
    this.queue.push(this.time + delay, { k: 'msg', from, to, body });
    if (lossy && this.rng.chance(this.dup)) {
      this.stats.duplicated++;
      this.queue.push(this.time + this.rng.int(1, this.maxDelay * 2), { k: 'msg', from, to, body });
    }
  }

  // -------------------------------------------------------------------------
  // Replica driver: carries out the core's effects on the store and network.

  private runRm(node: RmNode, input: Input): void {
    const p = node.state.primary;
    const before = `${p.role}/${p.term}/${p.leader}`;
    let effects: Effect[];
    try {
      effects = step(node.state, input).effects;
    } catch (err) {
      // A broken invariant: the real replica exits (code 70) and is restarted.
      this.violate('no broken invariant', `${node.id}: ${err instanceof Error ? err.message : String(err)}`);
      this.crash(node);
      return;
    }
    this.stats.maxLogAfterGc = Math.max(this.stats.maxLogAfterGc, node.state.log.size);
    for (const e of effects) this.rmEffect(node, e);
    // A replica publishes its part in the election in its naming meta.
    if (`${p.role}/${p.term}/${p.leader}` !== before && this.registered.has(node.id)) this.broadcastReplicas();
  }

  private rmEffect(node: RmNode, e: Effect): void {
    switch (e.type) {
      case 'apply': {
        if (node.applied.has(e.uid)) this.violate('applied once', `${node.id} applied ${e.uid} twice`);
        node.applied.add(e.uid);
        const outcome = node.store.apply(e.op, e.version);
        if (outcome) node.outcomes.set(e.uid, outcome);
        return;
      }
      case 'persist':
        // Stable storage: written before anything of this step leaves the replica.
        this.disks.set(node.name, structuredClone(e.durable));
        return;
      case 'answer': {
        let body: FeInput;
        try {
          const result = node.store.query(e.query);
          const forgotten = node.store.exportOverlay().forgotten.map((f) => [f.userId as number, { order: f.order, uid: f.uid }] as [number, Version]);
          const observed: ObservedAnswer = { result, observed: [...node.store.versionsReadBy(e.query)], forgotten };
          body = { type: 'rmReply', rmRequestId: e.requestId, rm: node.id, reply: { ok: true, valueTS: e.valueTS, result: observed } };
        } catch (err) {
          if (!(err instanceof OpError)) throw err;
          body = { type: 'rmReply', rmRequestId: e.requestId, rm: node.id, reply: { ok: false, code: err.code, message: err.message } };
        }
        this.send(node.id, e.to, { kind: 'fe', input: body });
        return;
      }
      case 'ack': {
        const result = e.forced ? (node.outcomes.get(e.uid) ?? outcomeFromStore(node.store, e.op)) : undefined;
        this.send(node.id, e.to, { kind: 'fe', input: { type: 'rmReply', rmRequestId: e.requestId, rm: node.id, reply: { ok: true, ts: e.ts, uid: e.uid, ...(result ? { result } : {}) } } });
        return;
      }
      case 'fail':
        this.send(node.id, e.to, {
          kind: 'fe',
          input: { type: 'rmReply', rmRequestId: e.requestId, rm: node.id, reply: { ok: false, code: e.code, message: e.message, ...(e.leader ? { leader: e.leader } : {}) } },
        });
        return;
      case 'send':
        this.send(node.id, e.to, { kind: 'rm', input: { type: 'peer', from: node.id, msg: e.msg } });
        return;
      case 'sendSnapshot': {
        const msg: PeerMessage = { type: 'snapshot', snapshot: e.snapshot, overlay: node.store.exportOverlay() };
        this.stats.snapshots++;
        this.send(node.id, e.to, { kind: 'rm', input: { type: 'peer', from: node.id, msg } });
        return;
      }
      case 'installSnapshot':
        node.store = new MemoryStore(this.movies, this.ratings);
        node.store.importOverlay(e.overlay);
        node.applied = new Set();
        this.log(`${node.id} installed a snapshot (${e.overlay.ratings.length} rows)`);
        return;
      case 'event':
        if (e.event.kind === 'recruited') this.stats.recruits++;
        if (e.event.kind === 'elected') {
          this.stats.elections++;
          this.log(`${node.id} elected primary for term ${e.event.term}`);
        }
        return;
    }
  }

  /** A front end or client request reaching a replica: the driver validates what needs the data. */
  private deliverToRm(node: RmNode, from: Addr, input: Input): void {
    if (input.type === 'update' && (input.op.kind === 'rate' || input.op.kind === 'delete') && !node.store.hasMovie(input.op.movieId)) {
      this.send(node.id, from, {
        kind: 'fe',
        input: { type: 'rmReply', rmRequestId: input.requestId, rm: node.id, reply: { ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie with id ${input.op.movieId}` } },
      });
      return;
    }
    this.runRm(node, input);
  }

  // -------------------------------------------------------------------------
  // Front end driver

  private runFe(name: string, input: FeInput): void {
    const fe = this.fes.get(name)!;
    for (const e of feStep(fe, input)) this.feEffect(name, e);
  }

  private feEffect(name: string, e: FeEffect): void {
    switch (e.type) {
      case 'sendQuery':
        this.send(name, e.rm, { kind: 'rm', input: { type: 'query', from: name, requestId: e.rmRequestId as RequestId, prev: e.prev, query: e.query } });
        return;
      case 'sendUpdate': {
        if (e.op.kind !== 'rate' && e.op.kind !== 'delete') {
          this.send(name, e.rm, {
            kind: 'rm',
            input: { type: 'update', from: name, requestId: e.rmRequestId as RequestId, uid: e.uid, prev: e.prev, op: e.op, issuedAt: e.issuedAt, copies: e.copies },
          });
          return;
        }
        const key = `${e.op.userId}:${e.op.movieId}`;
        const version: Version = { order: V.sum(e.prev), uid: e.uid };
        const seen = this.updates.get(e.uid);
        if (seen && (seen.version.order !== version.order || seen.key !== key)) this.violate('same prev for every copy', `${e.uid} sent with two prevs`);
        if (!seen) this.checker.issued(this.feClient.get(e.uid) ?? '', e.uid);
        this.updates.set(e.uid, { version, key });
        this.send(name, e.rm, {
          kind: 'rm',
          input: { type: 'update', from: name, requestId: e.rmRequestId as RequestId, uid: e.uid, prev: e.prev, op: e.op, issuedAt: e.issuedAt, copies: e.copies },
        });
        return;
      }
      case 'reply':
        this.send(name, e.to, { kind: 'client', requestId: e.requestId, reply: e.reply });
        return;
      case 'chose':
        return;
    }
  }

  // -------------------------------------------------------------------------
  // Clients

  private sessionPrev(c: ClientNode): VTS {
    return this.opts.sabotage === 'forget-session' ? V.zero() : c.prev;
  }

  private clientAct(c: ClientNode): void {
    if (c.busy || c.stopped) return;
    const r = this.rng;
    const requestId = `${c.name}:${++c.seq}` as RequestId;
    const fe = r.pick([...this.fes.keys()].sort());
    const movie = r.int(1, 6) as MovieId;
    const ts = 1_000_000 + this.stats.ops;
    this.stats.ops++;
    c.busy = true;
    c.expectError = undefined;
    c.pendingForced = undefined;
    const roll = r.next();
    if (roll < 0.06) {
      // Forced: add a movie (now and then one whose title exists already).
      const known = [...this.titleToId.keys()].sort();
      const title = known.length > 0 && r.chance(0.2) ? r.pick(known) : `Film ${c.name}.${c.seq} (2001)`;
      this.sendForced(c, fe, requestId, { kind: 'addMovie', title, genres: ['Drama'] });
      return;
    }
    if (roll < 0.08) {
      // Immediate: forget a user (usually one whose sessions are writing right now).
      this.sendForced(c, fe, requestId, { kind: 'forgetUser', userId: (r.chance(0.8) ? c.user : r.int(1, 6)) as UserId });
      return;
    }
    if (roll < 0.4) {
      const del = roll < 0.1;
      const op: Update = del
        ? { kind: 'delete', userId: c.user, movieId: movie, timestamp: ts }
        : { kind: 'rate', userId: c.user, movieId: movie, rating: r.int(1, 10) / 2, timestamp: ts };
      c.pendingUpdate = { key: `${c.user}:${movie}`, op };
      c.pendingQuery = undefined;
      this.log(`${c.name} → ${fe} ${op.kind} ${op.userId}:${op.movieId} prev ${V.format(c.prev)}`);
      // Like the real client session, the client names its update, so a retry can never apply twice.
      const uid = `${c.name}:${c.seq}` as UpdateId;
      this.feClient.set(uid, c.name);
      this.send(c.name, fe, { kind: 'fe', input: { type: 'clientUpdate', from: c.name, requestId, prev: this.sessionPrev(c), op, uid, issuedAt: this.time } });
      return;
    }
    let query: Query;
    if (roll < 0.65) query = { kind: 'get', userId: (r.chance(0.7) ? c.user : r.int(1, 6)) as UserId, movieId: movie };
    else if (roll < 0.8) query = { kind: 'mine', userId: c.user };
    else if (roll < 0.95) query = { kind: 'avg', movieId: movie };
    else {
      // Bad input must fail with the right error and change nothing.
      const bad = r.chance(0.5);
      const op: Update = bad
        ? { kind: 'rate', userId: c.user, movieId: movie, rating: 4.3, timestamp: ts }
        : { kind: 'rate', userId: c.user, movieId: 999 as MovieId, rating: 3, timestamp: ts };
      c.expectError = bad ? 'BAD_RATING' : 'UNKNOWN_MOVIE';
      c.pendingUpdate = undefined;
      c.pendingQuery = undefined;
      this.send(c.name, fe, { kind: 'fe', input: { type: 'clientUpdate', from: c.name, requestId, prev: c.prev, op, issuedAt: this.time } });
      return;
    }
    c.pendingQuery = query;
    c.pendingUpdate = undefined;
    this.log(`${c.name} → ${fe} ${query.kind} prev ${V.format(c.prev)}`);
    this.send(c.name, fe, { kind: 'fe', input: { type: 'clientQuery', from: c.name, requestId, prev: this.sessionPrev(c), query } });
  }

  /** Like the real client session: the client names the update, and retries a failed one with the same uid and prev. */
  private sendForced(c: ClientNode, fe: string, requestId: RequestId, op: Update): void {
    const uid = `${c.name}:${c.seq}` as UpdateId;
    c.pendingForced = { uid, op, prev: this.sessionPrev(c), issuedAt: this.time, tries: 1 };
    c.pendingQuery = undefined;
    c.pendingUpdate = undefined;
    this.log(`${c.name} → ${fe} ${op.kind} ${op.kind === 'addMovie' ? op.title : op.kind === 'forgetUser' ? op.userId : ''} uid ${uid}`);
    this.send(c.name, fe, { kind: 'fe', input: { type: 'clientUpdate', from: c.name, requestId, prev: c.pendingForced.prev, op, uid, issuedAt: this.time } });
  }

  private forcedReply(c: ClientNode, reply: ClientReply): void {
    const f = c.pendingForced!;
    if (!reply.ok) {
      this.stats.failedRequests++;
      this.log(`${c.name} ← ${f.op.kind} error ${reply.code}: ${reply.message}`);
      if (f.tries < 4 && (reply.code === 'NO_PRIMARY' || reply.code === 'UNAVAILABLE' || reply.code === 'TIMEOUT')) {
        f.tries++;
        c.busy = true;
        const fe = this.rng.pick([...this.fes.keys()].sort());
        const requestId = `${c.name}:${++c.seq}` as RequestId;
        this.send(c.name, fe, { kind: 'fe', input: { type: 'clientUpdate', from: c.name, requestId, prev: f.prev, op: f.op, uid: f.uid, issuedAt: f.issuedAt } });
        return;
      }
      c.pendingForced = undefined;
      return;
    }
    if (reply.kind !== 'update') return;
    const seq = V.get(reply.ts, FORCED);
    if (seq < 1) this.violate('forced updates are sequenced', `${f.uid} acknowledged without a forced sequence number: ${V.format(reply.ts)}`);
    if (f.op.kind === 'addMovie') {
      this.stats.forcedAcked++;
      const res = reply.result;
      if (!res || res.kind !== 'addMovie') {
        this.violate('forced updates report their outcome', `${f.uid} acknowledged without the new movie's id`);
      } else {
        const title = f.op.title;
        const known = this.titleToId.get(title);
        const owner = this.idToTitle.get(res.movieId);
        if (known !== undefined && known !== res.movieId) this.violate('one id per movie', `"${title}" got id ${res.movieId}, and ${known} before`);
        if (owner !== undefined && owner !== title) this.violate('no two movies get the same id', `id ${res.movieId} given to "${title}" and to "${owner}"`);
        this.titleToId.set(title, res.movieId);
        this.idToTitle.set(res.movieId, title);
        this.log(`${c.name} ← added "${title}" as ${res.movieId} (forced #${seq}${res.existed ? ', existed' : ''})`);
      }
    } else if (f.op.kind === 'forgetUser') {
      this.stats.immediateAcked++;
      this.forgets.push({ user: f.op.userId, uid: f.uid, ts: reply.ts, client: c.name });
      this.checker.forgot(c.name, f.op.userId, { order: V.sum(reply.ts) - 1, uid: f.uid });
      this.log(`${c.name} ← forgot user ${f.op.userId} (immediate #${seq}) ts ${V.format(reply.ts)}`);
    }
    c.pendingForced = undefined;
  }

  private clientReply(c: ClientNode, reply: ClientReply): void {
    c.busy = false;
    if (c.pendingForced) {
      this.forcedReply(c, reply);
      if (reply.ok) {
        if (!V.leq(c.prev, reply.ts)) this.violate('session timestamps only grow', `${c.name} got ts ${V.format(reply.ts)} below its prev ${V.format(c.prev)}`);
        c.prev = V.merge(c.prev, reply.ts);
      }
      if (c.busy) return; // retrying
      if (!c.stopped) this.queue.push(this.time + this.rng.int(1, 40), { k: 'client', name: c.name });
      return;
    }
    if (c.expectError) {
      if (reply.ok || (reply.code !== c.expectError && reply.code !== 'UNAVAILABLE')) {
        this.violate('bad input is refused', `${c.name} expected ${c.expectError}, got ${reply.ok ? 'ok' : reply.code}`);
      }
    } else if (!reply.ok) {
      this.stats.failedRequests++;
      this.log(`${c.name} ← error ${reply.code}: ${reply.message}`);
    } else if (reply.kind === 'update') {
      const u = this.updates.get(reply.uid);
      if (!u) throw new Error(`ack for unknown uid ${reply.uid}`);
      this.stats.updatesAcked++;
      if (reply.servedBy.length < 2) {
        this.stats.singleCopyAcks++;
        this.singleCopy.set(reply.uid, reply.servedBy[0]!);
      }
      this.acked.set(reply.uid, u);
      this.ratingTs.set(reply.uid, reply.ts);
      this.checker.wrote(this.time, c.name, u.key, u.version);
      this.log(`${c.name} ← ack ${reply.uid} by ${reply.servedBy.join(',')} ts ${V.format(reply.ts)}`);
    } else if (c.pendingQuery) {
      const ans = reply.result as ObservedAnswer;
      this.checker.read(this.time, c.name, reply.servedBy.join(','), c.pendingQuery, new Map(ans.observed), new Map(ans.forgotten));
      if (c.finalDone === false) c.finalDone = true;
      this.log(`${c.name} ← ${c.pendingQuery.kind} from ${reply.servedBy[0]} valueTS ${V.format(reply.valueTS)}`);
    }
    if (reply.ok) {
      if (!V.leq(c.prev, reply.ts)) this.violate('session timestamps only grow', `${c.name} got ts ${V.format(reply.ts)} below its prev ${V.format(c.prev)}`);
      c.prev = V.merge(c.prev, reply.ts);
    }
    if (!c.stopped) this.queue.push(this.time + this.rng.int(1, 40), { k: 'client', name: c.name });
    else if (!reply.ok && c.pendingQuery && c.finalDone === false) this.queue.push(this.time + 50, { k: 'final', name: c.name });
  }

  private sendFinalRead(c: ClientNode): void {
    c.busy = true;
    c.pendingQuery = { kind: 'mine', userId: c.user };
    c.expectError = undefined;
    const fe = [...this.fes.keys()].sort()[++c.seq % this.fes.size]!;
    this.send(c.name, fe, { kind: 'fe', input: { type: 'clientQuery', from: c.name, requestId: `${c.name}:${c.seq}` as RequestId, prev: c.prev, query: c.pendingQuery } });
  }

  // -------------------------------------------------------------------------
  // Faults

  /** Replicas currently able to serve (not crashed, isolated, offline or recovering). */
  private upReplicas(): RmNode[] {
    return [...this.rms.values()].filter((n) => !this.isolated.has(n.id) && this.status.get(n.id) !== 'OFFLINE' && n.state.phase === 'serving');
  }

  /**
   * The model tolerates one failure: never take down a replica that is the
   * only one up holding an update (acknowledged, or logged and perhaps about
   * to be acknowledged with a single copy).
   */
  private safeToLose(victim: RmNode): boolean {
    const others = this.upReplicas().filter((n) => n.id !== victim.id);
    if (others.length < 2) return false;
    // Forced records need no protecting here: a majority holds them on disk.
    const forced = (uid: UpdateId) => [...(victim.state.copiesByUid.get(uid) ?? [])].some((k) => k.startsWith(`${FORCED}#`));
    const heldElsewhere = (uid: UpdateId) => forced(uid) || others.some((n) => n.state.copiesByUid.has(uid) || n.state.executed.has(uid));
    for (const uid of this.acked.keys()) if (!heldElsewhere(uid)) return false;
    for (const uid of victim.state.copiesByUid.keys()) if (!heldElsewhere(uid)) return false;
    // A session relies on the copies its front end got acknowledgements from. While
    // an update is still in flight, or after it was acknowledged by a single
    // replica (the reply warns of it), losing that replica would be a second
    // failure for that session, beyond what the model tolerates.
    for (const fe of this.fes.values()) {
      for (const p of fe.pending.values()) if (p.acks.has(victim.id)) return false;
    }
    for (const [uid, holder] of this.singleCopy) {
      if (holder !== victim.id) continue;
      // Safe again once the holder's own copy (the one the session's timestamp names) has reached another replica.
      const counter = V.get(victim.state.ownCopy.get(uid) ?? V.zero(), holder);
      if (counter === 0 || !others.some((n) => V.get(n.state.replicaTS, holder) >= counter)) return false;
    }
    return true;
  }

  private injectFault(): void {
    const r = this.rng;
    const roll = r.next();
    const nodes = [...this.rms.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const primary = nodes.find((n) => n.state.primary.role === 'leader');
    // Now and then the fault hits the primary, to fail over while forced updates are in flight.
    const victim = primary && r.chance(0.3) ? primary : r.pick(nodes);
    if (roll < 0.25) {
      if (!this.safeToLose(victim)) return;
      this.crash(victim);
    } else if (roll < 0.45) {
      if (!this.safeToLose(victim) || this.isolated.size > 0) return;
      this.stats.isolations++;
      this.isolated.add(victim.id);
      const ms = r.int(100, 1200);
      this.log(`FAULT isolate ${victim.id} for ${ms} ms`);
      if (ms > LEASE_MS) this.queue.push(this.time + LEASE_MS, { k: 'unregister', id: victim.id });
      this.queue.push(this.time + ms, { k: 'unisolate', id: victim.id });
    } else if (roll < 0.65) {
      const ids = nodes.map((n) => n.id);
      const side = new Set(ids.filter(() => r.chance(0.5)));
      const ms = r.int(50, 600);
      this.stats.partitions++;
      this.log(`FAULT partition {${[...side].join(',')}} for ${ms} ms`);
      for (const a of ids) {
        for (const b of ids) {
          if (side.has(a) !== side.has(b)) {
            const key = `${a}|${b}`;
            this.cuts.add(key);
            this.queue.push(this.time + ms, { k: 'heal-link', key });
          }
        }
      }
    } else if (roll < 0.85) {
      const choice: ReplicaStatus = r.pick(['ACTIVE', 'OVERLOADED', 'OFFLINE']);
      if (choice === 'OFFLINE' && !this.safeToLose(victim)) return;
      this.setStatus(victim.id, choice);
      if (choice !== 'ACTIVE') this.queue.push(this.time + r.int(50, 500), { k: 'status', id: victim.id, status: 'ACTIVE' });
    }
  }

  private crash(victim: RmNode): void {
    this.stats.crashes++;
    if (victim.state.primary.role === 'leader') this.stats.primaryCrashes++;
    this.log(`FAULT crash ${victim.id} (memory lost)`);
    this.rms.delete(victim.id);
    this.crashedNames.add(victim.name);
    if (this.opts.sabotage === 'lose-disk') this.disks.delete(victim.name);
    this.queue.push(this.time + LEASE_MS, { k: 'unregister', id: victim.id });
    this.queue.push(this.time + this.rng.int(LEASE_MS, LEASE_MS * 3), { k: 'restart', name: victim.name });
  }

  private setStatus(id: ReplicaId, status: ReplicaStatus): void {
    if (!this.rms.has(id)) return;
    this.stats.statusChanges++;
    this.status.set(id, status);
    this.log(`status ${id} ${status}`);
    this.broadcastReplicas();
  }

  private broadcastReplicas(): void {
    for (const fe of this.fes.keys()) this.runFe(fe, { type: 'replicas', list: this.replicaList() });
  }

  private register(id: ReplicaId): void {
    const node = this.rms.get(id);
    if (!node) return;
    if (!this.registered.has(id)) {
      this.registered.add(id);
      for (const n of this.rms.values()) if (n.id !== id && !this.isolated.has(n.id)) this.runRm(n, { type: 'peerJoined', id });
    }
    // The (re)joining replica learns the current membership (it may have missed changes while cut off).
    for (const other of this.registered) if (other !== id && !node.state.members.has(other)) this.runRm(node, { type: 'peerJoined', id: other });
    for (const m of [...node.state.members]) if (!this.registered.has(m)) this.runRm(node, { type: 'peerLeft', id: m });
    this.broadcastReplicas();
  }

  private unregister(id: ReplicaId): void {
    if (!this.registered.delete(id)) return;
    this.log(`naming: ${id} left`);
    for (const n of this.rms.values()) if (n.id !== id && !this.isolated.has(n.id)) this.runRm(n, { type: 'peerLeft', id });
    this.broadcastReplicas();
  }

  // -------------------------------------------------------------------------
  // Main loop

  private handle(ev: Ev): void {
    switch (ev.k) {
      case 'msg': {
        const b = ev.body;
        if (b.kind === 'rm') {
          const node = this.rms.get(ev.to as ReplicaId);
          if (!node || !this.linkUp(ev.from, ev.to)) return;
          if (b.input.type === 'peer') this.runRm(node, b.input);
          else this.deliverToRm(node, ev.from, b.input);
        } else if (b.kind === 'fe') {
          if (this.fes.has(ev.to)) this.runFe(ev.to, b.input);
        } else {
          const c = this.clients.get(ev.to);
          if (c) this.clientReply(c, b.reply);
        }
        return;
      }
      case 'tick': {
        const node = this.rms.get(ev.node as ReplicaId);
        if (node) {
          if (!this.isolated.has(node.id) && this.status.get(node.id) !== 'OFFLINE') this.runRm(node, { type: 'tick', now: this.time });
          this.queue.push(this.time + TICK_MS, ev);
        } else if (this.fes.has(ev.node)) {
          this.runFe(ev.node, { type: 'tick', now: this.time });
          this.queue.push(this.time + TICK_MS, ev);
        }
        return;
      }
      case 'client': {
        const c = this.clients.get(ev.name)!;
        this.clientAct(c);
        return;
      }
      case 'final':
        this.sendFinalRead(this.clients.get(ev.name)!);
        return;
      case 'fault':
        if (!this.faultsOn) return;
        this.injectFault();
        this.queue.push(this.time + this.rng.int(30, 250), { k: 'fault' });
        return;
      case 'restart': {
        if (!this.crashedNames.delete(ev.name)) return;
        const id = this.newId(ev.name);
        this.log(`restart ${ev.name} as ${id}`);
        this.status.set(id, 'ACTIVE');
        this.addRm(id, [...this.registered].filter((p) => this.rms.has(p)), false);
        this.queue.push(this.time + 5, { k: 'register', id });
        return;
      }
      case 'register':
        this.register(ev.id);
        return;
      case 'unregister':
        // An isolated replica that is back before its lease ran out never left.
        if (this.rms.has(ev.id) && !this.isolated.has(ev.id)) return;
        this.unregister(ev.id);
        return;
      case 'status':
        this.setStatus(ev.id, ev.status);
        return;
      case 'heal-link':
        this.cuts.delete(ev.key);
        return;
      case 'unisolate':
        if (!this.isolated.delete(ev.id)) return;
        this.log(`heal isolation of ${ev.id}`);
        if (this.rms.has(ev.id)) this.register(ev.id);
        return;
    }
  }

  private runUntil(t: number, stop?: () => boolean): boolean {
    for (;;) {
      if (stop?.()) return true;
      const next = this.queue.pop();
      if (!next) return false;
      if (next.time > t) {
        this.queue.push(next.time, next.ev);
        this.time = t;
        return false;
      }
      this.time = next.time;
      this.handle(next.ev);
    }
  }

  /** Ends every fault: links healed, everyone online, crashed replicas restarted, no loss. */
  private healAll(): void {
    this.faultsOn = false;
    this.loss = 0;
    this.dup = 0;
    this.cuts.clear();
    for (const id of [...this.isolated]) this.handle({ k: 'unisolate', id });
    for (const id of this.rms.keys()) if (this.status.get(id) !== 'ACTIVE') this.setStatus(id, 'ACTIVE');
    for (const name of [...this.crashedNames]) this.handle({ k: 'restart', name });
    for (const id of [...this.registered]) if (!this.rms.has(id)) this.unregister(id);
  }

  private converged(): boolean {
    const nodes = [...this.rms.values()];
    if (nodes.length === 0 || nodes.some((n) => n.state.phase !== 'serving' || !this.registered.has(n.id))) return false;
    if ([...this.registered].some((id) => !this.rms.has(id))) return false;
    const [first, ...rest] = nodes;
    for (const n of nodes) if (n.state.log.size > 0) return false;
    for (const n of rest) {
      if (!V.equals(n.state.valueTS, first!.state.valueTS) || !V.equals(n.state.prefixTS, first!.state.prefixTS)) return false;
    }
    return true;
  }

  run(): SimResult {
    const faultMs = this.opts.faultMs ?? 2500;
    const healMs = this.opts.healMs ?? 6000;
    this.runUntil(faultMs);
    // Heal: stop new client work, let requests in flight finish, end all faults.
    for (const c of this.clients.values()) c.stopped = true;
    this.healAll();
    this.log('HEAL');
    const healStart = this.time;
    const done = this.runUntil(healStart + healMs, () => this.converged() && [...this.clients.values()].every((c) => !c.busy));
    if (!done) {
      const detail = [...this.rms.values()].map((n) => `${n.id}[${n.state.phase}] log ${n.state.log.size} prefix ${V.format(n.state.prefixTS)}${this.explainStuck(n)}`).join('; ');
      this.violate('converges after healing', `not converged ${healMs} ms after healing: ${detail}`);
    } else {
      this.stats.convergeMs = this.time - healStart;
      this.checkConverged();
      this.checkForced();
      this.finalReads();
    }
    for (const v of this.checker.violations) this.violations.push(v);
    return { seed: this.opts.seed, ok: this.violations.length === 0, violations: this.violations, stats: this.stats };
  }

  /** Why the oldest unapplied records of a replica are not applied (for failure reports). */
  private explainStuck(n: RmNode): string {
    const st = n.state;
    // The records right after each node's prefix are what holds the prefix back.
    const stuck = [...new Set([...st.log.values()].map((e) => e.rec.node))]
      .map((node) => recordKey(node, V.get(st.prefixTS, node) + 1))
      .map((key) => [key, st.log.get(key)] as const)
      .filter((x): x is readonly [string, NonNullable<(typeof x)[1]>] => x[1] !== undefined && !x[1].applied)
      .slice(0, 4);
    const unapplied = [...st.log.values()].filter((e) => !e.applied).length;
    const parts = stuck.map(([key, e]) => {
      const lack = V.ahead(st.prefixTS, e.rec.prev).map((k) => `${k}${st.retired.has(k) ? '(retired)' : ''}`);
      const holders = new Set([...(st.copiesByUid.get(e.rec.uid) ?? [])].map((k) => k.split('#')[0]));
      return `${key} uid ${e.rec.uid} lacks [${lack.join(',')}] holders [${[...holders].join(',')}] executed ${st.executed.has(e.rec.uid)}`;
    });
    return ` unapplied ${unapplied} members [${[...st.members].join(',')}] retired [${[...st.retired].join(',')}] table {${[...st.table].map(([p, t]) => `${p}: ${V.format(t)}`).join(' | ')}} ${parts.join(' / ')}`;
  }

  private checkConverged(): void {
    const nodes = [...this.rms.values()];
    const digests = new Set(nodes.map((n) => n.store.digest()));
    if (digests.size !== 1) this.violate('replicas agree', `digests differ: ${nodes.map((n) => `${n.id}=${n.store.digest()}`).join(' ')}`);
    for (const [uid, u] of this.acked) {
      const [user, movie] = u.key.split(':').map(Number) as [number, number];
      for (const n of nodes) {
        // A forget above the update's version legitimately removed it.
        const tomb = n.store.exportOverlay().forgotten.find((f) => f.userId === user);
        const row = n.store.versionOf(user, movie);
        const v = tomb && (!row || tomb.order > row.order || (tomb.order === row.order && tomb.uid > row.uid)) ? { order: tomb.order, uid: tomb.uid } : row;
        if (!v || v.order < u.version.order || (v.order === u.version.order && v.uid < u.version.uid)) {
          this.violate('acknowledged updates survive', `${uid} (${u.key}) missing at ${n.id}`);
          break;
        }
      }
    }
  }

  /**
   * Forced and immediate updates, once everything has healed:
   * - every acknowledged movie is at every replica, under the id its client was given;
   * - no replica holds a rating of a forgotten user that was issued causally
   *   before the forget (its reply timestamp ≤ the forget's).
   */
  private checkForced(): void {
    const nodes = [...this.rms.values()];
    for (const [id, title] of this.idToTitle) {
      for (const n of nodes) {
        let got: string | undefined;
        try {
          const r = n.store.query({ kind: 'movie', movieId: id as MovieId });
          got = r.kind === 'movie' ? r.title : undefined;
        } catch {
          got = undefined;
        }
        if (got !== title) this.violate('acknowledged movies survive under their id', `movie ${id} is "${got ?? 'missing'}" at ${n.id}, its client was told "${title}"`);
      }
    }
    for (const f of this.forgets) {
      for (const [uid, u] of this.acked) {
        const [user, movie] = u.key.split(':').map(Number) as [number, number];
        const ts = this.ratingTs.get(uid);
        if (user !== f.user || !ts || !V.leq(ts, f.ts)) continue;
        for (const n of nodes) {
          const row = n.store.versionOf(user, movie);
          const live = n.store.query({ kind: 'get', userId: user as UserId, movieId: movie as MovieId });
          if (row?.uid === uid && live.kind === 'get' && live.rating !== null) {
            this.violate('forgotten means forgotten', `${n.id} still holds rating ${uid} of user ${user} (movie ${movie}), issued before forget ${f.uid}`);
          }
        }
      }
    }
  }

  /** After convergence every client must be served again, fresh: no session stuck on a dead replica's entries. */
  private finalReads(): void {
    for (const c of this.clients.values()) {
      c.finalDone = false;
      this.sendFinalRead(c);
    }
    const ok = this.runUntil(this.time + 3000, () => [...this.clients.values()].every((c) => c.finalDone));
    if (!ok) {
      const stuck = [...this.clients.values()].filter((c) => !c.finalDone).map((c) => `${c.name} prev ${V.format(c.prev)}`);
      this.violate('sessions stay live', `after healing, reads did not succeed for ${stuck.join('; ')}`);
    }
  }
}

export function runSeed(opts: SimOptions): SimResult {
  return new World(opts).run();
}
