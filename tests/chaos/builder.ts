/**
 * Hand-written chaos histories for the checker's tests: clients keep their
 * session timestamps as the real client does, and replies are shaped as the
 * front end shapes them (an update's copies ts_n = prev[n := c]; a forced or
 * immediate update's single copy is its forced record, prev[forced := seq]).
 */
import type { MovieId, UserId } from '../../src/core/ids.js';
import type { ApplyOutcome, Query, Update } from '../../src/core/ops.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import type { BaseRow, CheckInput } from '../../chaos/checker.js';
import type { FaultRecord, OpRecord, RecordedReply } from '../../chaos/history.js';

export const ts = (o: Record<string, number>): VTS => V.parse(o);

/** Builds a history by hand: clients keep their session timestamps as the real client does. */
export interface ForcedOpts {
  /** What the primary's cut gathered (immediate updates). */
  readonly cut?: VTS;
  readonly primary?: string;
  readonly uid?: string;
  readonly span?: [number, number];
}

export class H {
  readonly ops: OpRecord[] = [];
  readonly faults: FaultRecord[] = [];
  private readonly prev = new Map<string, VTS>();
  private id = 0;
  private t = 0;

  prevOf(c: string): VTS {
    return this.prev.get(c) ?? V.zero();
  }

  private push(client: string, user: number, kind: 'query' | 'update', body: { query?: Query; update?: Update }, reply: RecordedReply | undefined, o: { prevBefore?: VTS; final?: boolean; span?: [number, number] } = {}): OpRecord {
    const prevBefore = o.prevBefore ?? this.prevOf(client);
    const prevAfter = reply?.ok ? V.merge(prevBefore, reply.ts) : prevBefore;
    if (reply?.ok && !o.prevBefore) this.prev.set(client, prevAfter);
    const [a, b] = o.span ?? [(this.t += 10), (this.t += 10)];
    const op: OpRecord = { id: ++this.id, client, user, kind, ...body, invokedAt: a, completedAt: b, prevBefore, prevAfter, reply, final: o.final };
    this.ops.push(op);
    return op;
  }

  /** An update logged at the given replicas with counters; copies' timestamps follow ts = prev[n := c]. */
  rate(client: string, user: number, movie: number, rating: number, stamp: number, at: Record<string, number>, o: { uid?: string; prev?: VTS; span?: [number, number]; warning?: string } = {}): OpRecord {
    const logged = o.prev ?? this.prevOf(client);
    const copies: Record<string, VTS> = {};
    for (const [n, c] of Object.entries(at)) copies[n] = V.withEntry(logged, n as never, c);
    const reply: RecordedReply = {
      ok: true,
      kind: 'update',
      uid: o.uid ?? `${client}:u${this.id + 1}`,
      ts: V.mergeAll([logged, ...Object.values(copies)]),
      copies,
      warning: o.warning,
      servedBy: Object.keys(at),
    };
    return this.push(client, user, 'update', { update: { kind: 'rate', userId: user as UserId, movieId: movie as MovieId, rating, timestamp: stamp } }, reply, { span: o.span });
  }

  del(client: string, user: number, movie: number, stamp: number, at: Record<string, number>): OpRecord {
    const sent = this.prevOf(client);
    const copies: Record<string, VTS> = {};
    for (const [n, c] of Object.entries(at)) copies[n] = V.withEntry(sent, n as never, c);
    const reply: RecordedReply = { ok: true, kind: 'update', uid: `${client}:u${this.id + 1}`, ts: V.mergeAll([sent, ...Object.values(copies)]), copies, servedBy: Object.keys(at) };
    return this.push(client, user, 'update', { update: { kind: 'delete', userId: user as UserId, movieId: movie as MovieId, timestamp: stamp } }, reply);
  }

  failedRate(client: string, user: number, movie: number, rating: number, stamp: number): OpRecord {
    return this.push(client, user, 'update', { update: { kind: 'rate', userId: user as UserId, movieId: movie as MovieId, rating, timestamp: stamp } }, { ok: false, code: 'TIMEOUT', message: 'no answer' });
  }

  get(client: string, user: number, movie: number, shown: BaseRow | null, valueTS: VTS, o: { final?: boolean; span?: [number, number] } = {}): OpRecord {
    const result = { kind: 'get', userId: user, movieId: movie, title: 'x', rating: shown?.rating ?? null, timestamp: shown?.timestamp ?? null };
    const reply: RecordedReply = { ok: true, kind: 'query', result, ts: V.merge(this.prevOf(client), valueTS), valueTS, servedBy: ['rmX'] };
    return this.push(client, user, 'query', { query: { kind: 'get', userId: user as UserId, movieId: movie as MovieId } }, reply, o);
  }

  mine(client: string, user: number, rows: Record<number, BaseRow>, valueTS: VTS): OpRecord {
    const result = { kind: 'mine', userId: user, ratings: Object.entries(rows).map(([m, r]) => ({ movieId: Number(m), title: 'x', ...r })) };
    const reply: RecordedReply = { ok: true, kind: 'query', result, ts: V.merge(this.prevOf(client), valueTS), valueTS, servedBy: ['rmX'] };
    return this.push(client, user, 'query', { query: { kind: 'mine', userId: user as UserId } }, reply);
  }

  /**
   * A forced or immediate update sequenced as number `seq`: its record's prev
   * covers the client's prev, the forced update before it and (immediate) the
   * cut `cut`; the reply's only copy is the record's timestamp.
   */
  private forced(client: string, user: number, update: Update, seq: number, result: ApplyOutcome, o: ForcedOpts): OpRecord {
    const prev = V.mergeAll([this.prevOf(client), o.cut ?? V.zero(), V.withEntry(V.zero(), 'forced' as never, seq - 1)]);
    const t = V.withEntry(prev, 'forced' as never, seq);
    const primary = o.primary ?? 'P.1';
    const reply: RecordedReply = { ok: true, kind: 'update', uid: o.uid ?? `${client}:f${this.id + 1}`, ts: V.merge(this.prevOf(client), t), copies: { [primary]: t }, servedBy: [primary], result };
    return this.push(client, user, 'update', { update }, reply, { span: o.span });
  }

  forget(client: string, user: number, seq: number, o: ForcedOpts = {}): OpRecord {
    return this.forced(client, user, { kind: 'forgetUser', userId: user as UserId }, seq, { kind: 'forgetUser', userId: user as UserId, removed: 0 }, o);
  }

  addMovie(client: string, title: string, movieId: number, seq: number, o: ForcedOpts & { existed?: boolean } = {}): OpRecord {
    return this.forced(client, 0, { kind: 'addMovie', title, genres: ['Drama'] }, seq, { kind: 'addMovie', movieId: movieId as MovieId, title, existed: o.existed ?? false }, o);
  }

  failedForget(client: string, user: number, o: { span?: [number, number] } = {}): OpRecord {
    return this.push(client, user, 'update', { update: { kind: 'forgetUser', userId: user as UserId } }, { ok: false, code: 'NO_PRIMARY', message: 'no primary' }, o);
  }

  input(base: Record<string, BaseRow>, users: number[], extra: Partial<CheckInput> = {}): CheckInput {
    return { ops: this.ops, faults: this.faults, base: new Map(Object.entries(base)), users, ...extra };
  }
}

