/**
 * Replica manager processes (compiled bin entry, data/data.sqlite) around an
 * in-process naming service, driven through the raw socket API the front
 * ends use. Every wait is on a condition with a deadline.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig } from '../../src/core/config.js';
import type { MovieId, ReplicaId, RequestId, UpdateId, UserId } from '../../src/core/ids.js';
import type { Query, Update } from '../../src/core/ops.js';
import type { Introspection, Member, Reply, ReplicaMeta, RmQueryReply, RmTraceEvent, RmUpdateReply } from '../../src/core/protocol.js';
import { connected, type Logger } from '../../src/core/sockets.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import { NamingClient } from '../../src/naming/client.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
execFileSync('bash', [path.join(root, 'bin/ensure-built.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
const MAIN = path.join(root, 'dist/src/replica/main.js');
const SECRET = 'test-secret-1';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

// ---------------------------------------------------------------------------
// Processes

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  url: string;
  stderr: string;
  readyMs: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];
process.on('exit', () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

async function startProc(args: string[], name: string, deadlineMs = 15_000): Promise<Proc> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    name,
    child,
    url: '',
    stderr: '',
    readyMs: 0,
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  procs.push(p);
  child.stderr!.on('data', (b: Buffer) => {
    p.stderr += b.toString();
    if (p.stderr.length > 200_000) p.stderr = p.stderr.slice(-100_000);
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${deadlineMs} ms:\n${p.stderr}`)), deadlineMs);
    lines.on('line', (line) => {
      const m = /^hearsay replica (\S+) ready at (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[2]!);
      }
    });
    void p.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before ready:\n${p.stderr}`));
    });
  });
  p.url = url;
  p.readyMs = performance.now() - t0;
  return p;
}

function replica(naming: string, name: string, extra: string[] = []): Promise<Proc> {
  return startProc(['--naming', naming, '--name', name, '--profile', 'test', '--secret', SECRET, ...extra], name);
}

async function stopAll(): Promise<void> {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 3000);
      await p.exited;
      clearTimeout(t);
    }
  }
}

// ---------------------------------------------------------------------------
// The raw socket API

const sockets: Socket[] = [];

/** Connects with the cluster secret, another secret, or (null) none. */
async function connectTo(url: string, secret: string | null = SECRET): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], auth: secret ? { secret } : {}, reconnection: false });
  sockets.push(s);
  await connected(s, url);
  return s;
}

function closeSockets(): void {
  for (const s of sockets.splice(0)) s.close();
}

async function call<T>(s: Socket, event: string, ...args: unknown[]): Promise<T> {
  return (await s.timeout(5000).emitWithAck(event, ...args)) as T;
}

/** Movie ids that exist in data/data.sqlite (its ids have gaps). */
const MOVIES = [1, 2, 9, 10, 11, 12, 15, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 34];
const movie = (i: number) => MOVIES[i % MOVIES.length]!;

let seq = 0;
const rid = () => `t${process.pid}-${++seq}` as RequestId;
const rate = (user: number, movie: number, rating: number): Update => ({
  kind: 'rate',
  userId: user as UserId,
  movieId: movie as MovieId,
  rating,
  timestamp: 1_700_000_000 + seq,
});
const get = (user: number, movie: number): Query => ({ kind: 'get', userId: user as UserId, movieId: movie as MovieId });

function query(s: Socket, prev: VTS, q: Query): Promise<RmQueryReply> {
  return call(s, 'query', { requestId: rid(), prev, query: q });
}

function update(s: Socket, prev: VTS, op: Update, uid: string, copies: ReplicaId[] = []): Promise<RmUpdateReply> {
  return call(s, 'update', { requestId: rid(), uid, prev, op, issuedAt: Date.now(), copies });
}

async function introspect(s: Socket): Promise<Introspection> {
  const r = await call<Reply<{ state: Introspection }>>(s, 'introspect', {});
  if (!r.ok) throw new Error(`introspect: ${r.code} ${r.message}`);
  return r.state;
}

