/**
 * The benchmark's command line and the size of each mode's run.
 */
import path from 'node:path';
import { ROOT } from './proc.js';
import type { Mode } from './types.js';

export const SECTIONS = ['floor', 'latency', 'throughput', 'orderings', 'convergence', 'memory', 'startup'] as const;
export type Section = (typeof SECTIONS)[number];

export const USAGE = `usage: npm run bench [-- --quick | --tiny] [--out DIR] [--only ${SECTIONS.join(',')}] [--from results.json] [--logs DIR]

Benchmarks hearsay with real processes on 127.0.0.1 and writes results.md,
results.json and latency.svg to DIR (default docs/bench); the markdown report
also goes to stdout, progress to stderr.

  --quick      smaller counts and shorter runs (under a minute)
  --tiny       the smallest run that still covers every section (for tests)
  --out DIR    where to write the results (default docs/bench)
  --only LIST  run only these sections (comma-separated)
  --from FILE  measure nothing: rebuild the report, targets and chart from a results.json
  --logs DIR   keep every cluster process's log in DIR`;

export interface Params {
  /** One cluster for every section (memory first), instead of one for latency and throughput and a fresh one for memory and convergence. */
  shareCluster: boolean;
  floor: { warmup: number; roundTrips: number; storeQueries: number };
  latency: { perFn: number; warmupRounds: number; beforeKillMs: number; afterPerFn: number; maxAfterMs: number; burst: number };
  throughput: { clientCounts: number[]; durationMs: number; procs: number; procsWhen: 'always' | 'needed'; idleMs: number };
  orderings: { rounds: number; warmup: number; failovers: number; failoverTimeoutMs: number };
  convergence: { sizes: number[]; trials: number; timeoutMs: number };
  memory: { updates: number; clients: number; maxMs: number };
  startup: { runs: number };
}

export const PARAMS: Record<Mode, Params> = {
  full: {
    shareCluster: false,
    floor: { warmup: 1000, roundTrips: 10_000, storeQueries: 2000 },
    latency: { perFn: 1000, warmupRounds: 20, beforeKillMs: 3000, afterPerFn: 200, maxAfterMs: 20_000, burst: 20 },
    throughput: { clientCounts: [1, 4, 16], durationMs: 10_000, procs: 4, procsWhen: 'always', idleMs: 3000 },
    orderings: { rounds: 300, warmup: 20, failovers: 5, failoverTimeoutMs: 30_000 },
    convergence: { sizes: [4, 8, 16, 32], trials: 20, timeoutMs: 10_000 },
    memory: { updates: 100_000, clients: 16, maxMs: 15 * 60_000 },
    startup: { runs: 5 },
  },
  quick: {
    shareCluster: true,
    floor: { warmup: 300, roundTrips: 2000, storeQueries: 300 },
    latency: { perFn: 100, warmupRounds: 3, beforeKillMs: 800, afterPerFn: 20, maxAfterMs: 8000, burst: 10 },
    throughput: { clientCounts: [1, 4, 16], durationMs: 1500, procs: 4, procsWhen: 'needed', idleMs: 1000 },
    orderings: { rounds: 40, warmup: 3, failovers: 3, failoverTimeoutMs: 20_000 },
    convergence: { sizes: [4, 8], trials: 5, timeoutMs: 5000 },
    memory: { updates: 2000, clients: 16, maxMs: 5000 },
    startup: { runs: 1 },
  },
  tiny: {
    shareCluster: true,
    floor: { warmup: 100, roundTrips: 300, storeQueries: 50 },
    latency: { perFn: 10, warmupRounds: 1, beforeKillMs: 300, afterPerFn: 3, maxAfterMs: 6000, burst: 4 },
    throughput: { clientCounts: [1, 4], durationMs: 800, procs: 2, procsWhen: 'always', idleMs: 300 },
    orderings: { rounds: 5, warmup: 1, failovers: 1, failoverTimeoutMs: 20_000 },
    convergence: { sizes: [4], trials: 2, timeoutMs: 5000 },
    memory: { updates: 200, clients: 4, maxMs: 5000 },
    startup: { runs: 1 },
  },
};

export interface BenchArgs {
  mode: Mode;
  out: string;
  only: Set<Section>;
  from?: string | undefined;
  logs?: string | undefined;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs | { error: string } | 'help' {
  let mode: Mode = 'full';
  let from: string | undefined;
  let logs: string | undefined;
  let out = path.join(ROOT, 'docs/bench');
  let only = new Set<Section>(SECTIONS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--quick') mode = 'quick';
    else if (a === '--tiny') mode = 'tiny';
    else if (a === '--out' || a.startsWith('--out=')) {
      const v = a === '--out' ? argv[++i] : a.slice(6);
      if (!v) return { error: '--out needs a directory' };
      out = path.resolve(v);
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice(7);
      if (!v) return { error: '--only needs a list of sections' };
      const list = v.split(',').map((s) => s.trim());
      const bad = list.filter((s) => !(SECTIONS as readonly string[]).includes(s));
      if (bad.length) return { error: `unknown section(s) ${bad.join(', ')}; sections: ${SECTIONS.join(', ')}` };
      only = new Set(list as Section[]);
    } else if (a === '--from' || a.startsWith('--from=')) {
      const v = a === '--from' ? argv[++i] : a.slice(7);
      if (!v) return { error: '--from needs a results.json file' };
      from = path.resolve(v);
    } else if (a === '--logs' || a.startsWith('--logs=')) {
      const v = a === '--logs' ? argv[++i] : a.slice(7);
      if (!v) return { error: '--logs needs a directory' };
      logs = path.resolve(v);
    } else return { error: `unknown argument "${a}"` };
  }
  return { mode, out, only, from, logs };
}

