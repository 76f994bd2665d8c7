/**
 * Benchmark clients: real `Session`s that issue requests in a closed loop,
 * time each one, and check every answer about their own rows.
 *
 * Each client owns one user id above the data file's users, so the ratings
 * of that user are exactly the client's acknowledged writes. A `get` of one
 * of its rows must return its last acknowledged write of that row, and
 * `mine` must list exactly its rows (read your writes; since only the client
 * writes them, this also covers monotonic reads). A reply's value timestamp
 * must cover the session timestamp the client sent (monotonic reads).
 * An answer showing a value the client wrote earlier is *stale*; one showing
 * a value it never wrote is *wrong*. A failed update makes that row unknown
 * until the client writes it again.
 */
import type { Config } from '../src/core/config.js';
import type { MovieId, UserId } from '../src/core/ids.js';
import type { Query, QueryResult, Update } from '../src/core/ops.js';
import type { ClientReply } from '../src/core/protocol.js';
import * as V from '../src/core/vts.js';
import { Session } from '../src/client/session.js';
import { now } from './stats.js';
import { pick, random, randomQuery, randomRating, type Fn, type Workload } from './workload.js';

export interface RequestRecord {
  readonly fn: Fn;
  readonly client: number;
  /** ms on the `now()` clock of the process that ran it. */
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly code?: string | undefined;
}

export interface CheckCounts {
  wrong: number;
  stale: number;
  violations: string[];
}

/** What a benchmark client needs of a session (a real `Session`, or a stand-in in tests). */
export interface SessionLike {
  readonly prev: V.VTS;
  query(q: Query): Promise<ClientReply>;
  update(op: Update): Promise<ClientReply>;
  close(): Promise<void>;
}

/** A client's own rows: movie → last acknowledged rating (null = deleted), or 'unknown' after a failed write. */
type Model = Map<number, number | null | 'unknown'>;

export class BenchClient {
  readonly model: Model = new Map();
  /** Every value this client ever had acknowledged per movie (to tell stale from wrong). */
  private readonly history = new Map<number, Set<number | null>>();
  private readonly rnd: () => number;
  readonly movies: number[];

  constructor(
    readonly index: number,
    readonly session: SessionLike,
    readonly user: number,
    private readonly w: Workload,
    readonly checks: CheckCounts,
    seed: number,
    ownMovies: number,
  ) {
    this.rnd = random(seed);
    const set = new Set<number>();
    while (set.size < Math.min(ownMovies, w.movies.length)) set.add(pick(this.rnd, w.movies));
    this.movies = [...set];
  }

  static async connect(o: {
    index: number;
    naming: string;
    user: number;
    config: Config;
    workload: Workload;
    checks: CheckCounts;
    seed: number;
    ownMovies?: number;
    preferFrontend?: string | undefined;
  }): Promise<BenchClient> {
    const session = await Session.connect({
      naming: o.naming,
      user: o.user as UserId,
      config: o.config,
      ...(o.preferFrontend ? { preferFrontend: o.preferFrontend } : {}),
    });
    return new BenchClient(o.index, session, o.user, o.workload, o.checks, o.seed, o.ownMovies ?? 16);
  }

  close(): Promise<void> {
    return this.session.close();
  }

  /** Runs one request of function `fn`; `own` makes get/mine ask about this client's rows (and check them). */
  async run(fn: Fn, own = true): Promise<RequestRecord> {
    const start = now();
    let reply: ClientReply;
    let check: ((r: QueryResult) => void) | undefined;
    const before = this.session.prev;
    try {
      switch (fn) {
        case 'rate':
        case 'delete': {
          const movie = pick(this.rnd, this.movies);
          const op: Update =
            fn === 'rate'
              ? { kind: 'rate', userId: this.user as UserId, movieId: movie as MovieId, rating: randomRating(this.rnd), timestamp: Math.floor(Date.now() / 1000) }
              : { kind: 'delete', userId: this.user as UserId, movieId: movie as MovieId, timestamp: Math.floor(Date.now() / 1000) };
          this.model.set(movie, 'unknown');
          reply = await this.session.update(op);
          if (reply.ok) this.wrote(movie, op.kind === 'rate' ? op.rating : null);
          break;
        }
        case 'get':
        case 'mine': {
          let q: Query;
          if (own && fn === 'get') {
            const movie = pick(this.rnd, this.movies);
            q = { kind: 'get', userId: this.user as UserId, movieId: movie as MovieId };
            check = (r) => this.checkGet(movie, r);
          } else if (own) {
            q = { kind: 'mine', userId: this.user as UserId };
            check = (r) => this.checkMine(r);
          } else q = randomQuery(this.rnd, this.w, fn);
          reply = await this.session.query(q);
          break;
        }
        default:
          reply = await this.session.query(randomQuery(this.rnd, this.w, fn));
      }
    } catch (e) {
      return { fn, client: this.index, start, end: now(), ok: false, code: (e as Error).name === 'OpError' ? String((e as { code?: unknown }).code) : 'THROWN' };
    }
    const end = now();
    if (!reply.ok) return { fn, client: this.index, start, end, ok: false, code: reply.code };
    if (reply.kind === 'query') {
      try {
        if (!V.leq(before, V.parse(reply.valueTS))) this.violation('stale', `client ${this.index}: ${fn} answered from value ${V.format(V.parse(reply.valueTS))}, older than the session's ${V.format(before)}`);
      } catch {
        this.violation('wrong', `client ${this.index}: ${fn} reply without a valid value timestamp`);
      }
      if (check) check(reply.result as QueryResult);
    }
    return { fn, client: this.index, start, end, ok: true };
  }