/** Logs an update at two replicas, as a front end does; returns the merged timestamps. */
async function twinUpdate(a: Socket, aId: ReplicaId, b: Socket, bId: ReplicaId, prev: VTS, op: Update): Promise<VTS> {
  const uid = `test:${rid()}`;
  const [ra, rb] = await Promise.all([update(a, prev, op, uid, [bId]), update(b, prev, op, uid, [aId])]);
  assert.ok(ra.ok && rb.ok, `${JSON.stringify(ra)} ${JSON.stringify(rb)}`);
  return V.merge(ra.ok ? ra.ts : V.zero(), rb.ok ? rb.ts : V.zero());
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, deadlineMs = 8000): Promise<T> {
  const end = performance.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

// ---------------------------------------------------------------------------

let naming: NamingHandle;

const t = suite('replica process');

t.before(async () => {
  naming = await startNaming({ config: testConfig, log: quiet, secret: SECRET });
});

t.after.each(async () => {
  closeSockets();
  await stopAll();
});

t.after(async () => {
  await naming.close();
});

t('an update made through one replica is applied and visible at a second one after gossip', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'up-1'), replica(naming.url, 'up-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  // Whichever registered second recovers from the first's snapshot; wait until both serve.
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  const [i1, i2] = await Promise.all([introspect(s1), introspect(s2)]);
  await waitFor('peers know each other', async () => (await introspect(s1)).members.includes(i2.id) && (await introspect(s2)).members.includes(i1.id));
  // One copy at replica 1 only: replica 1 recruits replica 2 for the second copy, and gossip spreads it.
  const r = await update(s1, V.zero(), rate(5042, 1, 4.5), `test:${rid()}`, []);
  assert.ok(r.ok, JSON.stringify(r));
  const seen = await waitFor('the rating at replica 2', async () => {
    const q = await query(s2, V.zero(), get(5042, 1));
    return q.ok && q.result.kind === 'get' && q.result.rating === 4.5 ? q : undefined;
  });
  assert.ok(seen.ok && V.leq(r.ok ? r.ts : V.zero(), seen.valueTS), 'the reply covers the update');
  const j2 = await introspect(s2);
  assert.ok(j2.counters.applied! >= 1);
  assert.is(j2.ratings, i2.ratings + 1);
});

t('a query whose prev is ahead is held, pulled for, and answered once the update arrives', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'hold-1'), replica(naming.url, 'hold-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  const [id1, id2] = [(await introspect(s1)).id, (await introspect(s2)).id];
  const ts1 = await twinUpdate(s1, id1, s2, id2, V.zero(), rate(5043, 1, 2));
  // The session depends on replica 1's next update, which replica 2 cannot have yet: held, and pulled for.
  const prev = V.withEntry(ts1, id1, V.get(ts1, id1) + 1);
  const t0 = performance.now();
  const pending = query(s2, prev, get(5043, 1));
  const during = await waitFor('the query to be held', async () => {
    const st = await introspect(s2);
    return st.held > 0 && st.counters.pullsSent! > 0 ? st : undefined;
  });
  assert.ok(during.held >= 1);
  await twinUpdate(s1, id1, s2, id2, ts1, rate(5043, 1, 3.5));
  const q = await pending;
  const ms = performance.now() - t0;
  assert.ok(q.ok, JSON.stringify(q));
  assert.ok(q.ok && q.result.kind === 'get' && q.result.rating === 3.5, 'the answer includes the update it waited for');
  assert.ok(q.ok && V.leq(prev, q.valueTS));
  assert.is((await introspect(s2)).held, 0);
  console.log(`    held query answered ${ms.toFixed(0)} ms after it arrived`);
});

