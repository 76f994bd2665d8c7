/**
 * Convergence: from an acknowledged update until every replica has applied
 * it, for N = 4, 8, 16, 32 replicas (one cluster, grown between sizes; new
 * replicas join by snapshot and are waited on until they serve).
 *
 * Each replica's `trace` stream (subscribed with the cluster secret) tells
 * when it applied the update. Reported:
 * - time: the last replica's `applied` minus the client's acknowledgement;
 * - rounds: that time / gossipIntervalMs;
 * - hops, from gossip events: the depth of the spreading tree — for each
 *   replica, the peer whose gossip (with new records) it received last before
 *   applying; replicas that logged the update from the front end are depth 0.
 */
import { io, type Socket } from 'socket.io-client';
import type { MovieId, UserId } from '../src/core/ids.js';
import type { Introspection, ReplicaEmit, ReplicaListen, Reply, RmTraceEvent } from '../src/core/protocol.js';
import { Cluster } from '../tests/helpers/cluster.js';
import { now, summarize } from './stats.js';
import type { ConvergenceRow } from './types.js';
import { BENCH_USER_BASE, pick, random, randomRating, type Workload } from './workload.js';
import { connected } from '../src/core/sockets.js';

export interface ConvergenceOptions {
  readonly sizes: readonly number[];
  readonly trials: number;
  readonly workload: Workload;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
  /** Keep the processes' logs here. */
  readonly logDir?: string | undefined;
}

/** Replicas started at once when growing the cluster. */
const BATCH = 4;

interface Seen {
  readonly ev: RmTraceEvent;
}

class Tracer {
  private readonly sockets = new Map<string, Socket<ReplicaEmit, ReplicaListen>>();
  events: Seen[] = [];
  private waiters: (() => void)[] = [];

  constructor(private readonly secret: string) {}

  async subscribe(name: string, url: string): Promise<void> {
    if (this.sockets.has(name)) return;
    const s: Socket<ReplicaEmit, ReplicaListen> = io(url, { transports: ['websocket'], auth: { secret: this.secret }, reconnection: false });
    this.sockets.set(name, s);
    s.on('trace', (ev) => {
      this.events.push({ ev });
      for (const w of this.waiters.splice(0)) w();
    });
    await connected(s, name, 10_000);
    const r = (await s.timeout(5000).emitWithAck('subscribe', {})) as Reply;
    if (!r.ok) throw new Error(`subscribe to ${name}: ${r.code} ${r.message}`);
  }

