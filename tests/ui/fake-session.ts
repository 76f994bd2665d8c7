/**
 * A session without a network, for the terminal UI's tests: a tiny movie
 * table, ratings, four replicas whose status can be set, events on demand.
 * Same shape as Session (UiSession). With `primary` set it plays an elected
 * primary: forced and immediate updates are answered as that replica, and
 * the cluster view names it.
 */
import { EventEmitter } from 'node:events';
import { userId, type ReplicaId, type UserId } from '../../src/core/ids.js';
import type { Query, QueryResult, Update } from '../../src/core/ops.js';
import type { ClientReply, ClusterView, ReplicaStatus, ReplicaView, TraceEvent } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import type { UiSession } from '../../src/client/ui/types.js';

export const MOVIES = [
  { movieId: 1, title: 'Toy Story (1995)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'] },
  { movieId: 2, title: 'Jumanji (1995)', genres: ['Adventure', 'Children', 'Fantasy'] },
  { movieId: 3114, title: 'Toy Story 2 (1999)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'] },
  { movieId: 78499, title: 'Toy Story 3 (2010)', genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy', 'IMAX'] },
  { movieId: 5, title: 'Father of the Bride Part II (1995)', genres: ['Comedy'] },
];

const id = (s: string) => s as ReplicaId;

export class FakeSession implements UiSession {
  readonly user: UserId = userId(7);
  prev: VTS = {};
  fe: string | undefined = 'fe1';
  closed = false;
  watching: boolean | undefined;
  queries: Query[] = [];
  /** Every update sent, in order. */
  updates: Update[] = [];
  /** The elected primary's name (e.g. 'rm2'); null while electing; undefined: replicas publish nothing about it. */
  primary: string | null | undefined;
  term = 3;
  forced = 0;
  clusterCalls = 0;
  /** movieId → [sum, count] of other users' ratings. */
  base = new Map<number, [number, number]>([
    [1, [3.92 * 215, 215]],
    [2, [3.43 * 110, 110]],
  ]);
  mine = new Map<number, { rating: number; timestamp: number }>();
  status = new Map<string, ReplicaStatus>([
    ['rm1', 'ACTIVE'],
    ['rm2', 'ACTIVE'],
    ['rm3', 'ACTIVE'],
    ['rm4', 'ACTIVE'],
  ]);
  counter = 0;
  private readonly ev = new EventEmitter();

  frontend(): string | undefined {
    return this.fe;
  }

  private stamp(): VTS {
    this.prev = { ...this.prev, [id('rm1.a1')]: this.counter };
    return this.prev;
  }

  async query(q: Query): Promise<ClientReply> {
    this.queries.push(q);
    const ok = (result: QueryResult): ClientReply => ({ ok: true, kind: 'query', result, ts: this.stamp(), servedBy: [id('rm1.a1')], valueTS: this.prev });
    const movie = (n: number) => MOVIES.find((m) => m.movieId === n);
    switch (q.kind) {
      case 'search': {
        const words = q.words.toLowerCase().split(/\s+/).filter(Boolean);
        const found = MOVIES.filter((m) => words.every((w) => m.title.toLowerCase().includes(w)));
        return ok({ kind: 'search', movies: found.slice(0, q.limit ?? 20) as never, total: found.length });
      }
      case 'avg':
      case 'movie': {
        const m = movie(q.movieId);
        if (!m) return { ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie ${q.movieId}`, tried: [] };
        const [sum, count] = this.base.get(m.movieId) ?? [0, 0];
        const mineR = this.mine.get(m.movieId);
        const s = sum + (mineR?.rating ?? 0);
        const c = count + (mineR ? 1 : 0);
        const average = c === 0 ? null : s / c;
        return q.kind === 'avg'
          ? ok({ kind: 'avg', movieId: m.movieId as never, title: m.title, average, count: c })
          : ok({ kind: 'movie', movieId: m.movieId as never, title: m.title, genres: m.genres, average, count: c });
      }
      case 'get': {
        const m = movie(q.movieId);
        if (!m) return { ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie ${q.movieId}`, tried: [] };
        const r = this.mine.get(m.movieId);
        return ok({ kind: 'get', userId: q.userId, movieId: m.movieId as never, title: m.title, rating: r?.rating ?? null, timestamp: r?.timestamp ?? null });
      }
      case 'mine':
        return ok({
          kind: 'mine',
          userId: q.userId,
          ratings: [...this.mine].map(([movieId, r]) => ({ movieId: movieId as never, title: movie(movieId)?.title ?? '?', rating: r.rating, timestamp: r.timestamp })),
        });
    }
  }

