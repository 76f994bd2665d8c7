/**
 * Acceptance: forced updates on real processes. A naming service and three
 * replicas (voters rm1,rm2,rm3, test profile), talked to directly with
 * socket.io-client the way a front end does:
 * - an addMovie at the primary is acknowledged with the new movie's id (the
 *   highest id + 1), and every replica then knows the movie;
 * - SIGKILL of the primary while add-movies are being sent: a new primary is
 *   elected (timed from the kill to its showing in naming meta), the update
 *   being retried at it is sequenced once, and every acknowledged movie id
 *   is unique;
 * - the killed replica, restarted with the same name and state folder,
 *   comes back with its term and log and follows the new primary.
 * Every wait is on a condition with a deadline; every process is stopped by PID.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nameOf, type ReplicaId } from '../../src/core/ids.js';
import type { ApplyOutcome, Query, QueryResult, Update } from '../../src/core/ops.js';
import type { Member, PrimaryInfo, ReplicaEmit, ReplicaListen, RmQueryReply, RmUpdateReply } from '../../src/core/protocol.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import { sqlJs } from '../../src/data/schema.js';
import { NamingClient } from '../../src/naming/client.js';
import { durableFile } from '../../src/replica/durable.js';
import { buildOnce, Cluster, ROOT } from '../helpers/cluster.js';

buildOnce();

const RUNS = 3;
const quiet = { info() {}, warn() {}, error() {} };
type RmSocket = Socket<ReplicaEmit, ReplicaListen>;

/** The highest movie id of the data file every replica starts from. */
async function highestMovieId(): Promise<number> {
  const SQL = await sqlJs();
  const db = new SQL.Database(readFileSync(path.join(ROOT, 'data/data.sqlite')));
  try {
    return Number(db.exec('SELECT max(movieId) FROM movies')[0]!.values[0]![0]);
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      lastErr = ` (last error: ${(e as Error).message})`;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastErr}`);
    await sleep(everyMs);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/**
 * The test's view of the cluster: the naming list as it changes (who is
 * primary, from replica meta), and one socket per live replica process.
 */
class Rig {
  members: Member[] = [];
  private readonly watchers: ((ms: Member[]) => void)[] = [];
  private readonly sockets = new Map<string, { url: string; s: RmSocket }>();
  private seq = 0;
  constructor(
    readonly c: Cluster,
    private readonly nc: NamingClient,
  ) {
    nc.watch('replica', (ms) => {
      this.members = ms;
      for (const w of this.watchers) w(ms);
    });
  }

  static async open(c: Cluster): Promise<Rig> {
    const nc = new NamingClient({ url: c.namingUrl, secret: c.secret, log: quiet, config: c.config });
    const rig = new Rig(c, nc);
    await waitFor('the naming list', async () => rig.members.length > 0);
    return rig;
  }

  /** The replica naming meta shows as primary (highest term), if any. */
  primary(): { name: string; id: ReplicaId; term: number } | undefined {
    let best: { name: string; id: ReplicaId; term: number } | undefined;
    for (const m of this.members) {
      const p = m.meta.primary as PrimaryInfo | undefined;
      if (p?.role === 'leader' && (!best || p.term > best.term)) best = { name: m.name, id: m.meta.id as ReplicaId, term: p.term };
    }
    return best;
  }

  /** Resolves with the time at which `pred` first held for the naming list. */
  when(pred: (ms: Member[]) => boolean, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const w = (ms: Member[]) => {
        if (!pred(ms)) return;
        this.watchers.splice(this.watchers.indexOf(w), 1);
        clearTimeout(timer);
        resolve(Date.now());
      };
      const timer = setTimeout(() => {
        this.watchers.splice(this.watchers.indexOf(w), 1);
        reject(new Error(`naming list condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.push(w);
      w(this.members);
    });
  }

  socket(name: string): RmSocket {
    const url = this.c.proc(name).url;
    const have = this.sockets.get(name);
    if (have && have.url === url) return have.s;
    have?.s.disconnect();
    const s: RmSocket = io(url, { transports: ['websocket'], auth: { secret: this.c.secret }, reconnection: true });
    this.sockets.set(name, { url, s });
    return s;
  }

  async update(name: string, uid: string, op: Update, timeoutMs = 1500): Promise<RmUpdateReply> {
    const req = { requestId: `t${++this.seq}`, uid, prev: V.zero(), op, issuedAt: Date.now(), copies: [] };
    return (await this.socket(name).timeout(timeoutMs).emitWithAck('update', req as never)) as RmUpdateReply;
  }

  async query(name: string, prev: VTS, query: Query, timeoutMs = 3000): Promise<RmQueryReply> {
    return (await this.socket(name).timeout(timeoutMs).emitWithAck('query', { requestId: `t${++this.seq}`, prev, query } as never)) as RmQueryReply;
  }

  async close(): Promise<void> {
    for (const { s } of this.sockets.values()) s.disconnect();
    await this.nc.close();
  }
}