  /** Resolves once `pred()` holds (checked on every event), or false at the deadline. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = now() + timeoutMs;
    while (!pred()) {
      const left = deadline - now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  close(): void {
    for (const s of this.sockets.values()) s.disconnect();
    this.sockets.clear();
  }
}

/** Introspection with patience: a replica busy sending snapshots to newcomers may answer slowly. */
async function introspect(c: Cluster, name: string): Promise<Introspection> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      return await c.introspect(name, 10_000);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** Depth of the gossip tree that carried `uid` to every replica (null if it cannot be told). */
function hops(events: readonly RmTraceEvent[], uid: string, holders: ReadonlySet<string>): number | null {
  const applied = new Map<string, number>();
  for (const e of events) if (e.kind === 'applied' && e.uid === uid && !applied.has(e.rm)) applied.set(e.rm, e.at);
  const depth = new Map<string, number>();
  const parent = new Map<string, string>();
  for (const [rm, at] of applied) {
    if (holders.has(rm)) continue;
    let best: { from: string; at: number } | undefined;
    for (const e of events) {
      if (e.kind === 'gossipReceived' && e.rm === rm && e.kept > 0 && e.at <= at && (!best || e.at >= best.at)) best = { from: e.from, at: e.at };
    }
    if (!best) return null;
    parent.set(rm, best.from);
  }
  const depthOf = (rm: string, seen: Set<string>): number => {
    if (holders.has(rm)) return 0;
    const d = depth.get(rm);
    if (d !== undefined) return d;
    const p = parent.get(rm);
    if (p === undefined || seen.has(rm)) return NaN;
    seen.add(rm);
    const v = depthOf(p, seen) + 1;
    depth.set(rm, v);
    return v;
  };
  let max = 0;
  for (const rm of applied.keys()) max = Math.max(max, depthOf(rm, new Set()));
  return Number.isFinite(max) ? max : null;
}

/**
 * Measures on `cluster` if given (growing it; the caller closes it), else on
 * a cluster of its own with one front end.
 */
export async function measureConvergence(o: ConvergenceOptions, cluster?: Cluster): Promise<{ rows: ConvergenceRow[]; failures: { section: string; error: string }[] }> {
  const rows: ConvergenceRow[] = [];
  const failures: { section: string; error: string }[] = [];
  const first = o.sizes[0] ?? 4;
  const t0 = now();
  const c = cluster ?? (await Cluster.start({ frontends: 1, replicas: first, profile: 'default', readyTimeoutMs: 60_000, ...(o.logDir ? { logDir: o.logDir } : {}) }));
  const tracer = new Tracer(c.secret);
  try {
    if (!cluster) o.log(`convergence: ${first} replicas up in ${Math.round(now() - t0)} ms`);
    const session = await c.session(BENCH_USER_BASE + 50_000);
    const rnd = random(77);
    const ids = new Map<string, string>(); // replica id → name
    for (const n of o.sizes) {
      try {
        rows.push(await measureSize(n));
      } catch (e) {
        failures.push({ section: `convergence, ${n} replicas`, error: (e as Error).stack ?? String(e) });
        o.log(`convergence: N=${n} failed: ${(e as Error).message.split('\n')[0]}`);
        break; // a larger cluster would fare no better
      }
    }
    return { rows, failures };

    async function measureSize(n: number): Promise<ConvergenceRow> {
      const t1 = now();
      // A few at a time: each new replica loads the data file, which is CPU-bound.
      while (c.replicas.length < n) {
        const batch = Math.min(n - c.replicas.length, BATCH);
        await Promise.all(Array.from({ length: batch }, () => c.addReplica()));
      }
      await c.waitForMembers({ frontends: c.frontends.length, replicas: n, timeoutMs: 60_000 });
      for (const p of c.replicas) {
        await tracer.subscribe(p.name, p.url);
        const st = await introspect(c, p.name);
        ids.set(st.id, p.name);
      }
      // The new replicas must have caught up before timing starts.
      await c.waitForConvergence(60_000, 200);
      o.log(`convergence: ${n} replicas ready in ${Math.round(now() - t1)} ms`);
      const live = new Set([...ids.keys()].filter((id) => c.replicas.some((p) => p.name === ids.get(id))));
      const times: number[] = [];
      const hopCounts: number[] = [];
      let timedOut = 0;
      const warm = 2;
      for (let t = 0; t < o.trials + warm; t++) {
        tracer.events = [];
        const movie = pick(rnd, o.workload.movies);
        const r = await session.update({ kind: 'rate', userId: session.user as UserId, movieId: movie as MovieId, rating: randomRating(rnd), timestamp: Math.floor(Date.now() / 1000) });
        const ackAt = Date.now();
        if (!r.ok || r.kind !== 'update') {
          timedOut++;
          continue;
        }
        const uid = r.uid;
        const appliedBy = () => {
          const s = new Set<string>();
          for (const { ev } of tracer.events) if (ev.kind === 'applied' && ev.uid === uid) s.add(ev.rm);
          return s;
        };
        const ok = await tracer.until(() => [...live].every((id) => appliedBy().has(id)), o.timeoutMs);
        if (t < warm) continue;
        if (!ok) {
          timedOut++;
          continue;
        }
        const evs = tracer.events.map((x) => x.ev);
        const last = Math.max(...evs.filter((e) => e.kind === 'applied' && e.uid === uid).map((e) => e.at));
        times.push(Math.max(0, last - ackAt));
        const h = hops(evs, uid, new Set(Object.keys(r.copies)));
        if (h !== null) hopCounts.push(h);
        // Start the next trial at a random point of the gossip cycle.
        await new Promise((res) => setTimeout(res, rnd() * c.config.gossipIntervalMs));
      }
      const ms = summarize(times);
      const row: ConvergenceRow = {
        replicas: n,
        trials: times.length,
        ms,
        rounds: ms.p50 / c.config.gossipIntervalMs,
        hops: hopCounts.length ? summarize(hopCounts).p50 : null,
        targetRounds: Math.ceil(Math.log2(n)) + 2,
        gossipIntervalMs: c.config.gossipIntervalMs,
        timedOut,
      };
      o.log(`convergence: N=${n}: p50 ${ms.p50.toFixed(0)} ms = ${row.rounds.toFixed(2)} rounds (target ${row.targetRounds}), hops ${row.hops ?? '–'}, max ${ms.max.toFixed(0)} ms, ${timedOut} timed out`);
      return row;
    }
  } finally {
    tracer.close();
    if (!cluster) await c.close();
  }
}
