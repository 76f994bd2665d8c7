/**
 * npm run bench [-- --quick | --tiny] [--out DIR] [--only floor,latency,...] [--from results.json]
 *
 * Measures hearsay on this machine with real processes on 127.0.0.1:
 * the floor (bare socket.io round trips, sql.js query time), response time
 * per client function in four scenarios (normal, front end killed, replica
 * killed, replica with the newest updates killed), throughput, forced and
 * immediate updates next to causal ones and the primary's failover,
 * convergence, memory and start-up. Prints a markdown report on stdout (progress on
 * stderr) and writes results.md, results.json and latency.svg to DIR
 * (default docs/bench).
 *
 *   --quick   smaller counts and shorter runs (under a minute)
 *   --tiny    the smallest run that still exercises every section (tests)
 *   --from F  rebuild the report, targets and chart from a results.json (no measuring)
 *
 * Every load is bounded in count and time. Every process started is stopped
 * by PID, also on Ctrl-C. Exit status 0, or 1 if a section failed (the
 * others still run and are reported), 2 for bad arguments.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from '../tests/helpers/cluster.js';
import { measureConvergence } from './convergence.js';
import { measureFloor, type FloorResult } from './floor.js';
import { measureLatency } from './latency.js';
import { measureMemory } from './memory.js';
import { measureOrderings } from './orderings.js';
import { PARAMS, parseBenchArgs, USAGE } from './args.js';
import { killAllNow, ROOT, stopAll } from './proc.js';
import { evaluateTargets, toMarkdown, writeOutputs } from './report.js';
import { now } from './stats.js';
import { measureStartup } from './startup.js';
import { measureThroughput } from './throughput.js';
import { RESULTS_VERSION, type BenchResults, type ConvergenceRow, type MemoryResult, type OrderingsResult, type ScenarioResult, type StartupResult, type ThroughputRow } from './types.js';
import { loadWorkload } from './workload.js';

function machine(): BenchResults['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    memoryMB: Math.round(os.totalmem() / 2 ** 20),
    node: process.versions.node,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAvg: os.loadavg(),
  };
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if ('error' in args) {
    process.stderr.write(`bench: ${args.error}\n${USAGE}\n`);
    return 2;
  }
  if (args.from) {
    const old = JSON.parse(await readFile(args.from, 'utf8')) as BenchResults;
    if (old.version !== RESULTS_VERSION) {
      process.stderr.write(`bench: ${args.from} has results version ${String(old.version)}, expected ${RESULTS_VERSION}\n`);
      return 2;
    }
    const again: BenchResults = { ...old, targets: evaluateTargets(old) };
    const md = toMarkdown(again);
    process.stdout.write(`${md}\n`);
    await writeOutputs(args.out, again, md);
    return 0;
  }
  const p = PARAMS[args.mode];
  const started = new Date();
  const t0 = now();
  const log = (line: string) => process.stderr.write(`bench [${((now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  const dataFile = path.join(ROOT, 'data/data.sqlite');
  const frontends = 2;
  const replicas = 4;
  const failures: { section: string; error: string }[] = [];
  const notes: string[] = [];
  const fail = (section: string, e: unknown) => {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    failures.push({ section, error });
    log(`${section} failed: ${error.split('\n')[0]}`);
  };

  const m = machine();
  log(`${args.mode} run; results go to ${args.out}; load average ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')}`);
  const workload = await loadWorkload(dataFile);
  let floor: FloorResult | null = null;
  let latency: ScenarioResult[] = [];
  let throughput: ThroughputRow[] = [];
  let idleCpu: Record<string, number> = {};
  let convergence: ConvergenceRow[] = [];
  let memory: MemoryResult | null = null;
  let startup: StartupResult | null = null;
  let orderings: OrderingsResult | null = null;
  let gossipIntervalMs = 0;

  // 1. Floor, first, in the same run as everything it is compared with.
  if (args.only.has('floor')) {
    try {
      floor = await measureFloor({ ...p.floor, dataFile, workload, log });
    } catch (e) {
      fail('floor', e);
    }
  }

  // With --logs DIR every cluster process's log is kept in DIR/<cluster>/<name>.log.
  const logDir = (what: string): { logDir?: string } => (args.logs ? { logDir: path.join(args.logs, what.replace(/[^a-z0-9]+/gi, '-')) } : {});
  const startCluster = async (what: string): Promise<Cluster | undefined> => {
    try {
      const c0 = now();
      const c = await Cluster.start({ frontends, replicas, profile: 'default', readyTimeoutMs: 60_000, ...logDir(what) });
      gossipIntervalMs = c.config.gossipIntervalMs;
      log(`${what}: ${frontends} front ends and ${replicas} replicas up in ${Math.round(now() - c0)} ms`);
      return c;
    } catch (e) {
      fail(`${what} start`, e);
      return undefined;
    }
  };
  const runMemory = async (c: Cluster) => {
    try {
      memory = await measureMemory({ workload, dataFile, ...p.memory, log }, c);
    } catch (e) {
      fail('memory', e);
    }
  };
  const runLatencyAndThroughput = async (c: Cluster) => {
    if (args.only.has('latency')) {
      const r = await measureLatency({ cluster: c, workload, floorMs: floor?.twoHop.p50 ?? 0, ...p.latency, log });
      latency = r.results;
      failures.push(...r.failures);
    }
    if (args.only.has('throughput')) {
      try {
        const t = await measureThroughput({ cluster: c, workload, ...p.throughput, log });
        throughput = t.rows;
        idleCpu = t.idleCpu;
      } catch (e) {
        fail('throughput', e);
      }
    }
    // Last on this cluster: it forgets data-file users and kills the primary.
    if (args.only.has('orderings')) {
      try {
        orderings = await measureOrderings({ cluster: c, workload, ...p.orderings, log });
      } catch (e) {
        fail('orderings', e);
      }
    }
  };
  const runConvergence = async (c: Cluster | undefined) => {
    try {
      const r = await measureConvergence({ workload, ...p.convergence, log, ...logDir('convergence') }, c && p.convergence.sizes[0] === c.replicas.length ? c : undefined);
      convergence = r.rows;
      for (const f of r.failures) fail(f.section, f.error);
    } catch (e) {
      fail('convergence', e);
    }
  };
  const wantsMain = args.only.has('latency') || args.only.has('throughput') || args.only.has('orderings');
  const wantsFresh = args.only.has('memory') || args.only.has('convergence');

  if (p.shareCluster) {
    // Quick runs: one cluster for everything. Memory goes first, while its processes have only loaded the data.
    const c = wantsMain || wantsFresh ? await startCluster('cluster') : undefined;
    if (c) {
      try {
        if (args.only.has('memory')) await runMemory(c);
        await runLatencyAndThroughput(c);
        if (args.only.has('convergence')) await runConvergence(c);
      } finally {
        await c.close();
      }
    }
  } else {
    // 2, 3 and 7 on one cluster; 5 on a fresh one (its processes have only loaded the data); 4 on its own.
    const a = wantsMain ? await startCluster('cluster for latency and throughput') : undefined;
    if (a) {
      try {
        await runLatencyAndThroughput(a);
      } finally {
        await a.close();
      }
    }
    const b = args.only.has('memory') ? await startCluster('fresh cluster for memory') : undefined;
    if (b) {
      try {
        await runMemory(b);
      } finally {
        await b.close();
      }
    }
    // Convergence on a cluster of its own (one front end): growing it means snapshots, which the
    // memory run's history (tens of thousands of remembered updates) would make large.
    if (args.only.has('convergence')) await runConvergence(undefined);
  }

  if (args.only.has('startup')) {
    try {
      startup = await measureStartup({ ...p.startup, frontends, replicas, timeoutMs: 60_000, log });
    } catch (e) {
      fail('startup', e);
    }
  }

  // Notes that explain the figures.
  if (args.mode !== 'full') {
    notes.push(
      `${args.mode} mode: small samples (${p.latency.perFn} requests per function, ${p.throughput.durationMs} ms per throughput run, ${p.orderings.rounds} rounds of forced and immediate updates and ${p.orderings.failovers} primary kill(s), ${p.memory.updates.toLocaleString('en-US')} updates, convergence up to ${Math.max(...p.convergence.sizes)} replicas${
        p.shareCluster ? '; one cluster served every section, memory first' : ''
      }); run \`npm run bench\` for the full figures.`,
    );
  }
  const largestClients = Math.max(...p.throughput.clientCounts);
  const inproc = throughput.find((t) => t.generator === 'in-process' && t.clients === largestClients);
  const procs = throughput.find((t) => t.generator === 'processes');
  if (inproc && procs) {
    const gain = procs.opsPerSec / inproc.opsPerSec;
    notes.push(
      `Load generation: ${inproc.clients} clients in this process reached ${Math.round(inproc.opsPerSec)} ops/s using ${Math.round(inproc.generatorCpu * 100)}% of a core; spread over ${procs.procs} processes ${Math.round(procs.opsPerSec)} ops/s (${gain.toFixed(2)}×). ${
        gain > 1.15 ? 'One process was a limit; the multi-process figure is the one that counts.' : 'One process was not the limit: the cluster was.'
      }`,
    );
  } else if (inproc) {
    notes.push(`Load generation: ${inproc.clients} clients in this process used ${Math.round(inproc.generatorCpu * 100)}% of a core, so one process was not the limit (not repeated over several processes).`);
  }
  const loadAvgEnd = os.loadavg();
  const clusterProcs = 1 + frontends + replicas;
  if (m.cpus < clusterProcs) notes.push(`This machine has ${m.cpus} cores for ${clusterProcs} cluster processes plus the load generators: the processes compete for CPU, which shows in every latency and throughput figure.`);
  if (m.loadAvg[0]! > m.cpus) notes.push(`The machine was busy when the run started (load average ${m.loadAvg[0]!.toFixed(1)} on ${m.cpus} cores): figures are noisier and slower than on an idle machine.`);
  if (loadAvgEnd[1]! > m.cpus + 1) {
    notes.push(`Load average over the last 5 minutes of the run: ${loadAvgEnd[1]!.toFixed(1)} on ${m.cpus} cores, of which about ${clusterProcs} processes' worth is the benchmark's own cluster.`);
  }

  const partial: BenchResults = {
    version: RESULTS_VERSION,
    mode: args.mode,
    startedAt: started.toISOString(),
    durationMs: now() - t0,
    machine: { ...m, loadAvgEnd },
    setup: { frontends, replicas, dataFile: path.relative(ROOT, dataFile), ratings: workload.ratings, profile: 'default', gossipIntervalMs: gossipIntervalMs || convergence[0]?.gossipIntervalMs || 0 },
    floor,
    latency,
    throughput,
    idleCpu,
    convergence,
    memory,
    startup,
    orderings,
    targets: [],
    failures,
    notes,
  };
  const results: BenchResults = { ...partial, targets: evaluateTargets(partial) };
  const md = toMarkdown(results);
  process.stdout.write(`${md}\n`);
  const files = await writeOutputs(args.out, results, md);
  log(`wrote ${files.map((f) => path.relative(process.cwd(), f) || f).join(', ')}`);
  return failures.length > 0 ? 1 : 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`bench: ${sig}: stopping every process it started\n`);
    killAllNow();
    // The cluster helper's exit hook kills the cluster processes by PID.
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    await stopAll();
    process.exit(1);
  },
);