  private wrote(movie: number, value: number | null): void {
    this.model.set(movie, value);
    let h = this.history.get(movie);
    if (!h) this.history.set(movie, (h = new Set([null])));
    h.add(value);
  }

  private violation(kind: 'wrong' | 'stale', text: string): void {
    this.checks[kind]++;
    if (this.checks.violations.length < 50) this.checks.violations.push(`${kind}: ${text}`);
  }

  private classify(movie: number, got: number | null): 'wrong' | 'stale' {
    return (this.history.get(movie) ?? new Set([null])).has(got) ? 'stale' : 'wrong';
  }

  private checkGet(movie: number, r: QueryResult): void {
    const want = this.model.get(movie) ?? null;
    if (want === 'unknown') return;
    if (r.kind !== 'get') return this.violation('wrong', `client ${this.index}: get answered a ${r.kind} result`);
    if (r.rating !== want) this.violation(this.classify(movie, r.rating), `client ${this.index} (user ${this.user}): get movie ${movie} gave ${r.rating}, last write was ${want}`);
  }

  private checkMine(r: QueryResult): void {
    if (r.kind !== 'mine') return this.violation('wrong', `client ${this.index}: mine answered a ${r.kind} result`);
    const got = new Map(r.ratings.map((x) => [x.movieId as number, x.rating]));
    for (const movie of new Set([...got.keys(), ...this.model.keys()])) {
      const want = this.model.get(movie) ?? null;
      if (want === 'unknown') continue;
      const g = got.get(movie) ?? null;
      if (g !== want) {
        this.violation(this.classify(movie, g), `client ${this.index} (user ${this.user}): mine shows movie ${movie} as ${g}, last write was ${want}`);
        return;
      }
    }
  }
}

/** Picks a function for the throughput mix: 90% queries, 10% updates. */
export function mixFn(rnd: () => number): { fn: Fn; own: boolean } {
  const x = rnd();
  if (x < 0.07) return { fn: 'rate', own: true };
  if (x < 0.1) return { fn: 'delete', own: true };
  if (x < 0.4) return { fn: 'get', own: true };
  if (x < 0.5) return { fn: 'mine', own: true };
  if (x < 0.6) return { fn: 'get', own: false };
  if (x < 0.72) return { fn: 'avg', own: false };
  if (x < 0.84) return { fn: 'movie', own: false };
  return { fn: 'search', own: false };
}

export interface LoadOptions {
  readonly naming: string;
  readonly config: Config;
  readonly workload: Workload;
  readonly clients: number;
  /** First client's index (clients are numbered across processes) and user id. */
  readonly firstIndex: number;
  readonly userBase: number;
  readonly durationMs: number;
  readonly maxOps: number;
  readonly seed: number;
  /** Only updates (rate and delete) instead of the 90/10 mix. */
  readonly updatesOnly?: boolean;
  readonly ownMovies?: number;
  /** Called after every `progressEvery` (default 1000) operations. */
  readonly progress?: (ops: number) => void;
  readonly progressEvery?: number;
}

export interface LoadResult {
  readonly ops: number;
  readonly durationMs: number;
  readonly queryMs: number[];
  readonly updateMs: number[];
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly checks: CheckCounts;
  /** CPU time of this process during the run (ms, user + system). */
  readonly cpuMs: number;
}

/**
 * Connects `clients` sessions and runs them in a closed loop until the
 * duration or the op budget runs out (whichever is first).
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const checks: CheckCounts = { wrong: 0, stale: 0, violations: [] };
  const clients = await Promise.all(
    Array.from({ length: o.clients }, (_, i) =>
      BenchClient.connect({
        index: o.firstIndex + i,
        naming: o.naming,
        user: o.userBase + o.firstIndex + i,
        config: o.config,
        workload: o.workload,
        checks,
        seed: o.seed + o.firstIndex + i,
        ownMovies: o.ownMovies ?? 16,
      }),
    ),
  );
  const queryMs: number[] = [];
  const updateMs: number[] = [];
  const errors: Record<string, number> = {};
  let failed = 0;
  let ops = 0;
  try {
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const stopAt = t0 + o.durationMs;
    await Promise.all(
      clients.map(async (c, i) => {
        const rnd = random(o.seed * 31 + o.firstIndex + i);
        while (now() < stopAt && ops < o.maxOps) {
          ops++;
          const { fn, own } = o.updatesOnly ? { fn: (rnd() < 0.8 ? 'rate' : 'delete') as Fn, own: true } : mixFn(rnd);
          const r = await c.run(fn, own);
          if (!r.ok) {
            failed++;
            errors[r.code ?? 'ERROR'] = (errors[r.code ?? 'ERROR'] ?? 0) + 1;
          } else (fn === 'rate' || fn === 'delete' ? updateMs : queryMs).push(r.end - r.start);
          if (o.progress && ops % (o.progressEvery ?? 1000) === 0) o.progress(ops);
        }
      }),
    );
    const durationMs = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ops, durationMs, queryMs, updateMs, failed, errors, checks, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
