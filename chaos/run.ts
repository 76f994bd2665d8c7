/**
 * One chaos run, end to end:
 *
 * 1. Start naming, front ends and replicas as real processes on loopback,
 *    each behind a fault proxy (cluster.ts), and the clients (workload.ts).
 * 2. Fault phase (`durationMs`): clients issue operations while the seeded
 *    plan (faults.ts) is carried out (inject.ts); everything is recorded
 *    (history.ts).
 * 3. Heal: every fault lifted, every component up, every replica ACTIVE; the
 *    clients stop issuing.
 * 4. Convergence: replicas are introspected until they report one digest and
 *    one valueTS (bounded by `convergeBoundMs`).
 * 5. Final reads: every client reads its rows through a front end; every
 *    replica is asked directly for every row of the run's users, and for
 *    every movie a client was told it added.
 * 6. The checker (checker.ts) judges the history; a summary is returned.
 *
 * The plan is reproducible from the seed; process timing is not, so two runs
 * with one seed inject the same faults at the same planned times but see
 * different interleavings.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { configFor } from '../src/core/config.js';
import { movieId, userId } from '../src/core/ids.js';
import { rngFromState, seedFrom } from '../src/core/rng.js';
import * as V from '../src/core/vts.js';
import { sqlJs } from '../src/data/schema.js';
import { Session } from '../src/client/session.js';
import { check, rowKey, type BaseRow, type CheckResult, type FinalReplica } from './checker.js';
import { ChaosCluster } from './cluster.js';
import { ackedMovieIds } from './forced.js';
import { describeStep, FAULT_KINDS, planDigest, planFaults, type FaultKind, type Topology } from './faults.js';
import { History } from './history.js';
import { Injector } from './inject.js';
import { ROOT } from './procs.js';
import { Workload, type ClientSpec } from './workload.js';

export interface ChaosOptions {
  readonly seed: number;
  /** Length of the fault phase. */
  readonly durationMs: number;
  /** Where logs, the plan, the history and the summary go (default: a new folder under the system's temp dir). */
  readonly runDir?: string | undefined;
  readonly dataFile?: string | undefined;
  /** How long the replicas may take to converge after healing (default 30 s). */
  readonly convergeBoundMs?: number | undefined;
  /** Lowest acceptable availability while at most one replica is down (default 0.8, see docs/chaos.md). */
  readonly minAvailability?: number | undefined;
  /** Scales how often faults come (default 1). */
  readonly intensity?: number | undefined;
  /** Progress lines (default: none). */
  readonly log?: ((line: string) => void) | undefined;
  /** Breaks the clients on purpose (see workload.ts), to show the checker catches it. */
  readonly sabotage?: 'forget-session' | undefined;
}

export interface ChaosSummary {
  readonly seed: number;
  readonly plan: string;
  readonly runDir: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly result: CheckResult;
  readonly faults: Readonly<Record<FaultKind, { planned: number; done: number; skipped: number }>>;
  readonly convergedMs: number | null;
  readonly convergeBoundMs: number;
  readonly restarts: Readonly<Record<string, number>>;
  readonly proxy: { readonly messages: number; readonly dropped: number; readonly resets: number };
  readonly logLengthAfter: readonly number[];
  readonly users: readonly number[];
  readonly hotMovies: readonly number[];
  /** How busy the machine was: 1-minute load average before and after the fault phase, and this process's event-loop delay (every proxy runs on it). */
  readonly machine: { readonly loadBefore: number; readonly loadAfter: number; readonly cpus: number; readonly lagP99Ms: number; readonly lagMaxMs: number; readonly peakRssMiB: number };
}

export const TOPOLOGY: Topology = { replicas: ['rm1', 'rm2', 'rm3', 'rm4'], frontends: ['fe1', 'fe2'], naming: 'naming' };

/** Clients: three share one user, two share another, two a third, one is alone. */
function clientSpecs(users: readonly number[]): ClientSpec[] {
  const shares = [0, 0, 0, 1, 1, 2, 2, 3];
  return shares.map((u, i) => ({ name: `c${i + 1}`, user: users[u]! }));
}

