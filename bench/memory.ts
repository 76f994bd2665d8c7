/**
 * Memory: resident set size (VmRSS from /proc/<pid>/status) of every process
 * of a fresh cluster right after it loaded the data file, after a run of
 * updates, and once the replicas have converged after it ("settled"); with
 * the replicas' log lengths and executed-update tables from introspection.
 *
 * The updates overwrite a bounded set of rows (clients × 50 movies each),
 * so the data itself does not grow: what grows, if anything, is the
 * algorithm's bookkeeping (log, executed table).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Introspection } from '../src/core/protocol.js';
import type { Cluster } from '../tests/helpers/cluster.js';
import { runLoad } from './clients.js';
import { ROOT, rssMB } from './proc.js';
import { now } from './stats.js';
import type { MemoryResult, ProcessMemory, ReplicaGrowth } from './types.js';
import { BENCH_USER_BASE, type Workload } from './workload.js';

/** Movies each updating client writes again and again. */
const OWN_MOVIES = 50;

export interface MemoryOptions {
  readonly workload: Workload;
  readonly dataFile: string;
  readonly updates: number;
  readonly clients: number;
  readonly maxMs: number;
  readonly log: (line: string) => void;
}

async function introspectAll(c: Cluster): Promise<Map<string, Introspection>> {
  const out = new Map<string, Introspection>();
  await Promise.all(
    c.replicas.map(async (p) => {
      try {
        out.set(p.name, await c.introspect(p.name, 10_000));
      } catch {
        /* reported as missing */
      }
    }),
  );
  return out;
}

async function rssAll(c: Cluster): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  for (const p of [c.naming, ...c.frontends, ...c.replicas]) out.set(p.name, await rssMB(p.pid));
  return out;
}

/**
 * What a replica cannot go below: RSS of a bare Node process, and of one that
 * has loaded the data file into the sql.js store (the compiled store module,
 * no server, no socket.io).
 */
export async function baseline(dataFile: string): Promise<{ nodeMB: number; nodeWithStoreMB: number } | null> {
  const script = `
    const fs = require('node:fs');
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const bare = rss();
    import(${JSON.stringify(path.join(ROOT, 'dist/src/replica/store/sqlite-store.js'))})
      .then((m) => m.loadSqliteStore(${JSON.stringify(dataFile)}))
      .then(() => process.stdout.write(JSON.stringify({ nodeMB: bare, nodeWithStoreMB: rss() })));`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { cwd: ROOT, timeout: 60_000 }, (err, stdout) => {
      if (err) return resolve(null);
      try {
        resolve(JSON.parse(stdout) as { nodeMB: number; nodeWithStoreMB: number });
      } catch {
        resolve(null);
      }
    });
  });
}

/** Measures on `c`, a cluster just started (its processes have only loaded the data). */
export async function measureMemory(o: MemoryOptions, c: Cluster): Promise<MemoryResult> {
  const base = await baseline(o.dataFile);
  await c.waitForConvergence(30_000, 200);
  const rssLoad = await rssAll(c);
  const insLoad = await introspectAll(c);
  o.log(`memory: after load: ${[...rssLoad].map(([n, mb]) => `${n} ${mb?.toFixed(1)} MB`).join(', ')}`);

  const firstRm = c.replicas[0]!;
  const trace: { updates: number; mb: number }[] = [];
  const first = await rssMB(firstRm.pid);
  if (first !== null) trace.push({ updates: 0, mb: first });
  // Samples: the first replica every twentieth of the run; every process once a tenth of the
  // run is done (allocation warm-up over) — a tenth of the updates or of the time, whichever comes first.
  let rssWarm: Promise<Map<string, number | null>> | undefined;
  let warmAt = 0;
  let done = 0;
  let nextSample = 0;
  const t0 = now();
  const tick = setInterval(() => {
    const elapsed = now() - t0;
    if (!rssWarm && (done >= o.updates / 10 || elapsed >= o.maxMs / 10) && done > 0) {
      warmAt = done;
      rssWarm = rssAll(c);
    }
    if (done >= nextSample) {
      nextSample = done + Math.max(1, o.updates / 20);
      const at = done;
      void rssMB(firstRm.pid).then((mb) => {
        if (mb !== null && at > 0) trace.push({ updates: at, mb });
      });
    }
  }, 100);
  let lastLog = t0;
  let r: Awaited<ReturnType<typeof runLoad>>;
  try {
    r = await runLoad({
      naming: c.namingUrl,
      config: c.config,
      workload: o.workload,
      clients: o.clients,
      firstIndex: 0,
      userBase: BENCH_USER_BASE + 200_000,
      durationMs: o.maxMs,
      maxOps: o.updates,
      seed: 9,
      updatesOnly: true,
      ownMovies: OWN_MOVIES,
      progressEvery: 10,
      progress: (ops) => {
        done = ops;
        if (now() - lastLog >= 10_000) {
          lastLog = now();
          o.log(`memory: ${ops} updates (${Math.round((ops / (now() - t0)) * 1000)} /s)`);
        }
      },
    });
  } finally {
    clearInterval(tick);
  }
  const warm = rssWarm ? await rssWarm : new Map<string, number | null>();
  const rssAfter = await rssAll(c);
  const insAfter = await introspectAll(c);
  const last = await rssMB(firstRm.pid);
  if (last !== null) trace.push({ updates: r.ops, mb: last });
  try {
    await c.waitForConvergence(30_000, 200);
  } catch (e) {
    o.log(`memory: replicas did not converge after the updates: ${(e as Error).message.slice(0, 300)}`);
  }
  const rssSettled = await rssAll(c);
  const insSettled = await introspectAll(c);
  const processes: ProcessMemory[] = [c.naming, ...c.frontends, ...c.replicas].map((p) => ({
    name: p.name,
    kind: p.kind,
    pid: p.pid,
    afterLoadMB: rssLoad.get(p.name) ?? null,
    afterWarmupMB: warm.get(p.name) ?? null,
    afterUpdatesMB: rssAfter.get(p.name) ?? null,
    settledMB: rssSettled.get(p.name) ?? null,
  }));
  const replicas: ReplicaGrowth[] = c.replicas.map((p) => {
    const a = insLoad.get(p.name);
    const b = insAfter.get(p.name);
    const s = insSettled.get(p.name);
    return {
      name: p.name,
      logLengthAfterLoad: a?.logLength ?? null,
      logLengthAfterUpdates: b?.logLength ?? null,
      logLengthSettled: s?.logLength ?? null,
      executedAfterLoad: a?.executed ?? null,
      executedAfterUpdates: b?.executed ?? null,
      executedSettled: s?.executed ?? null,
      tableAfterUpdates: b ? Object.keys(b.table).length : null,
      ratings: s?.ratings ?? b?.ratings ?? null,
    };
  });
  return {
    updates: r.ops,
    updatesPerSec: (r.ops / r.durationMs) * 1000,
    failed: r.failed,
    errors: r.errors,
    processes,
    replicas,
    rssTrace: trace.sort((x, y) => x.updates - y.updates),
    baseline: base,
    rows: o.clients * OWN_MOVIES,
    warmupUpdates: warmAt,
  };
}