t('more client requests waiting than config.overloadInflight report OVERLOADED until they are answered', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'load-1'), replica(naming.url, 'load-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  const r = await update(s1, V.zero(), rate(5044, 1, 3), `test:${rid()}`, []);
  assert.ok(r.ok);
  const n = testConfig.overloadInflight + 6;
  const waiting = Array.from({ length: n }, () => query(s2, r.ok ? r.ts : V.zero(), get(5044, 1)));
  await waitFor('OVERLOADED', async () => (await introspect(s2)).status === 'OVERLOADED');
  const replies = await Promise.all(waiting);
  assert.ok(replies.every((q) => q.ok), 'all answered');
  await waitFor('ACTIVE again', async () => (await introspect(s2)).status === 'ACTIVE');
});

t('an OFFLINE replica refuses clients with OFFLINE and shows it in introspection and naming meta', async () => {
  const p1 = await replica(naming.url, 'off-1');
  const s1 = await connectTo(p1.url);
  const set = await call<Reply<{ status: string }>>(s1, 'setStatus', { status: 'OFFLINE' });
  assert.equal(set, { ok: true, status: 'OFFLINE' });
  const q = await query(s1, V.zero(), get(1, 1));
  assert.ok(!q.ok && q.code === 'OFFLINE', JSON.stringify(q));
  const u = await update(s1, V.zero(), rate(1, 1, 3), `test:${rid()}`);
  assert.ok(!u.ok && u.code === 'OFFLINE', JSON.stringify(u));
  assert.is((await introspect(s1)).status, 'OFFLINE');
  const nc = new NamingClient({ url: naming.url, log: quiet, config: testConfig });
  try {
    const meta = await waitFor('OFFLINE in naming meta', async () => {
      const m = await nc.lookup('off-1');
      const meta = m?.meta as ReplicaMeta | undefined;
      return meta?.status === 'OFFLINE' ? meta : undefined;
    });
    assert.is(meta.phase, 'serving');
    assert.is(meta.id, (await introspect(s1)).id);
    await call(s1, 'setStatus', { status: 'ACTIVE' });
    await waitFor('ACTIVE in naming meta', async () => ((await nc.lookup('off-1'))?.meta as ReplicaMeta | undefined)?.status === 'ACTIVE');
    assert.ok((await query(s1, V.zero(), get(1, 1))).ok);
  } finally {
    await nc.close();
  }
});

