/**
 * Orderings: what forced and immediate updates cost next to causal ones, and
 * how long forced updates stop when the primary dies.
 *
 * - Latency. One client, through one front end, one request at a time, in
 *   rounds of three: a causal `rate` of its own user, a forced `addMovie` of
 *   a title nobody used, and an immediate `forgetUser` of a data-file user
 *   who has ratings (each user once). Interleaving the three keeps drift in
 *   the machine's load out of the comparison: each kind is quoted × the
 *   two-hop floor and × the p50 of the `rate`s of the same rounds.
 * - Failover. The primary (the replica whose introspection says it leads, the
 *   highest term if two do) is SIGKILLed; right away the client issues
 *   addMovie, one after another, until one is acknowledged (each request is
 *   already retried by the front end and the session while there is no
 *   primary): kill → that acknowledgement. The replica is then restarted
 *   under its name (it keeps its state folder) and the cluster waited on
 *   before the next trial. Median over the trials.
 */
import type { MovieId, UserId } from '../src/core/ids.js';
import type { ClientReply, Introspection } from '../src/core/protocol.js';
import { Session } from '../src/client/session.js';
import type { Cluster } from '../tests/helpers/cluster.js';
import { median, now, summarize } from './stats.js';
import type { FailoverTrial, OrderingKind, OrderingsResult } from './types.js';
import { BENCH_USER_BASE, pick, random, randomRating, type Workload } from './workload.js';

