/**
 * Drives pure replica cores by hand, for tests that need an exact schedule:
 * every peer message waits in `wire` until a test delivers (or drops) it.
 */
import { makeReplicaId, type MovieId, type ReplicaId, type RequestId, type UpdateId, type UserId } from '../../src/core/ids.js';
import type { ApplyOutcome, Query, QueryResult, Update } from '../../src/core/ops.js';
import type { Durable } from '../../src/replica/core/primary.js';
import { OpError } from '../../src/core/ops.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import { createReplica, type CoreConfig, type ReplicaState } from '../../src/replica/core/state.js';
import { step } from '../../src/replica/core/step.js';
import type { Effect, Input, PeerMessage } from '../../src/replica/core/types.js';
import { MemoryStore, type SeedMovie, type SeedRating } from '../../src/replica/store/memory-store.js';

export const CONFIG: CoreConfig = {
  gossipIntervalMs: 100,
  gossipFanout: 1,
  gossipMaxRecords: 1000,
  queryHoldMs: 1000,
  pullRetryMs: 100,
  bindTimeoutMs: 300,
  snapshotRetryMs: 300,
  dedupWindowMs: 60_000,
  primaryHeartbeatMs: 50,
  electionTimeoutMinMs: 300,
  electionTimeoutMaxMs: 600,
  cutTimeoutMs: 200,
  appendMaxEntries: 64,
};

export const MOVIES: SeedMovie[] = [1, 2, 3, 4].map((m) => ({ movieId: m, title: `Movie ${m}`, genres: ['Drama'] }));
export const RATINGS: SeedRating[] = [{ userId: 1, movieId: 2, rating: 3, timestamp: 100 }];

export type Reply =
  | { kind: 'answer'; to: string; requestId: string; valueTS: VTS; result: QueryResult | undefined; error?: string }
  | { kind: 'ack'; to: string; requestId: string; uid: UpdateId; ts: VTS; forced?: boolean; result?: ApplyOutcome | undefined }
  | { kind: 'fail'; to: string; requestId: string; code: string; message: string; leader?: ReplicaId | undefined };

export interface Node {
  readonly id: ReplicaId;
  state: ReplicaState;
  store: MemoryStore;
  applies: UpdateId[];
  replies: Reply[];
  events: Effect[];
  /** What this replica's `persist` effects wrote (its disk; survives `restart`). */
  durable?: Durable | undefined;
  /** Outcomes of forced/immediate updates applied here, by uid (as the driver keeps them). */
  outcomes: Map<UpdateId, ApplyOutcome>;
}

export interface Wire {
  from: ReplicaId;
  to: ReplicaId;
  msg: PeerMessage;
}

let reqSeq = 0;

export class Harness {
  readonly nodes = new Map<string, Node>();
  wire: Wire[] = [];
  now = 0;

  readonly config: CoreConfig;

  /** Starts replicas named a, b, c... that know each other. */
  /** Replica names that elect the primary (`voters: true` = all of them). */
  readonly voters: readonly string[];

  constructor(names: string[], opts: { fresh?: boolean; config?: Partial<CoreConfig>; voters?: boolean | string[] } = {}) {
    this.config = { ...CONFIG, ...opts.config };
    this.voters = opts.voters === true ? names : opts.voters || [];
    const ids = names.map((n) => makeReplicaId(n, '0'));
    for (const id of ids) this.add(id, ids, opts.fresh ?? true);
  }