t('malformed payloads to every event get error replies and the process stays up', async () => {
  const p1 = await replica(naming.url, 'bad-1');
  const s1 = await connectTo(p1.url);
  const bad: [string, unknown[]][] = [
    ['query', [undefined, 42, 'x', null, [], {}, { requestId: 'a', prev: { x: -1 }, query: { kind: 'avg', movieId: 1 } }, { requestId: 'a', prev: {}, query: { kind: 'avg', movieId: 1.5 } }, { requestId: 'a', prev: {}, query: { kind: 'nope' } }, { requestId: 'a', prev: { ['k'.repeat(100)]: 1 }, query: { kind: 'mine', userId: 1 } }, { requestId: 'a', prev: {}, query: { kind: 'search', words: 'w'.repeat(1000) } }]],
    ['update', [undefined, 7, {}, { requestId: 'a', uid: 'u', prev: {}, op: { kind: 'rate', userId: 1, movieId: 1, rating: 'five', timestamp: 1 }, issuedAt: 1, copies: [] }, { requestId: 'a', uid: '', prev: {}, op: { kind: 'delete', userId: 1, movieId: 1, timestamp: 1 }, issuedAt: 1, copies: [] }, { requestId: 'a', uid: 'u', prev: {}, op: { kind: 'rate', userId: -1, movieId: 1, rating: 3, timestamp: 1 }, issuedAt: -5, copies: 'x' }]],
    ['peer', [undefined, 1, {}, { from: 'x y', msg: { type: 'pull', replicaTS: {} } }, { from: 'a.1', msg: { type: 'gossip' } }, { from: 'a.1', msg: { type: 'gossip', replicaTS: {}, records: [{ node: 'a.1' }], wantReply: true } }, { from: 'a.1', msg: { type: 'snapshot', snapshot: { from: 'a.1' } } }, { from: 'a.1', msg: { type: 'teleport' } }]],
    ['introspect', [42, 'x', [1]]],
    ['setStatus', [undefined, {}, { status: 'SLEEPY' }, { status: 1 }, 'OFFLINE']],
    ['subscribe', [3, 'yes', [true]]],
  ];
  let n = 0;
  for (const [event, payloads] of bad) {
    for (const payload of payloads) {
      const r = await call<Reply>(s1, event, payload);
      assert.ok(!r.ok && r.code === 'BAD_REQUEST', `${event} ${JSON.stringify(payload)} → ${JSON.stringify(r)}`);
      n++;
    }
  }
  // Well-formed but impossible: a rating out of range, an unknown movie, peer records that would corrupt the state.
  const r1 = await update(s1, V.zero(), rate(1, 1, 7), `test:${rid()}`);
  assert.ok(!r1.ok && r1.code === 'BAD_RATING', JSON.stringify(r1));
  const r2 = await update(s1, V.zero(), rate(1, 999_999, 3), `test:${rid()}`);
  assert.ok(!r2.ok && r2.code === 'UNKNOWN_MOVIE', JSON.stringify(r2));
  const me = (await introspect(s1)).id;
  const r3 = await call<Reply>(s1, 'peer', { from: 'evil.1', msg: { type: 'gossip', replicaTS: { [me]: 99 }, records: [], wantReply: false } });
  assert.ok(!r3.ok && r3.code === 'BAD_REQUEST', JSON.stringify(r3));
  // A payload with no ack at all must not hurt either.
  s1.emit('query', { nonsense: true });
  s1.emit('peer', 'garbage');
  const ok = await query(s1, V.zero(), get(1, 1));
  assert.ok(ok.ok, 'still serving');
  assert.is(p1.child.exitCode, null, 'still running');
  assert.not.match(p1.stderr, /BROKEN INVARIANT/);
  console.log(`    ${n} malformed payloads refused with BAD_REQUEST`);
});

t('peer, introspect, setStatus and subscribe need the cluster secret; query and update do not', async () => {
  const p1 = await replica(naming.url, 'sec-1');
  for (const secret of [null, 'wrong']) {
    const s = await connectTo(p1.url, secret);
    for (const [event, payload] of [
      ['peer', { from: 'x.1', msg: { type: 'snapshotRequest' } }],
      ['introspect', {}],
      ['setStatus', { status: 'OFFLINE' }],
      ['subscribe', {}],
    ] as const) {
      const r = await call<Reply>(s, event, payload);
      assert.ok(!r.ok && r.code === 'UNAUTHORIZED', `${event} with secret ${secret}: ${JSON.stringify(r)}`);
    }
    const q = await query(s, V.zero(), get(1, 1));
    assert.ok(q.ok, 'clients may query');
  }
  const member = await connectTo(p1.url);
  assert.is((await introspect(member)).status, 'ACTIVE', 'the refused setStatus changed nothing');
  // A subscriber receives trace events.
  const events: RmTraceEvent[] = [];
  member.on('trace', (e: RmTraceEvent) => events.push(e));
  assert.equal(await call(member, 'subscribe', {}), { ok: true });
  await call(member, 'setStatus', { status: 'OVERLOADED' });
  await waitFor('a status trace event', async () => events.some((e) => e.kind === 'status' && e.status === 'OVERLOADED'));
});