interface Acked {
  uid: string;
  title: string;
  /** A word only this title contains (for a search). */
  token: string;
  movieId: number;
  ts: VTS;
  /** Replicas tried, in order (one per attempt). */
  tried: string[];
}

/**
 * Sends one addMovie until a primary acknowledges it, the same uid every
 * time: to the primary naming shows, or the one a NOT_PRIMARY reply names;
 * after a timeout or NO_PRIMARY, to whoever naming shows next.
 */
async function addMovie(rig: Rig, token: string, deadlineMs = 20_000): Promise<Acked> {
  const uid = `uid-${token}`;
  const title = `Primary ${token} (2002)`;
  const op: Update = { kind: 'addMovie', title, genres: ['Drama'] };
  const tried: string[] = [];
  const deadline = Date.now() + deadlineMs;
  let target = rig.primary()?.name;
  let last = '';
  while (Date.now() < deadline) {
    if (!target || rig.c.proc(target).dead) {
      await sleep(25);
      target = rig.primary()?.name;
      continue;
    }
    tried.push(target);
    let r: RmUpdateReply;
    try {
      r = await rig.update(target, uid, op);
    } catch (e) {
      last = `${target}: ${(e as Error).message}`;
      target = undefined;
      continue;
    }
    if (r.ok) {
      const result = r.result as ApplyOutcome | undefined;
      if (result?.kind !== 'addMovie') throw new Error(`the acknowledgement of ${uid} carries no addMovie outcome: ${JSON.stringify(r)}`);
      return { uid, title, token, movieId: result.movieId, ts: r.ts, tried };
    }
    last = `${target}: ${r.code} ${r.message}`;
    const leader = (r as { leader?: ReplicaId }).leader;
    if (r.code === 'NOT_PRIMARY' && leader) {
      target = nameOf(leader);
    } else if (r.code === 'NOT_PRIMARY' || r.code === 'NO_PRIMARY' || r.code === 'UNAVAILABLE' || r.code === 'OFFLINE') {
      await sleep(25);
      target = rig.primary()?.name;
    } else {
      throw new Error(`addMovie ${uid} refused: ${last}`);
    }
  }
  throw new Error(`addMovie ${uid} not acknowledged within ${deadlineMs} ms; last: ${last}`);
}

const t = suite('forced updates through an elected primary');
let c: Cluster | undefined;
let rig: Rig | undefined;
let maxId = 0;
/** Every acknowledged addMovie of this suite. */
const acked: Acked[] = [];
const stamp = Date.now().toString(36);

t.before(async () => {
  maxId = await highestMovieId();
  c = await Cluster.start({ frontends: 0, replicas: 3, ...(process.env.HEARSAY_TEST_LOGS ? { logDir: process.env.HEARSAY_TEST_LOGS } : {}) });
  rig = await Rig.open(c);
});
t.after(async () => {
  await rig?.close();
  await c?.close();
});

t('an addMovie at the primary gets the highest movie id + 1, and every replica then knows the movie', async () => {
  const r = rig!;
  const p = await waitFor('a primary in naming meta', async () => r.primary(), 10_000);
  // A replica that is not the primary says which one is.
  const other = c!.replicas.map((x) => x.name).find((n) => n !== p.name)!;
  const refused = await r.update(other, `${stamp}-refused`, { kind: 'addMovie', title: 'Refused Here (2001)', genres: ['Drama'] });
  assert.is(refused.ok, false);
  assert.is(!refused.ok && refused.code, 'NOT_PRIMARY');
  assert.is((refused as { leader?: string }).leader, p.id);

  const a = await addMovie(r, `${stamp}first`);
  acked.push(a);
  assert.is(a.movieId, maxId + 1);
  assert.equal(a.tried, [p.name], 'acknowledged by the primary at the first try');
  for (const rm of c!.replicas) {
    const q = await waitFor(`${rm.name} answers a movie query for ${a.movieId}`, async () => {
      const x = await r.query(rm.name, a.ts, { kind: 'movie', movieId: a.movieId as never });
      return x.ok ? x : undefined;
    });
    const m = q.ok && (q.result as Extract<QueryResult, { kind: 'movie' }>);
    assert.is(m && m.title, a.title, rm.name);
  }
});

