/**
 * Response time per client function, in four scenarios on one cluster:
 *
 *  1. all normal;
 *  2. one front end killed (SIGKILL) while clients run: they fail over;
 *  3. one replica killed while clients run;
 *  4. a burst of updates, and the replica that logged the last of them
 *     killed right after it was acknowledged; the burst is read back
 *     afterwards (an acknowledged update that is gone is "lost").
 *
 * Clients run closed loops through every function in turn (search, movie,
 * avg, get, mine, rate, delete), one client per front end. After each kill
 * the member is started again and the cluster waited on, so every scenario
 * starts from the full cluster.
 *
 * Failover (scenarios 2–4) is complete once the naming service no longer
 * lists the killed member, every client has had a request that started
 * after the kill succeed, and every request started before that moment has
 * ended (so a request stuck on the dead member counts in the failover).
 * Requests that start after that are the "once failed over" figures; a
 * failure among them is a failure after the failover.
 */
import type { Cluster } from '../tests/helpers/cluster.js';
import type { MovieId, UserId } from '../src/core/ids.js';
import type { Member } from '../src/core/protocol.js';
import { NamingClient } from '../src/naming/client.js';
import { BenchClient, type CheckCounts, type RequestRecord } from './clients.js';
import { now, summarize, type Summary } from './stats.js';
import { SCENARIOS, type FnLatency, type Ratios, type ScenarioId, type ScenarioResult } from './types.js';
import { BENCH_USER_BASE, FUNCTIONS, random, randomRating, type Fn, type Workload } from './workload.js';

export interface LatencyOptions {
  readonly cluster: Cluster;
  readonly workload: Workload;
  /** Two-hop floor p50 (ratios are to it). */
  readonly floorMs: number;
  /** Measured requests per function in scenario 1 (over all clients). */
  readonly perFn: number;
  /** Warm-up rounds (each a request of every function) per client. */
  readonly warmupRounds: number;
  /** Scenarios 2–4: how long clients run before the kill, and the requests per function wanted after the failover. */
  readonly beforeKillMs: number;
  readonly afterPerFn: number;
  /** Upper bound on a kill scenario's run after the kill. */
  readonly maxAfterMs: number;
  /** Updates in scenario 4's burst. */
  readonly burst: number;
  readonly log: (line: string) => void;
}

const QUIET = { info() {}, warn() {}, error() {} };

function ratios(s: Summary, floor: number): Ratios {
  const r = (x: number) => (floor > 0 ? x / floor : 0);
  return { mean: r(s.mean), p50: r(s.p50), p95: r(s.p95), p99: r(s.p99) };
}

/** Scenario user ids: separate blocks so no scenario sees another's rows. */
function userBase(id: ScenarioId): number {
  return BENCH_USER_BASE + 10_000 * (1 + SCENARIOS.findIndex((s) => s.id === id));
}

/** Watches the naming list and remembers when each member was last seen leaving. */
class Departures {
  private readonly nc: NamingClient;
  private readonly present = new Set<string>();
  readonly gone = new Map<string, number>();
  private waiters: (() => void)[] = [];