t('a replica started later catches up by snapshot and reports the same digest and valueTS after quiescence', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'late-1'), replica(naming.url, 'late-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  const [id1, id2] = [(await introspect(s1)).id, (await introspect(s2)).id];
  let prev = V.zero();
  for (let i = 0; i < 40; i++) prev = V.merge(prev, await twinUpdate(s1, id1, s2, id2, prev, rate(5100 + (i % 7), movie(i), 0.5 + (i % 10) * 0.5)));
  const p3 = await replica(naming.url, 'late-3');
  const s3 = await connectTo(p3.url);
  const states = await waitFor(
    'three replicas agreeing',
    async () => {
      const st = await Promise.all([s1, s2, s3].map(introspect));
      const [a, ...rest] = st;
      const same = rest.every((b) => b.phase === 'serving' && b.digest === a!.digest && V.equals(b.valueTS, a!.valueTS) && b.logLength === 0) && a!.logLength === 0;
      return same ? st : undefined;
    },
    10_000,
  );
  assert.ok(states[2]!.counters.snapshotsInstalled! >= 1, 'the late replica installed a snapshot');
  assert.ok(V.leq(prev, states[2]!.valueTS));
  const q = await query(s3, prev, get(5100, 1));
  assert.ok(q.ok, JSON.stringify(q));
  const reset = /installed a snapshot: store reset to the data file and (\d+) rating rows, .* imported in (\d+) ms/.exec(p3.stderr);
  assert.ok(reset, 'the reset was measured');
  console.log(`    late replica: snapshot with ${reset![1]} rating rows installed, store reset in ${reset![2]} ms`);
});

t('after SIGKILL of one replica process the other keeps serving queries and updates', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'kill-1'), replica(naming.url, 'kill-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  const [id1, id2] = [(await introspect(s1)).id, (await introspect(s2)).id];
  const prev = await twinUpdate(s1, id1, s2, id2, V.zero(), rate(5077, 1, 5));
  await waitFor('the update applied at replica 1', async () => {
    const q = await query(s1, prev, get(5077, 1));
    return q.ok;
  });
  p2.child.kill('SIGKILL');
  const ended = await p2.exited;
  assert.is(ended.signal, 'SIGKILL');
  const q = await query(s1, prev, get(5077, 1));
  assert.ok(q.ok && q.result.kind === 'get' && q.result.rating === 5, JSON.stringify(q));
  // Once naming drops the dead incarnation, replica 1 is alone and makes updates visible by itself.
  await waitFor('replica 2 gone from replica 1', async () => !(await introspect(s1)).members.includes(id2));
  const st = await introspect(s1);
  assert.ok(st.retired.includes(id2));
  const u = await update(s1, prev, rate(5077, 1, 1), `test:${rid()}`);
  assert.ok(u.ok, JSON.stringify(u));
  const q2 = await query(s1, u.ok ? u.ts : prev, get(5077, 1));
  assert.ok(q2.ok && q2.result.kind === 'get' && q2.result.rating === 1, JSON.stringify(q2));
  // Restarted under the same name, it is a new incarnation that recovers from replica 1.
  const again = await replica(naming.url, 'kill-2');
  const s3 = await connectTo(again.url);
  const [a, b] = await waitFor('the restarted replica to agree with replica 1', async () => {
    const [a, b] = await Promise.all([introspect(s1), introspect(s3)]);
    return b.phase === 'serving' && a.digest === b.digest && V.equals(a.valueTS, b.valueTS) && a.members.includes(b.id) ? ([a, b] as const) : undefined;
  });
  assert.is.not(b.id, id2, 'a fresh incarnation id');
  assert.is(b.name, 'kill-2');
  assert.ok(b.counters.snapshotsInstalled! >= 1);
  assert.ok(a.retired.includes(id2));
  const q3 = await query(s3, u.ok ? u.ts : prev, get(5077, 1));
  assert.ok(q3.ok && q3.result.kind === 'get' && q3.result.rating === 1, JSON.stringify(q3));
});