export interface OrderingsOptions {
  readonly cluster: Cluster;
  readonly workload: Workload;
  /** Rounds of (rate, addMovie, forgetUser); at most one per data-file user. */
  readonly rounds: number;
  /** Unmeasured rounds first (of rate and addMovie only: forgets use up users). */
  readonly warmup: number;
  readonly failovers: number;
  /** Longest wait for a forced update after a kill, and for the cluster after a restart. */
  readonly failoverTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** The client's own user (no other section uses this block). */
const USER = BENCH_USER_BASE + 300_000;
const GENRES = ['Drama', 'Comedy', 'Thriller', 'Documentary'];

/** The replica that is primary: the leader of the highest term. */
export function primaryOf(states: readonly Introspection[]): Introspection | undefined {
  let best: Introspection | undefined;
  for (const s of states) if (s.primary?.role === 'leader' && (!best || s.primary.term > best.primary!.term)) best = s;
  return best;
}

async function states(c: Cluster): Promise<Introspection[]> {
  const out: Introspection[] = [];
  for (const p of c.replicas) {
    try {
      out.push(await c.introspect(p.name, 2000));
    } catch {
      /* not answering right now */
    }
  }
  return out;
}

/** Waits until every replica serves and one of them is primary. */
async function settled(c: Cluster, timeoutMs: number): Promise<Introspection> {
  const deadline = now() + timeoutMs;
  let why = '';
  while (now() < deadline) {
    const st = await states(c);
    const p = primaryOf(st);
    if (st.length === c.replicas.length && st.every((s) => s.phase === 'serving') && p) return p;
    why = p ? `${st.filter((s) => s.phase === 'serving').length} of ${c.replicas.length} replicas serving` : 'no primary';
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the cluster did not settle within ${timeoutMs} ms (${why})`);
}

export async function measureOrderings(o: OrderingsOptions): Promise<OrderingsResult> {
  const c = o.cluster;
  const rnd = random(8080);
  const session = await Session.connect({ naming: c.namingUrl, user: USER as UserId, config: c.config, preferFrontend: c.frontends[0]?.name });
  let titles = 0;
  const title = () => `Bench ${process.pid} ${++titles} (${1950 + (titles % 80)})`;
  const addMovie = (): Promise<ClientReply> => session.addMovie(title(), [pick(rnd, GENRES)]);
  const rate = (): Promise<ClientReply> => session.update({ kind: 'rate', userId: USER as UserId, movieId: pick(rnd, o.workload.movies) as MovieId, rating: randomRating(rnd), timestamp: Math.floor(Date.now() / 1000) });
  const errors: Record<string, number> = {};
  const note = (r: ClientReply) => {
    if (!r.ok) errors[r.code] = (errors[r.code] ?? 0) + 1;
  };
  try {
    await settled(c, o.failoverTimeoutMs);
    for (let i = 0; i < o.warmup; i++) {
      note(await rate());
      note(await addMovie());
    }
    // Users to forget: data-file users, in a seeded order, each once.
    const users = [...o.workload.users];
    for (let i = users.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [users[i], users[j]] = [users[j]!, users[i]!];
    }
    const rounds = Math.min(o.rounds, users.length);
    const times: Record<OrderingKind, number[]> = { rate: [], addMovie: [], forgetUser: [] };
    const failed: Record<OrderingKind, number> = { rate: 0, addMovie: 0, forgetUser: 0 };
    const removed: number[] = [];
    const timed = async (kind: OrderingKind, send: () => Promise<ClientReply>): Promise<ClientReply> => {
      const t0 = now();
      const r = await send();
      const ms = now() - t0;
      note(r);
      if (r.ok) times[kind].push(ms);
      else failed[kind]++;
      return r;
    };
    for (let i = 0; i < rounds; i++) {
      await timed('rate', rate);
      await timed('addMovie', addMovie);
      const r = await timed('forgetUser', () => session.forgetUser(users[i]! as UserId));
      if (r.ok && r.kind === 'update' && r.result?.kind === 'forgetUser' && r.result.removed !== undefined) removed.push(r.result.removed);
    }
    const rateP50 = summarize(times.rate).p50;
    o.log(
      `orderings: ${rounds} rounds; p50 rate ${rateP50.toFixed(2)} ms, addMovie ${summarize(times.addMovie).p50.toFixed(2)} ms, forgetUser ${summarize(times.forgetUser).p50.toFixed(2)} ms`,
    );

    // ---- failover ------------------------------------------------------------
    const trials: FailoverTrial[] = [];
    for (let t = 0; t < o.failovers; t++) {
      const p = await settled(c, o.failoverTimeoutMs);
      // The forced path works before the kill (the front ends know the primary).
      const before = await addMovie();
      note(before);
      const victim = p.name;
      const term = p.primary?.term ?? 0;
      const t0 = now();
      await c.kill(victim);
      let attempts = 0;
      let ms: number | null = null;
      const trialErrors: Record<string, number> = {};
      while (now() - t0 < o.failoverTimeoutMs) {
        attempts++;
        const r = await addMovie();
        if (r.ok) {
          ms = now() - t0;
          break;
        }
        trialErrors[r.code] = (trialErrors[r.code] ?? 0) + 1;
      }
      const after = primaryOf(await states(c));
      trials.push({ killed: victim, term, ms, attempts, errors: trialErrors, newPrimary: after?.name ?? null, newTerm: after?.primary?.term ?? null });
      o.log(`orderings: failover ${t + 1}: killed ${victim} (primary of term ${term}); ${ms === null ? 'no forced update acknowledged' : `forced update acknowledged after ${Math.round(ms)} ms`} (${attempts} request(s)); new primary ${after?.name ?? '?'}`);
      await c.restart(victim);
      await c.waitForMembers({ replicas: c.replicas.length, names: [victim], timeoutMs: o.failoverTimeoutMs });
    }
    await settled(c, o.failoverTimeoutMs);
    const ended = trials.map((x) => x.ms).filter((x): x is number => x !== null);
    return {
      rounds,
      rate: summarize(times.rate),
      addMovie: summarize(times.addMovie),
      forgetUser: summarize(times.forgetUser),
      failed,
      errors,
      removedMedian: removed.length ? median(removed) : 0,
      failover: { trials, medianMs: ended.length ? median(ended) : null, maxMs: ended.length ? Math.max(...ended) : null },
    };
  } finally {
    await session.close();
  }
}