  constructor(c: Cluster) {
    this.nc = new NamingClient({ url: c.namingUrl, secret: c.secret, log: QUIET, config: c.config });
    this.nc.watch(undefined, (list: Member[]) => {
      const names = new Set(list.map((m) => m.name));
      for (const n of this.present) if (!names.has(n)) this.gone.set(n, now());
      this.present.clear();
      for (const n of names) this.present.add(n);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  has(name: string): boolean {
    return this.present.has(name);
  }

  /** Resolves once `name` is not listed (with the time it left), or null after `timeoutMs`. */
  async waitGone(name: string, since: number, timeoutMs: number): Promise<number | null> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const at = this.gone.get(name);
      if (at !== undefined && at >= since && !this.present.has(name)) return at;
      const left = deadline - now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}

async function connectClients(c: Cluster, o: LatencyOptions, id: ScenarioId, checks: CheckCounts): Promise<BenchClient[]> {
  const fes = c.frontends.map((p) => p.name);
  return Promise.all(
    fes.map((fe, i) =>
      BenchClient.connect({
        index: i,
        naming: c.namingUrl,
        user: userBase(id) + i,
        config: c.config,
        workload: o.workload,
        checks,
        seed: 1000 * (1 + SCENARIOS.findIndex((s) => s.id === id)) + i,
        preferFrontend: fe,
      }),
    ),
  );
}

/** One request of `fn`: get/mine alternate between the client's own rows (checked) and the data file's users. */
async function step(cl: BenchClient, fn: Fn, i: number): Promise<RequestRecord> {
  return cl.run(fn, (fn !== 'get' && fn !== 'mine') || i % 2 === 0);
}

async function warmUp(clients: BenchClient[], rounds: number): Promise<void> {
  await Promise.all(
    clients.map(async (cl) => {
      for (let i = 0; i < rounds; i++) for (const fn of FUNCTIONS) await step(cl, fn, i);
    }),
  );
}

function functionStats(records: readonly RequestRecord[], floor: number, after?: number): Record<Fn, FnLatency> {
  const out = {} as Record<Fn, FnLatency>;
  for (const fn of FUNCTIONS) {
    const mine = records.filter((r) => r.fn === fn);
    const all = summarize(mine.filter((r) => r.ok).map((r) => r.end - r.start));
    const entry: FnLatency = { all, ratio: ratios(all, floor), failed: mine.filter((r) => !r.ok).length };
    if (after !== undefined) {
      const a = summarize(mine.filter((r) => r.ok && r.start >= after).map((r) => r.end - r.start));
      out[fn] = { ...entry, afterFailover: a, afterRatio: ratios(a, floor) };
    } else out[fn] = entry;
  }
  return out;
}

function errorCounts(records: readonly RequestRecord[]): Record<string, number> {
  const e: Record<string, number> = {};
  for (const r of records) if (!r.ok) e[r.code ?? 'ERROR'] = (e[r.code ?? 'ERROR'] ?? 0) + 1;
  return e;
}

async function normalScenario(o: LatencyOptions): Promise<ScenarioResult> {
  const c = o.cluster;
  const checks: CheckCounts = { wrong: 0, stale: 0, violations: [] };
  const clients = await connectClients(c, o, 'normal', checks);
  try {
    await warmUp(clients, o.warmupRounds);
    const rounds = Math.ceil(o.perFn / clients.length);
    const records: RequestRecord[] = [];
    await Promise.all(
      clients.map(async (cl) => {
        for (let i = 0; i < rounds; i++) for (const fn of FUNCTIONS) records.push(await step(cl, fn, i));
      }),
    );
    return {
      id: 'normal',
      title: SCENARIOS[0]!.title,
      clients: clients.length,
      requests: records.length,
      functions: functionStats(records, o.floorMs),
      failed: records.filter((r) => !r.ok).length,
      failedAfterFailover: 0,
      failoverMs: null,
      longestRequestMs: null,
      errors: errorCounts(records),
      ...checkCounts(checks),
    };
  } finally {
    await Promise.all(clients.map((x) => x.close()));
  }
}

/** Answers about the clients' own rows that broke read-your-writes (checked here too, reported with the scenario). */
function checkCounts(checks: CheckCounts): { wrong: number; stale: number; violations: string[] } {
  return { wrong: checks.wrong, stale: checks.stale, violations: checks.violations.slice(0, 10) };
}

async function killScenario(o: LatencyOptions, id: Exclude<ScenarioId, 'normal'>): Promise<ScenarioResult> {
  const c = o.cluster;
  const checks: CheckCounts = { wrong: 0, stale: 0, violations: [] };
  const departures = new Departures(c);
  const clients = await connectClients(c, o, id, checks);
  const frontends = c.frontends.length;
  let victim = '';
  let stop = false;
  let loops: Promise<void>[] = [];
  let witness: BenchClient | undefined;
  try {
    await warmUp(clients, o.warmupRounds);
    const records: RequestRecord[] = [];
    let killAt = Infinity;
    loops = clients.map(async (cl) => {
      for (let i = 0; !stop; i++) for (const fn of FUNCTIONS) if (!stop) records.push(await step(cl, fn, i));
    });

    // Before the kill.
    await new Promise((r) => setTimeout(r, o.beforeKillMs));

    let lostUpdates: number | undefined;
    let burst: { movie: number; rating: number }[] = [];
    if (id === 'fe-killed') {
      victim = c.frontends[0]!.name;
      killAt = now();
      await c.kill(victim);
    } else if (id === 'rm-killed') {
      victim = c.replicas[1]?.name ?? c.replicas[0]!.name;
      killAt = now();
      await c.kill(victim);
    } else {
      // A writer of its own issues a burst; the replica that logged the last update is killed at once.
      witness = await BenchClient.connect({
        index: 99,
        naming: c.namingUrl,
        user: userBase(id) + 99,
        config: c.config,
        workload: o.workload,
        checks,
        seed: 4099,
        ownMovies: o.burst,
      });
      const rnd = random(4242);
      let last: string[] = [];
      burst = [];
      for (let i = 0; i < o.burst; i++) {
        const movie = witness.movies[i % witness.movies.length]!;
        const rating = randomRating(rnd);
        const r = await witness.session.update({ kind: 'rate', userId: witness.user as UserId, movieId: movie as MovieId, rating, timestamp: Math.floor(Date.now() / 1000) });
        if (r.ok && r.kind === 'update') {
          burst.push({ movie, rating });
          last = r.servedBy.map(String);
        }
      }
      const holder = last[0];
      const byId = holder ? c.replicas.find((p) => holder === p.name || holder.startsWith(`${p.name}.`)) : undefined;
      victim = byId?.name ?? c.replicas[0]!.name;
      killAt = now();
      await c.kill(victim);
    }
    o.log(`latency: ${id}: killed ${victim}`);

    // Failover: the member leaves naming, and every client succeeds at something started after the kill.
    const goneAt = await departures.waitGone(victim, killAt, o.maxAfterMs);
    const firstOk = async (): Promise<number | null> => {
      const deadline = now() + o.maxAfterMs;
      for (;;) {
        const ends = clients.map((cl) => records.find((r) => r.client === cl.index && r.ok && r.start >= killAt)?.end);
        if (ends.every((e) => e !== undefined)) return Math.max(...(ends as number[]));
        if (now() > deadline) return null;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const clientsBack = await firstOk();
    // Provisional: the member is gone and every client got through again. Requests still running
    // then (e.g. an update waiting for a twin copy on the dead replica) extend it; see below.
    const settledAt = goneAt !== null && clientsBack !== null ? Math.max(goneAt, clientsBack) : null;

    // After the failover: run until every function has enough samples (bounded in time).
    const afterDeadline = now() + o.maxAfterMs;
    const from = settledAt ?? Infinity;
    while (now() < afterDeadline) {
      const counts = FUNCTIONS.map((fn) => records.filter((r) => r.fn === fn && r.start >= from).length);
      if (Math.min(...counts) >= o.afterPerFn) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    if (witness) {
      // Read the burst back: each row must hold its last acknowledged rating.
      const want = new Map<number, number>();
      for (const b of burst) want.set(b.movie, b.rating);
      let lost = 0;
      for (const [movie, rating] of want) {
        const r = await witness.session.query({ kind: 'get', userId: witness.user as UserId, movieId: movie as MovieId });
        if (!r.ok || r.kind !== 'query' || (r.result as { rating?: unknown }).rating !== rating) lost++;
      }
      lostUpdates = lost;
    }
    stop = true;
    await Promise.all(loops);

    // Failed over once the provisional moment has passed and every request started before it has ended.
    const failedOverAt = settledAt === null ? null : Math.max(settledAt, ...records.filter((r) => r.start < settledAt).map((r) => r.end));

    const inFlight = records.filter((r) => r.start <= killAt && r.end >= killAt);
    const during = records.filter((r) => r.start >= killAt && (failedOverAt === null || r.start < failedOverAt));
    const spanning = [...inFlight, ...during];
    const failedAfter = failedOverAt === null ? 0 : records.filter((r) => !r.ok && r.start >= failedOverAt).length;
    const result: ScenarioResult = {
      id,
      title: SCENARIOS.find((s) => s.id === id)!.title,
      clients: clients.length,
      requests: records.length,
      functions: functionStats(records, o.floorMs, failedOverAt ?? Infinity),
      failed: records.filter((r) => !r.ok).length,
      failedAfterFailover: failedAfter,
      failoverMs: failedOverAt === null ? null : failedOverAt - killAt,
      longestRequestMs: spanning.length ? Math.max(...spanning.map((r) => r.end - r.start)) : null,
      killed: victim,
      errors: errorCounts(records),
      ...(lostUpdates !== undefined ? { lostUpdates } : {}),
      ...checkCounts(checks),
    };
    return result;
  } finally {
    // Every loop ends (each request is bounded by the session's timeouts) before its session closes.
    stop = true;
    await Promise.all(loops);
    await witness?.close();
    await Promise.all(clients.map((x) => x.close()));
    await departures.close();
    if (victim) {
      // Bring the cluster back to full strength for what follows.
      await c.restart(victim);
      await c.waitForMembers({ frontends, replicas: c.replicas.length, names: [victim], timeoutMs: 20_000 });
    }
  }
}

export async function measureLatency(o: LatencyOptions): Promise<{ results: ScenarioResult[]; failures: { section: string; error: string }[] }> {
  const results: ScenarioResult[] = [];
  const failures: { section: string; error: string }[] = [];
  for (const s of SCENARIOS) {
    const t0 = now();
    try {
      const r = s.id === 'normal' ? await normalScenario(o) : await killScenario(o, s.id);
      results.push(r);
      o.log(
        `latency: scenario ${s.title}: ${r.requests} requests, ${r.failed} failed${r.failoverMs !== null ? `, failover ${Math.round(r.failoverMs)} ms` : ''} (${Math.round(now() - t0)} ms)`,
      );
    } catch (e) {
      failures.push({ section: `latency ${s.id}`, error: (e as Error).stack ?? String(e) });
      o.log(`latency: scenario ${s.title} failed: ${(e as Error).message}`);
    }
  }
  return { results, failures };
}
