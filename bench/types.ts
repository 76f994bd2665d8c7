/**
 * The shape of a benchmark run's results (docs/bench/results.json).
 * Times are milliseconds; sizes MB; rates per second.
 */
import type { FloorResult } from './floor.js';
import type { Summary } from './stats.js';
import type { Fn } from './workload.js';

export const RESULTS_VERSION = 1;

export type Mode = 'full' | 'quick' | 'tiny';

export type ScenarioId = 'normal' | 'fe-killed' | 'rm-killed' | 'newest-rm-killed';
export const SCENARIOS: readonly { id: ScenarioId; title: string }[] = [
  { id: 'normal', title: '1. all normal' },
  { id: 'fe-killed', title: '2. one front end killed' },
  { id: 'rm-killed', title: '3. one replica killed' },
  { id: 'newest-rm-killed', title: '4. replica with the newest updates killed right after the ack' },
];

export interface Ratios {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface FnLatency {
  /** Every successful request of this function in the scenario. */
  readonly all: Summary;
  readonly ratio: Ratios;
  /** Requests started once every client had failed over (scenarios 2–4). */
  readonly afterFailover?: Summary | undefined;
  readonly afterRatio?: Ratios | undefined;
  readonly failed: number;
}

export interface ScenarioResult {
  readonly id: ScenarioId;
  readonly title: string;
  readonly clients: number;
  readonly requests: number;
  readonly functions: Record<Fn, FnLatency>;
  /** Requests that came back with an error (or threw), in total. */
  readonly failed: number;
  /** Of those, requests started after the failover had completed. */
  readonly failedAfterFailover: number;
  /**
   * From the kill until the failover was over: the naming service no longer
   * listed the killed member, every client had a request started after the
   * kill succeed, and every request started before that moment had ended.
   */
  readonly failoverMs: number | null;
  /** The longest single request that spanned the kill. */
  readonly longestRequestMs: number | null;
  /** What was killed. */
  readonly killed?: string | undefined;
  /** Scenario 4: updates acknowledged before the kill that a later read did not show. */
  readonly lostUpdates?: number | undefined;
  readonly errors: Record<string, number>;
  /** Answers about the clients' own rows that broke read-your-writes / monotonic reads. */
  readonly wrong: number;
  readonly stale: number;
  readonly violations: readonly string[];
}

export interface ThroughputRow {
  readonly clients: number;
  /** Where the clients ran: this process, or `procs` load generator processes. */
  readonly generator: 'in-process' | 'processes';
  readonly procs: number;
  readonly durationMs: number;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly queries: Summary;
  readonly updates: Summary;
  readonly all: Summary;
  readonly failed: number;
  readonly errors: Readonly<Record<string, number>>;
  /** Answers that broke read-your-writes or monotonic reads for the client's own rows. */
  readonly wrong: number;
  readonly stale: number;
  /** CPU used by the load generator(s), as a share of one core (1 = one core busy). */
  readonly generatorCpu: number;
  /** CPU used by each cluster process during the run, as a share of one core. */
  readonly clusterCpu: Readonly<Record<string, number>>;
  readonly violations: readonly string[];
}

export interface ConvergenceRow {
  readonly replicas: number;
  readonly trials: number;
  /** Ack → applied at every replica (median over trials; p max over trials). */
  readonly ms: Summary;
  /** ms / gossipIntervalMs (median trial). */
  readonly rounds: number;
  /** Gossip hops from the trace events: depth of the tree the update spread along (median trial), or null if not told. */
  readonly hops: number | null;
  readonly targetRounds: number;
  readonly gossipIntervalMs: number;
  readonly timedOut: number;
}

/** The three orderings of updates, as the client functions that have them. */
export type OrderingKind = 'rate' | 'addMovie' | 'forgetUser';
export const ORDERING_KINDS: readonly { id: OrderingKind; ordering: 'causal' | 'forced' | 'immediate' }[] = [
  { id: 'rate', ordering: 'causal' },
  { id: 'addMovie', ordering: 'forced' },
  { id: 'forgetUser', ordering: 'immediate' },
];

export interface FailoverTrial {
  /** The replica that was primary, and its term. */
  readonly killed: string;
  readonly term: number;
  /** SIGKILL → the first forced update acknowledged again; null if none within the timeout. */
  readonly ms: number | null;
  /** addMovie requests issued until then (each retried by the front end and the session). */
  readonly attempts: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly newPrimary: string | null;
  readonly newTerm: number | null;
}

export interface OrderingsResult {
  /** Rounds of (rate, addMovie, forgetUser), one request at a time through one front end. */
  readonly rounds: number;
  readonly rate: Summary;
  readonly addMovie: Summary;
  readonly forgetUser: Summary;
  readonly failed: Readonly<Record<OrderingKind, number>>;
  readonly errors: Readonly<Record<string, number>>;
  /** Ratings a forget removed (median over the forgets). */
  readonly removedMedian: number;
  readonly failover: { readonly trials: readonly FailoverTrial[]; readonly medianMs: number | null; readonly maxMs: number | null };
}

export interface ProcessMemory {
  readonly name: string;
  readonly kind: 'naming' | 'frontend' | 'replica';
  readonly pid: number;
  readonly afterLoadMB: number | null;
  /** After the first tenth of the updates (allocation warm-up done). */
  readonly afterWarmupMB: number | null;
  readonly afterUpdatesMB: number | null;
  readonly settledMB: number | null;
}

export interface ReplicaGrowth {
  readonly name: string;
  readonly logLengthAfterLoad: number | null;
  readonly logLengthAfterUpdates: number | null;
  readonly logLengthSettled: number | null;
  readonly executedAfterLoad: number | null;
  readonly executedAfterUpdates: number | null;
  readonly executedSettled: number | null;
  readonly tableAfterUpdates: number | null;
  readonly ratings: number | null;
}

export interface MemoryResult {
  readonly updates: number;
  /** Distinct (user, movie) rows the updates overwrite. */
  readonly rows: number;
  /** Updates done when the warm-up sample was taken. */
  readonly warmupUpdates: number;
  readonly updatesPerSec: number;
  readonly failed: number;
  /** Failed updates by error code. */
  readonly errors: Readonly<Record<string, number>>;
  readonly processes: readonly ProcessMemory[];
  readonly replicas: readonly ReplicaGrowth[];
  /** During the update run: RSS samples of the first replica (MB), to show flatness. */
  readonly rssTrace: readonly { readonly updates: number; readonly mb: number }[];
  /** RSS of a bare Node process, and of one that only loaded the data file into the sql.js store. */
  readonly baseline: { readonly nodeMB: number; readonly nodeWithStoreMB: number } | null;
}

export interface StartupResult {
  readonly command: string;
  /** Runs (median taken). */
  readonly runs: number;
  /** What the launcher printed as its own figure (ms), median. */
  readonly launcherMs: number | null;
  /** Spawn → every member registered (seen in naming), measured from outside, median. */
  readonly wallMs: number | null;
  /** Spawn → the launcher exited after `quit`, median. */
  readonly exitMs: number | null;
  readonly output: string;
}

export interface Target {
  readonly id: string;
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
  /** e.g. "missed by 2.3×" / "met with 40% to spare" / "not measured". */
  readonly note: string;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryMB: number;
  readonly node: string;
  readonly platform: string;
  /** Load average (1, 5, 15 minutes) when the run started. */
  readonly loadAvg: readonly number[];
  /** …and when it ended. */
  readonly loadAvgEnd?: readonly number[] | undefined;
}

export interface BenchResults {
  readonly version: typeof RESULTS_VERSION;
  readonly mode: Mode;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: MachineInfo;
  readonly setup: { readonly frontends: number; readonly replicas: number; readonly dataFile: string; readonly ratings: number; readonly profile: string; readonly gossipIntervalMs: number };
  readonly floor: FloorResult | null;
  readonly latency: readonly ScenarioResult[];
  readonly throughput: readonly ThroughputRow[];
  /** CPU of each cluster process with no client (share of one core), measured before the throughput runs. */
  readonly idleCpu: Readonly<Record<string, number>>;
  readonly convergence: readonly ConvergenceRow[];
  readonly memory: MemoryResult | null;
  readonly startup: StartupResult | null;
  /** Forced and immediate updates next to causal ones, and the primary's failover (absent in results from before it was measured). */
  readonly orderings?: OrderingsResult | null | undefined;
  readonly targets: readonly Target[];
  /** Sections that failed, with why. */
  readonly failures: readonly { readonly section: string; readonly error: string }[];
  readonly notes: readonly string[];
}
