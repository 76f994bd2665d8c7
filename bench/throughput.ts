/**
 * Throughput: 1, 4 and 16 concurrent clients (Sessions) in closed loops,
 * 90% queries / 10% updates, each client checking read-your-writes and
 * monotonic reads on its own rows.
 *
 * Clients run in this process; for the largest count they also run spread
 * over several load generator processes (loadgen.ts), and the CPU each
 * generator used is reported, so one can tell whether a single Node process
 * was the bottleneck.
 */
import type { Cluster } from '../tests/helpers/cluster.js';
import { runLoad, type LoadOptions, type LoadResult } from './clients.js';
import { cpuMs, startProc, tsNode } from './proc.js';
import { busiest } from './report.js';
import { now, summarize } from './stats.js';
import type { ThroughputRow } from './types.js';
import { BENCH_USER_BASE, type Workload } from './workload.js';

export interface ThroughputOptions {
  readonly cluster: Cluster;
  readonly workload: Workload;
  readonly clientCounts: readonly number[];
  readonly durationMs: number;
  /** Also run the largest count over this many generator processes (0: never)… */
  readonly procs: number;
  /** …always, or only when the in-process generator used more than half a core (it may then have been the limit). */
  readonly procsWhen: 'always' | 'needed';
  /** How long the idle cluster's CPU use is measured. */
  readonly idleMs: number;
  readonly log: (line: string) => void;
}

/** CPU use of every cluster process over a run, as a share of one core. */
async function cpuMeter(c: Cluster): Promise<() => Promise<Record<string, number>>> {
  const procs = [c.naming, ...c.frontends, ...c.replicas];
  const before = new Map<string, number | null>();
  for (const p of procs) before.set(p.name, await cpuMs(p.pid));
  const t0 = now();
  return async () => {
    const wall = now() - t0;
    const out: Record<string, number> = {};
    for (const p of procs) {
      const a = before.get(p.name);
      const b = await cpuMs(p.pid);
      if (a !== null && a !== undefined && b !== null) out[p.name] = (b - a) / wall;
    }
    return out;
  };
}

function row(clients: number, generator: ThroughputRow['generator'], procs: number, parts: readonly LoadResult[], cpu: Record<string, number>): ThroughputRow {
  const durationMs = Math.max(...parts.map((p) => p.durationMs));
  const ops = parts.reduce((s, p) => s + p.ops, 0);
  const queries = parts.flatMap((p) => p.queryMs);
  const updates = parts.flatMap((p) => p.updateMs);
  const violations = parts.flatMap((p) => p.checks.violations).slice(0, 20);
  return {
    clients,
    generator,
    procs,
    durationMs,
    ops,
    opsPerSec: (ops / durationMs) * 1000,
    queries: summarize(queries),
    updates: summarize(updates),
    all: summarize([...queries, ...updates]),
    failed: parts.reduce((s, p) => s + p.failed, 0),
    errors: parts.reduce<Record<string, number>>((acc, p) => {
      for (const [k, v] of Object.entries(p.errors)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    wrong: parts.reduce((s, p) => s + p.checks.wrong, 0),
    stale: parts.reduce((s, p) => s + p.checks.stale, 0),
    generatorCpu: Math.max(...parts.map((p) => p.cpuMs / p.durationMs)),
    clusterCpu: cpu,
    violations,
  };
}

/** Runs `clients` sessions spread over `procs` generator processes. */
async function runInProcesses(
  base: Omit<LoadOptions, 'clients' | 'firstIndex' | 'progress'>,
  clients: number,
  procs: number,
  ready: () => Promise<void>,
): Promise<LoadResult[]> {
  const cmd = tsNode('bench/loadgen.ts', []);
  const gens = await Promise.all(Array.from({ length: procs }, () => startProc(cmd.cmd, cmd.args, { ready: /ready at (\S+)/, timeoutMs: 20_000, ipc: true })));
  try {
    await ready();
    let first = 0;
    const runs = gens.map((g, i) => {
      const n = Math.floor(clients / procs) + (i < clients % procs ? 1 : 0);
      const opts: Omit<LoadOptions, 'progress'> = { ...base, clients: n, firstIndex: first };
      first += n;
      return new Promise<LoadResult>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`load generator ${g.pid} did not report in time\n${g.stderrTail()}`)), base.durationMs + 60_000);
        g.child.once('message', (m: { result?: LoadResult; error?: string }) => {
          clearTimeout(timer);
          if (m.result) resolve(m.result);
          else reject(new Error(`load generator ${g.pid}: ${m.error ?? 'no result'}`));
        });
        void g.exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`load generator ${g.pid} exited (${code})\n${g.stderrTail()}`));
        });
        g.child.send({ start: opts });
      });
    });
    return await Promise.all(runs);
  } finally {
    await Promise.all(gens.map((g) => g.stop()));
  }
}