  add(id: ReplicaId, peers: ReplicaId[], fresh: boolean, durable?: Durable): Node {
    const seed = [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    const node: Node = {
      id,
      state: createReplica({ id, config: this.config, now: this.now, seed, peers: peers.filter((p) => p !== id), fresh, voters: this.voters, durable }),
      store: new MemoryStore(MOVIES, RATINGS),
      applies: [],
      replies: [],
      events: [],
      durable,
      outcomes: new Map(),
    };
    this.nodes.set(id.split('.')[0]!, node);
    return node;
  }

  node(name: string): Node {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  id(name: string): ReplicaId {
    return this.node(name).id;
  }

  input(name: string, input: Input): Effect[] {
    const n = this.node(name);
    const { effects } = step(n.state, input);
    for (const e of effects) this.effect(n, e);
    return effects;
  }

  private effect(n: Node, e: Effect): void {
    switch (e.type) {
      case 'apply': {
        n.applies.push(e.uid);
        const outcome = n.store.apply(e.op, e.version);
        if (outcome) n.outcomes.set(e.uid, outcome);
        return;
      }
      case 'persist':
        n.durable = structuredClone(e.durable);
        return;
      case 'answer':
        try {
          n.replies.push({ kind: 'answer', to: e.to, requestId: e.requestId, valueTS: e.valueTS, result: n.store.query(e.query) });
        } catch (err) {
          if (!(err instanceof OpError)) throw err;
          n.replies.push({ kind: 'answer', to: e.to, requestId: e.requestId, valueTS: e.valueTS, result: undefined, error: err.code });
        }
        return;
      case 'ack':
        n.replies.push({ kind: 'ack', to: e.to, requestId: e.requestId, uid: e.uid, ts: e.ts, forced: e.forced ?? false, result: e.forced ? n.outcomes.get(e.uid) : undefined });
        return;
      case 'fail':
        n.replies.push({ kind: 'fail', to: e.to, requestId: e.requestId, code: e.code, message: e.message, leader: e.leader });
        return;
      case 'send':
        this.wire.push({ from: n.id, to: e.to, msg: e.msg });
        return;
      case 'sendSnapshot':
        this.wire.push({ from: n.id, to: e.to, msg: { type: 'snapshot', snapshot: e.snapshot, overlay: n.store.exportOverlay() } });
        return;
      case 'installSnapshot':
        n.store = new MemoryStore(MOVIES, RATINGS);
        n.store.importOverlay(e.overlay);
        n.applies = [];
        return;
      case 'event':
        n.events.push(e);
        return;
    }
  }

  /** A client update at replica `name`; returns the reply (or undefined if held). */
  update(name: string, op: Update, prev: VTS = V.zero(), opts: { uid?: string; copies?: string[] } = {}): Reply | undefined {
    const requestId = `r${++reqSeq}` as RequestId;
    const uid = (opts.uid ?? `u${reqSeq}`) as UpdateId;
    this.input(name, {
      type: 'update',
      from: 'fe',
      requestId,
      uid,
      prev,
      op,
      issuedAt: this.now,
      copies: (opts.copies ?? []).map((c) => this.id(c)),
    });
    return this.node(name).replies.find((r) => r.requestId === requestId);
  }

  /** An update whose reply may come later (forced updates answer once committed): the reply is looked up when asked for. */
  send(name: string, op: Update, prev: VTS = V.zero(), uid?: string): { requestId: string; uid: UpdateId; reply: () => Reply | undefined } {
    const requestId = `r${++reqSeq}` as RequestId;
    const u = (uid ?? `u${reqSeq}`) as UpdateId;
    this.input(name, { type: 'update', from: 'fe', requestId, uid: u, prev, op, issuedAt: this.now, copies: [] });
    const n = this.node(name);
    return { requestId, uid: u, reply: () => n.replies.find((r) => r.requestId === requestId) };
  }

  query(name: string, query: Query, prev: VTS = V.zero()): { requestId: string; reply: () => Reply | undefined } {
    const requestId = `r${++reqSeq}` as RequestId;
    this.input(name, { type: 'query', from: 'fe', requestId, prev, query });
    return { requestId, reply: () => this.node(name).replies.find((r) => r.requestId === requestId) };
  }

  /** Delivers every message on the wire (and the ones they cause) until none is left, except those `drop` rejects. */
  deliverAll(drop: (w: Wire) => boolean = () => false, max = 10_000): number {
    let n = 0;
    while (this.wire.length > 0) {
      if (++n > max) throw new Error('messages keep flowing: no quiescence');
      const w = this.wire.shift()!;
      if (drop(w)) continue;
      const to = [...this.nodes.values()].find((x) => x.id === w.to);
      if (!to) continue;
      this.input(to.id.split('.')[0]!, { type: 'peer', from: w.from, msg: w.msg });
    }
    return n;
  }

  /** Advances time on every node in steps of `stepMs`, delivering messages after each step. */
  run(ms: number, stepMs = 10, drop?: (w: Wire) => boolean): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += stepMs;
      for (const name of this.nodes.keys()) this.input(name, { type: 'tick', now: this.now });
      this.deliverAll(drop);
    }
  }

  crash(name: string): Node {
    const n = this.node(name);
    this.nodes.delete(name);
    this.wire = this.wire.filter((w) => w.to !== n.id && w.from !== n.id);
    for (const other of this.nodes.keys()) this.input(other, { type: 'peerLeft', id: n.id });
    return n;
  }

  /** Restarts a crashed replica as a new incarnation: memory lost, its disk (the primary's durable state) kept. */
  restart(old: Node, epoch: string): Node {
    const name = old.id.split('.')[0]!;
    const id = makeReplicaId(name, epoch);
    const peers = [...this.nodes.values()].map((x) => x.id);
    const node = this.add(id, [...peers, id], false, old.durable);
    for (const other of this.nodes.keys()) if (other !== name) this.input(other, { type: 'peerJoined', id });
    return node;
  }

  /** The replica that is primary now (the one with the highest term if several think they are). */
  primary(): Node | undefined {
    return [...this.nodes.values()].filter((n) => n.state.primary.role === 'leader').sort((a, b) => b.state.primary.term - a.state.primary.term)[0];
  }
}

export const rate = (user: number, movie: number, rating: number, timestamp = 1000): Update => ({
  kind: 'rate',
  userId: user as UserId,
  movieId: movie as MovieId,
  rating,
  timestamp,
});
export const del = (user: number, movie: number, timestamp = 1000): Update => ({ kind: 'delete', userId: user as UserId, movieId: movie as MovieId, timestamp });
export const addMovie = (title: string, genres: string[] = ['Drama']): Update => ({ kind: 'addMovie', title, genres });
export const forgetUser = (user: number): Update => ({ kind: 'forgetUser', userId: user as UserId });
export const get = (user: number, movie: number): Query => ({ kind: 'get', userId: user as UserId, movieId: movie as MovieId });