t(`the primary killed while add-movies are sent: a new primary takes over, a retried uid is sequenced once, ids stay unique; the killed one restarts as a follower with its term and log (${RUNS} runs)`, async () => {
  const r = rig!;
  const cl = c!;
  const electionMs: number[] = [];
  const retriedUids: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    await waitFor('a settled cluster', async () => {
      const p = r.primary();
      // Start from a settled cluster: every replica serving and following that primary.
      if (!p || cl.replicas.length !== 3) return undefined;
      const sts = await Promise.all(cl.replicas.map((x) => cl.introspect(x.name)));
      return sts.every((s) => s.phase === 'serving' && s.primary?.term === p.term && (s.primary.leader === p.id || s.name === p.name)) ? p : undefined;
    }, 20_000);
    // Add-movies from two clients, one after the other each, until told to stop.
    let stop = false;
    let n = 0;
    const mine: Acked[] = [];
    const client = async (k: number) => {
      while (!stop) {
        const i = n++;
        mine.push(await addMovie(r, `${stamp}r${run}c${k}n${i}x`));
      }
    };
    const load = Promise.all([client(0), client(1)]);
    await waitFor('a few add-movies acknowledged', async () => mine.length >= 6, 10_000, 10);
    // The primary of the moment (it may have changed since the cluster settled), and its term and log.
    const { old, before } = await waitFor('the primary to kill', async () => {
      const p = r.primary();
      const st = p && (await cl.introspect(p.name));
      return st && st.primary?.role === 'leader' && st.primary.term === p.term ? { old: p, before: st } : undefined;
    });
    const newPrimaryAt = r.when((ms) => ms.some((m) => m.name !== old.name && (m.meta.primary as PrimaryInfo | undefined)?.role === 'leader' && (m.meta.primary as PrimaryInfo).term > before.primary!.term), 15_000);
    const killedAt = Date.now();
    await cl.kill(old.name, 'SIGKILL');
    const seenAt = await newPrimaryAt;
    electionMs.push(seenAt - killedAt);
    const ackedAtKill = mine.length;
    await waitFor('add-movies acknowledged by the new primary', async () => mine.length >= ackedAtKill + 6, 15_000, 10);
    stop = true;
    await load;
    const fresh = r.primary()!;
    assert.is.not(fresh.name, old.name);
    // Updates first sent to the killed primary and acknowledged by the new one.
    const retried = mine.filter((a) => a.tried.includes(old.name) && a.tried.at(-1) !== old.name);
    retriedUids.push(...retried.map((a) => a.uid));
    acked.push(...mine);

    // The killed replica comes back under its name and state folder.
    const file = durableFile(cl.stateDir, old.name);
    const restarted = await cl.restart(old.name);
    const loaded = /primary state from .*: term (\d+), voted for \S+, forced log of (\d+) entries/.exec(restarted.log());
    assert.ok(loaded, `${old.name} read ${file}:\n${restarted.logTail(20)}`);
    assert.ok(Number(loaded![1]) >= before.primary!.term, `term ${loaded![1]} kept (was ${before.primary!.term})`);
    assert.ok(Number(loaded![2]) >= before.primary!.logLength, `log of ${loaded![2]} entries kept (had ${before.primary!.logLength})`);
    await waitFor(
      `${old.name} follows the new primary ${fresh.name}`,
      async () => {
        const [st, lead] = await Promise.all([cl.introspect(old.name), cl.introspect(fresh.name)]);
        return st.phase === 'serving' && st.primary?.role === 'follower' && st.primary.leader === fresh.id && st.primary.term === lead.primary!.term && st.primary.commit === lead.primary!.commit;
      },
      20_000,
    );
    process.stdout.write(`\n    run ${run + 1}: killed ${old.name} (term ${old.term}); ${fresh.name} primary in naming after ${electionMs.at(-1)} ms; ${mine.length} add-movies, ${retried.length} retried at the new primary`);
  }
  process.stdout.write(`\n    kill to new primary in naming meta: median ${median(electionMs)} ms (runs: ${electionMs.join(', ')} ms)\n`);
  assert.ok(retriedUids.length >= 1, 'at least one add-movie was in flight at a kill and retried at the new primary');

  // Every acknowledged id is unique, and they are exactly the ids after the data file's highest.
  const ids = acked.map((a) => a.movieId).sort((a, b) => a - b);
  assert.is(new Set(ids).size, ids.length, 'no two acknowledged add-movies got the same id');
  assert.equal(ids, ids.map((_, i) => maxId + 1 + i), 'ids are the highest id + 1, + 2, ... without gaps');
  // Each uid was sequenced once: the forced counter of every replica is the number of uids.
  const sts = await cl.waitForConvergence(20_000);
  for (const st of sts) assert.is(V.get(st.valueTS, 'forced' as ReplicaId), acked.length, `${st.name} applied ${acked.length} forced updates`);
  // And each retried title is one movie everywhere.
  for (const uid of retriedUids) {
    const a = acked.find((x) => x.uid === uid)!;
    for (const rm of cl.replicas) {
      const q = await r.query(rm.name, a.ts, { kind: 'search', words: a.token, limit: 10 });
      assert.ok(q.ok, JSON.stringify(q));
      const found = q.ok ? (q.result as Extract<QueryResult, { kind: 'search' }>).movies : [];
      assert.equal(found.map((m) => m.movieId), [a.movieId], `${rm.name}: ${a.title}`);
    }
  }
});

t.run();