export async function measureThroughput(o: ThroughputOptions): Promise<{ rows: ThroughputRow[]; idleCpu: Record<string, number> }> {
  const c = o.cluster;
  const rows: ThroughputRow[] = [];
  // What the cluster burns with no client at all (gossip, heartbeats), to tell it from the cost of requests.
  const idleMeter = await cpuMeter(c);
  await new Promise((r) => setTimeout(r, o.idleMs));
  const idleCpu = await idleMeter();
  o.log(`throughput: idle cluster CPU ${busiest(idleCpu)}`);
  let run = 0;
  const base = (): Omit<LoadOptions, 'clients' | 'firstIndex' | 'progress'> => ({
    naming: c.namingUrl,
    config: c.config,
    workload: o.workload,
    // A fresh block of users per run: each starts with no rows.
    userBase: BENCH_USER_BASE + 100_000 + 1000 * ++run,
    durationMs: o.durationMs,
    maxOps: Number.MAX_SAFE_INTEGER,
    seed: 100 + run,
  });
  for (const n of o.clientCounts) {
    const t0 = now();
    const meter = await cpuMeter(c);
    const r = await runLoad({ ...base(), clients: n, firstIndex: 0 });
    const x = row(n, 'in-process', 1, [r], await meter());
    rows.push(x);
    o.log(`throughput: ${n} clients in this process: ${Math.round(x.opsPerSec)} ops/s, p50 ${x.all.p50.toFixed(2)} ms, p99 ${x.all.p99.toFixed(2)} ms, generator CPU ${Math.round(x.generatorCpu * 100)}%, cluster CPU ${busiest(x.clusterCpu)}, ${x.failed} failed, ${x.wrong} wrong, ${x.stale} stale (${Math.round(now() - t0)} ms)`);
  }
  const largest = Math.max(...o.clientCounts);
  const single = rows.find((x) => x.clients === largest);
  const needed = !single || single.generatorCpu > 0.5;
  if (o.procs > 1 && largest >= o.procs && !needed && o.procsWhen === 'needed') {
    o.log(`throughput: one process generated ${largest} clients' load with ${Math.round((single?.generatorCpu ?? 0) * 100)}% of a core; not repeating it over ${o.procs} processes`);
  }
  if (o.procs > 1 && largest >= o.procs && (needed || o.procsWhen === 'always')) {
    const t0 = now();
    let meter: (() => Promise<Record<string, number>>) | undefined;
    const parts = await runInProcesses(base(), largest, o.procs, async () => {
      meter = await cpuMeter(c);
    });
    const x = row(largest, 'processes', o.procs, parts, meter ? await meter() : {});
    rows.push(x);
    o.log(`throughput: ${largest} clients in ${o.procs} processes: ${Math.round(x.opsPerSec)} ops/s, p50 ${x.all.p50.toFixed(2)} ms, p99 ${x.all.p99.toFixed(2)} ms, generator CPU ≤ ${Math.round(x.generatorCpu * 100)}% each (${Math.round(now() - t0)} ms)`);
  }
  return { rows, idleCpu };
}