t('per-operation latency of query and update through the raw socket API', async () => {
  const [p1, p2] = await Promise.all([replica(naming.url, 'lat-1'), replica(naming.url, 'lat-2')]);
  const [s1, s2] = await Promise.all([connectTo(p1.url), connectTo(p2.url)]);
  await waitFor('both serving', async () => (await introspect(s1)).phase === 'serving' && (await introspect(s2)).phase === 'serving');
  // Count the meta changes naming publishes for replica 1 while it works.
  const nc = new NamingClient({ url: naming.url, log: quiet, config: testConfig });
  let metaChanges = 0;
  let lastMeta = '';
  nc.watch('replica', (list) => {
    const m = JSON.stringify(list.find((x) => x.name === 'lat-1')?.meta ?? null);
    if (m !== lastMeta) metaChanges++;
    lastMeta = m;
  });
  const started = performance.now();
  const N = 300;
  const qs: number[] = [];
  const us: number[] = [];
  const searches: number[] = [];
  for (let i = 0; i < N; i++) {
    let t0 = performance.now();
    const q = await query(s1, V.zero(), { kind: 'movie', movieId: movie(i) as MovieId });
    qs.push(performance.now() - t0);
    assert.ok(q.ok, JSON.stringify(q));
    t0 = performance.now();
    const u = await update(s1, V.zero(), rate(5500 + (i % 100), 1, 0.5 + (i % 10) * 0.5), `test:${rid()}`);
    us.push(performance.now() - t0);
    assert.ok(u.ok, JSON.stringify(u));
    t0 = performance.now();
    await query(s1, V.zero(), { kind: 'search', words: 'story', limit: 20 });
    searches.push(performance.now() - t0);
  }
  const fmt = (xs: number[]) => `median ${median(xs).toFixed(2)} ms, p95 ${pct(xs, 0.95).toFixed(2)} ms`;
  console.log(`    ${N} queries (movie): ${fmt(qs)}; ${N} updates: ${fmt(us)}; ${N} searches: ${fmt(searches)}`);
  const own = [p1, p2].map((p) => /ready at \S+ in (\d+) ms/.exec(p.stderr)?.[1] ?? '?');
  console.log(`    ready to serve with data/data.sqlite: spawn → ready line ${p1.readyMs.toFixed(0)} / ${p2.readyMs.toFixed(0)} ms; in-process start → ready ${own.join(' / ')} ms`);
  assert.ok(median(qs) < 50 && median(us) < 50, 'well under the front end timeout');
  const seconds = (performance.now() - started) / 1000;
  await nc.close();
  console.log(`    meta published ${metaChanges} times in ${seconds.toFixed(1)} s while updating`);
  assert.ok(metaChanges > 2, 'meta follows the replica');
  assert.ok(metaChanges <= Math.ceil(seconds * 10) + 2, 'at most ten meta updates a second');
  // Everything converges afterwards (the single copies get their twins by recruiting).
  await waitFor(
    'convergence after the load',
    async () => {
      const [a, b] = await Promise.all([introspect(s1), introspect(s2)]);
      return a.digest === b.digest && V.equals(a.valueTS, b.valueTS) && a.logLength === 0 && b.logLength === 0;
    },
    15_000,
  );
});

t('bad flags print usage and exit 2', async () => {
  for (const args of [['--port', 'abc', '--naming', naming.url], ['--frobnicate'], ['--name', 'x'], ['--naming', 'not a url'], ['--naming', naming.url, '--name', 'a b']]) {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.is(code, 2, `${args.join(' ')}: ${err}`);
    assert.match(err, /usage: replica/);
  }
});

t('SIGTERM exits 0 and leaves the naming service at once', async () => {
  const p1 = await replica(naming.url, 'term-1');
  const nc = new NamingClient({ url: naming.url, log: quiet, config: testConfig });
  try {
    assert.ok((await nc.list('replica')).some((m: Member) => m.name === 'term-1'));
    p1.child.kill('SIGTERM');
    const ended = await p1.exited;
    assert.is(ended.code, 0);
    assert.not.ok((await nc.list('replica')).some((m: Member) => m.name === 'term-1'));
  } finally {
    await nc.close();
  }
});

t.run();