  async update(op: Update): Promise<ClientReply> {
    this.updates.push(op);
    this.counter++;
    if (op.kind === 'addMovie' || op.kind === 'forgetUser') {
      if (!this.primary) return { ok: false, code: 'NO_PRIMARY', message: 'no primary could sequence this forced update in 4500 ms (last error: rm1: NO_PRIMARY election)', tried: [id('rm1.a1')] };
      const rm = this.replicaId(this.primary);
      this.prev = { ...this.prev, forced: ++this.forced } as VTS;
      const result =
        op.kind === 'addMovie'
          ? { kind: 'addMovie' as const, movieId: (9742 + this.forced) as never, title: op.title, existed: false }
          : { kind: 'forgetUser' as const, userId: op.userId, removed: this.mine.size };
      if (op.kind === 'forgetUser' && op.userId === this.user) this.mine.clear();
      return { ok: true, kind: 'update', uid: `u${this.counter}` as never, ts: this.prev, servedBy: [rm], copies: { [rm]: this.prev }, ordering: op.kind === 'addMovie' ? 'forced' : 'immediate', result };
    }
    if (op.kind === 'rate') this.mine.set(op.movieId, { rating: op.rating, timestamp: op.timestamp });
    else this.mine.delete(op.movieId);
    const ts = this.stamp();
    return { ok: true, kind: 'update', uid: `u${this.counter}` as never, ts, servedBy: [id('rm1.a1'), id('rm2.b2')], copies: {} };
  }

  /** The incarnation id of a replica by name. */
  replicaId(name: string): ReplicaId {
    const i = [...this.status.keys()].indexOf(name);
    return id(`${name}.${'abcd'[i]}${i + 1}`);
  }

  view(): ClusterView {
    const p = this.primary;
    const replicas: ReplicaView[] = [...this.status].map(([name, status], i) => ({
      ...(p === undefined
        ? {}
        : {
            primary:
              p === null
                ? { role: 'candidate' as const, term: this.term, leader: null, commit: this.forced }
                : name === p
                  ? { role: 'leader' as const, term: this.term, leader: this.replicaId(p), commit: this.forced }
                  : { role: 'follower' as const, term: this.term, leader: this.replicaId(p), commit: this.forced },
          }),
      name,
      id: id(`${name}.${'abcd'[i]}${i + 1}`),
      url: `http://127.0.0.1:${4000 + i}`,
      status,
      phase: 'serving',
      valueTS: { [id('rm1.a1')]: this.counter } as VTS,
      replicaTS: { [id('rm1.a1')]: this.counter } as VTS,
      logLength: this.counter,
      executed: this.counter,
      lag: 0,
      lastGossipAt: null,
    }));
    return {
      replicas,
      frontends: [
        { name: 'fe1', url: 'http://127.0.0.1:5001', prev: this.prev },
        { name: 'fe2', url: 'http://127.0.0.1:5002', prev: {} },
      ],
      primary: p ? { id: this.replicaId(p), name: p, term: this.term } : null,
      via: this.fe ?? 'fe1',
      at: Date.now(),
    };
  }

  async cluster(): Promise<ClusterView> {
    this.clusterCalls++;
    return this.view();
  }

  async setStatus(rm: string, status: ReplicaStatus) {
    if (!this.status.has(rm)) return { ok: false as const, code: 'BAD_REQUEST', message: `unknown replica ${rm}` };
    this.status.set(rm, status);
    this.emit('cluster', this.view());
    return { ok: true as const, status };
  }

  watch(trace: boolean): void {
    this.watching = trace;
    setTimeout(() => this.emit('cluster', this.view()), 0);
  }

  emit(ev: 'cluster', v: ClusterView): void;
  emit(ev: 'trace', e: TraceEvent): void;
  emit(ev: 'frontend', name: string | undefined, why: string): void;
  emit(ev: 'naming', up: boolean): void;
  emit(ev: string, ...args: unknown[]): void {
    this.ev.emit(ev, ...args);
  }

  listeners(ev: string): number {
    return this.ev.listenerCount(ev);
  }

  on(ev: 'cluster', cb: (v: ClusterView) => void): this;
  on(ev: 'trace', cb: (e: TraceEvent) => void): this;
  on(ev: 'frontend', cb: (name: string | undefined, why: string) => void): this;
  on(ev: 'naming', cb: (up: boolean) => void): this;
  on(ev: string, cb: (...args: never[]) => void): this {
    this.ev.on(ev, cb as (...a: unknown[]) => void);
    return this;
  }

  off(ev: 'cluster' | 'trace' | 'frontend' | 'naming', cb: (...args: never[]) => void): this {
    this.ev.off(ev, cb as (...a: unknown[]) => void);
    return this;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