/** Picks the run's users and hot movies from the data file (seeded), and reads those users' base rows. */
export async function chooseData(seed: number, dataFile: string): Promise<{ users: number[]; hotMovies: number[]; base: Map<string, BaseRow> }> {
  const SQL = await sqlJs();
  const db = new SQL.Database(readFileSync(dataFile));
  try {
    const rng = rngFromState(seedFrom(`chaos:${seed}:data`));
    const all = (sql: string): number[][] => (db.exec(sql)[0]?.values ?? []).map((row) => row.map(Number));
    const popular = all('SELECT movieId FROM ratings GROUP BY movieId ORDER BY COUNT(*) DESC, movieId LIMIT 40').map((r) => r[0]!);
    const movies = all('SELECT movieId FROM movies ORDER BY movieId').map((r) => r[0]!);
    const hot = new Set<number>();
    for (const m of rng.shuffle(popular).slice(0, 5)) hot.add(m);
    while (hot.size < 8) hot.add(rng.pick(movies));
    // Users with a modest number of ratings, so that every `mine` answer stays small.
    const userIds = all('SELECT userId FROM ratings GROUP BY userId HAVING COUNT(*) BETWEEN 10 AND 150 ORDER BY userId').map((r) => r[0]!);
    const users = rng.shuffle(userIds).slice(0, 4);
    const base = new Map<string, BaseRow>();
    for (const [u, m, rating, timestamp] of all(`SELECT userId, movieId, rating, timestamp FROM ratings WHERE userId IN (${users.join(',')})`)) {
      base.set(rowKey(u!, m!), { rating: rating!, timestamp: timestamp! });
    }
    return { users, hotMovies: [...hot].sort((a, b) => a - b), base };
  } finally {
    db.close();
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const log = o.log ?? (() => undefined);
  const runDir = o.runDir ?? mkdtempSync(path.join(os.tmpdir(), `hearsay-chaos-${o.seed}-`));
  const dataFile = o.dataFile ?? path.join(ROOT, 'data', 'data.sqlite');
  const config = configFor('test');
  const convergeBoundMs = o.convergeBoundMs ?? 30_000;
  const secret = randomBytes(24).toString('base64url');
  const plan = planFaults(o.seed, o.durationMs, TOPOLOGY, { leaseMs: config.leaseMs, intensity: o.intensity });
  const digest = planDigest(plan);
  writeFileSync(path.join(runDir, 'plan.txt'), `seed ${o.seed} plan ${digest}\n${plan.map(describeStep).join('\n')}\n`);
  const faultLog: string[] = [];
  const flog = (line: string) => {
    faultLog.push(line);
    log(line);
  };
  log(`chaos: seed ${o.seed}, ${(o.durationMs / 1000).toFixed(0)} s of faults, plan ${digest} (${plan.length} steps), logs in ${runDir}`);

  const { users, hotMovies, base } = await chooseData(o.seed, dataFile);
  const history = new History();
  const cluster = await ChaosCluster.start({
    replicas: TOPOLOGY.replicas,
    frontends: TOPOLOGY.frontends,
    secret,
    profile: 'test',
    seed: o.seed,
    logDir: runDir,
    dataFile,
  });
  let workload: Workload | undefined;
  let admin: Session | undefined;
  try {
    workload = new Workload({ seed: o.seed, namingUrl: cluster.namingUrl, config, clients: clientSpecs(users), hotMovies, history, sabotage: o.sabotage });
    await workload.connect();
    admin = await Session.connect({ naming: cluster.namingUrl, user: userId(1), config, secret });
    log(`chaos: cluster up (naming, ${TOPOLOGY.frontends.length} front ends, ${TOPOLOGY.replicas.length} replicas), ${workload.clients.length} clients on users ${users.join(', ')}, hot movies ${hotMovies.join(', ')}`);

    // ---- fault phase --------------------------------------------------------
    const injector = new Injector(cluster, history, admin, plan, flog);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let peakRss = process.memoryUsage().rss;
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 1000);
    const loadBefore = os.loadavg()[0]!;
    workload.start();
    injector.start();
    await new Promise((r) => setTimeout(r, o.durationMs));

    // ---- heal -----------------------------------------------------------------
    log('chaos: healing');
    lag.disable();
    clearInterval(rssTimer);
    const machine = {
      loadBefore,
      loadAfter: os.loadavg()[0]!,
      cpus: os.cpus().length,
      lagP99Ms: Math.round(lag.percentile(99) / 1e6),
      lagMaxMs: Math.round(lag.max / 1e6),
      peakRssMiB: Math.round(peakRss / 1024 / 1024),
    };
    await injector.heal();
    await workload.stop();
    const healedAt = performance.now();

    // ---- convergence ------------------------------------------------------------
    let convergedMs: number | null = null;
    let states: Awaited<ReturnType<ChaosCluster['introspect']>>[] = [];
    while (performance.now() - healedAt < convergeBoundMs) {
      try {
        states = await Promise.all(TOPOLOGY.replicas.map((rm) => cluster.introspect(rm)));
        const s0 = states[0]!;
        if (states.every((s) => s.phase === 'serving' && s.digest === s0.digest && V.equals(s.valueTS, s0.valueTS))) {
          convergedMs = Math.round(performance.now() - healedAt);
          break;
        }
      } catch {
        /* a replica not answering yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log(convergedMs === null ? `chaos: replicas did not converge within ${convergeBoundMs} ms` : `chaos: replicas converged ${convergedMs} ms after healing`);

    // ---- final reads --------------------------------------------------------------
    await workload.finalReads();
    const finals: FinalReplica[] = [];
    const addedIds = ackedMovieIds(history.ops);
    for (const rm of TOPOLOGY.replicas) {
      const st = await cluster.introspect(rm);
      const movies = new Map<number, string | null>();
      for (const id of addedIds) {
        const r = await cluster.query(rm, { kind: 'movie', movieId: movieId(id) });
        if (!r.ok && r.code !== 'UNKNOWN_MOVIE') throw new Error(`final read of movie ${id} at ${rm} failed: ${r.code}: ${r.message}`);
        movies.set(id, r.ok && r.result.kind === 'movie' ? r.result.title : null);
      }
      const rows = new Map<string, BaseRow>();
      for (const u of users) {
        const r = await cluster.query(rm, { kind: 'mine', userId: userId(u) });
        if (!r.ok) throw new Error(`final read of user ${u} at ${rm} failed: ${r.code}: ${r.message}`);
        if (r.result.kind !== 'mine') throw new Error(`final read of user ${u} at ${rm}: unexpected ${r.result.kind}`);
        for (const x of r.result.ratings) rows.set(rowKey(u, x.movieId), { rating: x.rating, timestamp: x.timestamp });
      }
      finals.push({ name: rm, id: st.id, phase: st.phase, digest: st.digest, valueTS: st.valueTS, rows, movies });
    }
    const logLengthAfter = (await Promise.all(TOPOLOGY.replicas.map((rm) => cluster.introspect(rm)))).map((s) => s.logLength);

    // ---- judgement ----------------------------------------------------------------
    const result = check({
      ops: history.ops,
      faults: history.faults,
      base,
      users,
      final: { replicas: finals, convergedMs, convergeBoundMs },
      minAvailability: o.minAvailability ?? 0.8,
    });
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, { planned: 0, done: 0, skipped: 0 }])) as Record<FaultKind, { planned: number; done: number; skipped: number }>;
    for (const s of plan) faults[s.kind].planned++;
    for (const f of history.faults) {
      if (f.outcome === 'done') faults[f.kind].done++;
      else if (f.outcome === 'skipped') faults[f.kind].skipped++;
    }
    const proxy = { messages: 0, dropped: 0, resets: 0 };
    for (const p of cluster.proxies()) {
      proxy.messages += p.stats.messages;
      proxy.dropped += p.stats.dropped;
      proxy.resets += p.stats.resets;
    }
    const restarts = Object.fromEntries(cluster.names().map((n) => [n, cluster.starts(n) - 1]));
    const summary: ChaosSummary = {
      seed: o.seed,
      plan: digest,
      runDir,
      durationMs: o.durationMs,
      ok: result.violations.length === 0,
      result,
      faults,
      convergedMs,
      convergeBoundMs,
      restarts,
      proxy,
      logLengthAfter,
      users,
      hotMovies,
      machine,
    };
    history.writeJsonl(path.join(runDir, 'history.jsonl'));
    writeFileSync(path.join(runDir, 'faults.log'), `${faultLog.join('\n')}\n`);
    writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    await admin?.close().catch(() => undefined);
    await workload?.close().catch(() => undefined);
    await cluster.close();
  }
}

/** The summary as text for people. */
export function formatSummary(s: ChaosSummary): string {
  const r = s.result;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const f = r.forced;
  const secs = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(2)} s`);
  const lines = [
    `chaos run, seed ${s.seed} (plan ${s.plan}), ${(s.durationMs / 1000).toFixed(0)} s of faults`,
    `  operations   ${r.ops} (${r.queries} queries, ${r.updates} updates, ${r.acked} updates acknowledged; ${r.exactVersions} with versions known exactly)`,
    `  forced       addMovie ${f.addMovie.acked}/${f.addMovie.sent} acknowledged (${f.addMovie.existed} found the title there); immediate forgetUser ${f.forgetUser.acked}/${f.forgetUser.sent} acknowledged (${f.forgetUser.removed} ratings removed)`,
    `  failovers    ${f.failovers.length} primary kills; from a kill until a forced update issued after it was acknowledged: median ${secs(f.failoverMedianMs)}, max ${secs(f.failoverMaxMs)}${
      f.failovers.some((x) => x.ms === null) ? ` (${f.failovers.filter((x) => x.ms === null).length} with none before the end)` : ''
    }${f.failovers.length ? ` [${f.failovers.map((x) => (x.ms === null ? '–' : (x.ms / 1000).toFixed(2))).join(', ')}]` : ''}`,
    `  availability ${pct(r.availabilityReplicaFaults.share)} ok while at most one replica was down and front ends and naming were up (${r.availabilityReplicaFaults.ok}/${r.availabilityReplicaFaults.total});`,
    `               ${pct(r.availabilityOneDown.share)} while at most one replica was down (${r.availabilityOneDown.ok}/${r.availabilityOneDown.total}); ${pct(r.availability.share)} overall`,
    `  errors       ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  faults       ${Object.entries(s.faults)
      .filter(([, f]) => f.planned > 0)
      .map(([k, f]) => `${k} ${f.done}${f.skipped ? ` (+${f.skipped} skipped)` : ''}`)
      .join(', ')}`,
    `  proxies      ${s.proxy.messages} messages seen, ${s.proxy.dropped} dropped, ${s.proxy.resets} connections cut`,
    `  restarts     ${Object.entries(s.restarts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    `  converged    ${s.convergedMs === null ? `NO (bound ${s.convergeBoundMs} ms)` : `${s.convergedMs} ms after healing`}; logs then ${s.logLengthAfter.join('/')} records`,
    `  machine      load average ${s.machine.loadBefore.toFixed(1)} → ${s.machine.loadAfter.toFixed(1)} on ${s.machine.cpus} CPUs; proxy event-loop delay p99 ${s.machine.lagP99Ms} ms, max ${s.machine.lagMaxMs} ms; chaos process peak RSS ${s.machine.peakRssMiB} MiB`,
    `  violations   ${r.violations.length}${r.excused ? ` (${r.excused} single-copy acknowledgements lost with their killed holder, excused)` : ''}`,
  ];
  for (const v of r.violations.slice(0, 30)) {
    lines.push(`    [${v.rule}] at ${(v.at / 1000).toFixed(2)}s${v.client ? ` ${v.client}` : ''}${v.op ? ` op #${v.op}` : ''}: ${v.detail}`);
  }
  if (r.violations.length > 30) lines.push(`    … ${r.violations.length - 30} more in ${path.join(s.runDir, 'summary.json')}`);
  lines.push(`  logs, plan, history: ${s.runDir}`);
  lines.push(s.ok ? '  OK' : `  FAILED — replay the fault plan with: npm run chaos -- --duration ${(s.durationMs / 1000).toFixed(0)} --seed ${s.seed}`);
  return lines.join('\n');
}
