/**
 * The replica driver on in-memory stores, replicas wired to each other by a
 * message queue the test flushes: the driver's own rules (request ids,
 * effects in order, OFFLINE, checks before the core, broken invariants).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig } from '../../src/core/config.js';
import { makeReplicaId, type MovieId, type ReplicaId, type RequestId, type UpdateId, type UserId } from '../../src/core/ids.js';
import type { Query, Update } from '../../src/core/ops.js';
import type { RmQueryReply, RmTraceEvent, RmUpdateReply } from '../../src/core/protocol.js';
import type { Logger } from '../../src/core/sockets.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import type { PeerMessage } from '../../src/replica/core/types.js';
import { ReplicaDriver } from '../../src/replica/driver.js';
import { MemoryStore, type SeedMovie, type SeedRating } from '../../src/replica/store/memory-store.js';

const MOVIES: SeedMovie[] = [1, 2, 3].map((m) => ({ movieId: m, title: `Movie ${m}`, genres: ['Drama'] }));
const RATINGS: SeedRating[] = [{ userId: 1, movieId: 2, rating: 3, timestamp: 100 }];

interface Net {
  now: number;
  queue: { from: ReplicaId; to: ReplicaId; msg: PeerMessage }[];
  nodes: Map<ReplicaId, ReplicaDriver>;
  logs: string[];
  fatal: string[];
  trace: RmTraceEvent[];
  resets: number;
}

function quietLog(net: Net, who: string): Logger {
  return {
    info: (m) => net.logs.push(`${who} info ${m}`),
    warn: (m) => net.logs.push(`${who} warn ${m}`),
    error: (m) => net.logs.push(`${who} error ${m}`),
  };
}

function newNet(): Net {
  return { now: 1_000_000, queue: [], nodes: new Map(), logs: [], fatal: [], trace: [], resets: 0 };
}

/**
 * A replica joining the running cluster (it recovers from a snapshot first),
 * or with `founders`, one of a cluster started together from the data file.
 */
function addNode(net: Net, name: string, opts: { store?: MemoryStore; founders?: readonly string[] } = {}): ReplicaDriver {
  const id = makeReplicaId(name, 'e1');
  const peers = opts.founders ? opts.founders.filter((n) => n !== name).map((n) => makeReplicaId(n, 'e1')) : [...net.nodes.keys()];
  const d = new ReplicaDriver({
    id,
    config: testConfig,
    seed: 7,
    now: net.now,
    peers,
    fresh: opts.founders !== undefined || peers.length === 0,
    store: opts.store ?? new MemoryStore(MOVIES, RATINGS),
    freshStore: () => {
      net.resets++;
      return new MemoryStore(MOVIES, RATINGS);
    },
    log: quietLog(net, name),
    send: (to, msg) => net.queue.push({ from: id, to, msg: JSON.parse(JSON.stringify(msg)) as PeerMessage }),
    trace: (ev) => net.trace.push(ev),
    onFatal: (err, input) => net.fatal.push(`${err.message} | ${input}`),
  });
  if (!opts.founders) for (const other of net.nodes.values()) other.peerJoined(id);
  net.nodes.set(id, d);
  return d;
}

function cluster(net: Net, ...names: string[]): ReplicaDriver[] {
  return names.map((n) => addNode(net, n, { founders: names }));
}

/** Delivers queued peer messages (and those they cause) until none is left. */
function flush(net: Net): void {
  for (let i = 0; i < 10_000 && net.queue.length > 0; i++) {
    const m = net.queue.shift()!;
    net.nodes.get(m.to)?.peer(m.from, m.msg);
  }
}

/** Advances time by `ms` in 10 ms ticks, delivering messages after each. */
function advance(net: Net, ms: number): void {
  const end = net.now + ms;
  while (net.now < end) {
    net.now += 10;
    for (const d of net.nodes.values()) d.tick(net.now);
    flush(net);
  }
}

let seq = 0;
function query(d: ReplicaDriver, client: string, prev: VTS, q: Query, requestId = `q${++seq}`): { reply?: RmQueryReply } {
  const box: { reply?: RmQueryReply } = {};
  d.query(client, { requestId: requestId as RequestId, prev, query: q }, (r) => {
    assert.is(box.reply, undefined, 'answered once');
    box.reply = r;
  });
  return box;
}

function update(d: ReplicaDriver, client: string, prev: VTS, op: Update, uid: string, copies: ReplicaId[] = [], requestId = `u${++seq}`): { reply?: RmUpdateReply } {
  const box: { reply?: RmUpdateReply } = {};
  d.update(client, { requestId: requestId as RequestId, uid: uid as UpdateId, prev, op, issuedAt: Date.now(), copies }, (r) => {
    assert.is(box.reply, undefined, 'acknowledged once');
    box.reply = r;
  });
  return box;
}

const rate = (user: number, movie: number, rating: number): Update => ({ kind: 'rate', userId: user as UserId, movieId: movie as MovieId, rating, timestamp: 1_700_000_000 });
const get = (user: number, movie: number): Query => ({ kind: 'get', userId: user as UserId, movieId: movie as MovieId });

const t = suite('replica driver');

t('an update logged at two replicas is applied at a third after gossip, and queries see it', () => {
  const net = newNet();
  const [a, b, c] = cluster(net, 'a', 'b', 'c') as [ReplicaDriver, ReplicaDriver, ReplicaDriver];
  // The front end logs every update at two replicas with the same prev.
  const ua = update(a, 'fe', V.zero(), rate(5, 1, 4.5), 'fe:1', [b.id]);
  const ub = update(b, 'fe', V.zero(), rate(5, 1, 4.5), 'fe:1', [a.id]);
  assert.ok(ua.reply?.ok && ub.reply?.ok, 'both copies acknowledged at once');
  const prev = V.merge(ua.reply.ok ? ua.reply.ts : V.zero(), ub.reply.ok ? ub.reply.ts : V.zero());
  advance(net, 500);
  const r = query(c, 'fe', prev, get(5, 1));
  assert.ok(r.reply?.ok, JSON.stringify(r.reply));
  if (r.reply?.ok) {
    assert.equal(r.reply.result, { kind: 'get', userId: 5, movieId: 1, title: 'Movie 1', rating: 4.5, timestamp: 1_700_000_000 });
    assert.ok(V.leq(prev, r.reply.valueTS));
  }
  assert.is(a.store.digest(), c.store.digest());
  assert.ok(net.trace.some((e) => e.kind === 'applied' && e.rm === c.id));
  assert.equal(net.fatal, []);
});

t('a query whose prev is ahead is held, pulled for, and answered once the update arrives', () => {
  const net = newNet();
  const [a, b] = cluster(net, 'a', 'b') as [ReplicaDriver, ReplicaDriver];
  const ua = update(a, 'fe', V.zero(), rate(5, 1, 2), 'fe:1', []);
  const ub = update(b, 'fe', V.zero(), rate(5, 1, 2), 'fe:1', []);
  assert.ok(ua.reply?.ok && ub.reply?.ok);
  const prev = V.merge(ua.reply.ok ? ua.reply.ts : V.zero(), ub.reply.ok ? ub.reply.ts : V.zero());
  // No gossip has run yet (messages still queued): a's prefix lacks b's copy.
  net.queue.length = 0;
  const r = query(a, 'fe', prev, get(5, 1));
  assert.is(r.reply, undefined, 'held');
  assert.is(a.inflight, 1);
  assert.ok(net.queue.some((m) => m.from === a.id && m.msg.type === 'pull'), 'pulled');
  flush(net);
  assert.ok(r.reply?.ok, JSON.stringify(r.reply));
  assert.is(a.inflight, 0);
});

t('two clients using the same request id each get their own answer', () => {
  const net = newNet();
  const a = addNode(net, 'a');
  const r1 = query(a, 'fe1', V.zero(), get(1, 2), 'same');
  const r2 = query(a, 'fe2', V.zero(), get(1, 3), 'same');
  assert.ok(r1.reply?.ok && r1.reply.result.kind === 'get' && r1.reply.result.rating === 3);
  assert.ok(r2.reply?.ok && r2.reply.result.kind === 'get' && r2.reply.result.rating === null);
  // And held ones too: both wait, both are answered.
  const b = addNode(net, 'b');
  advance(net, 200);
  const future = V.withEntry(V.zero(), b.id, 1);
  const h1 = query(a, 'fe1', future, get(1, 2), 'same');
  const h2 = query(a, 'fe2', future, get(1, 3), 'same');
  assert.is(a.inflight, 2);
  update(b, 'fe', V.zero(), rate(9, 1, 1), 'fe:9', [a.id]);
  update(a, 'fe', V.zero(), rate(9, 1, 1), 'fe:9', [b.id]);
  advance(net, 200);
  assert.ok(h1.reply?.ok && h2.reply?.ok);
  assert.ok(h1.reply.ok && h1.reply.result.kind === 'get' && h1.reply.result.movieId === 2);
  assert.ok(h2.reply.ok && h2.reply.result.kind === 'get' && h2.reply.result.movieId === 3);
});

t('an update of a movie that does not exist is refused with UNKNOWN_MOVIE before the core sees it', () => {
  const net = newNet();
  const a = addNode(net, 'a');
  const u = update(a, 'fe', V.zero(), rate(1, 999, 3), 'fe:x');
  assert.equal(u.reply, { ok: false, code: 'UNKNOWN_MOVIE', message: 'there is no movie with id 999' });
  assert.equal(a.state.replicaTS, V.zero(), 'nothing logged');
  const q = query(a, 'fe', V.zero(), { kind: 'avg', movieId: 999 as MovieId });
  assert.ok(q.reply && !q.reply.ok && q.reply.code === 'UNKNOWN_MOVIE', 'a query error from the store becomes an error reply');
});

t('OFFLINE refuses clients, answers waiting ones, drops peer messages and stops time', () => {
  const net = newNet();
  const [a, b] = cluster(net, 'a', 'b') as [ReplicaDriver, ReplicaDriver];
  advance(net, 100);
  const held = query(a, 'fe', V.withEntry(V.zero(), b.id, 5), get(1, 2));
  assert.is(held.reply, undefined);
  a.setOffline(true);
  assert.ok(held.reply && !held.reply.ok && held.reply.code === 'OFFLINE', 'waiting request answered OFFLINE');
  const q = query(a, 'fe', V.zero(), get(1, 2));
  assert.ok(q.reply && !q.reply.ok && q.reply.code === 'OFFLINE');
  const u = update(a, 'fe', V.zero(), rate(1, 1, 1), 'fe:off');
  assert.ok(u.reply && !u.reply.ok && u.reply.code === 'OFFLINE');
  const before = a.state.now;
  const sent = a.counters.gossipSent;
  update(b, 'fe', V.zero(), rate(2, 1, 1), 'fe:b1', []);
  advance(net, 300);
  assert.is(a.state.now, before, 'no ticks while offline');
  assert.is(a.counters.gossipSent, sent, 'no gossip while offline');
  assert.ok(a.counters.peerDroppedOffline > 0, 'peer messages dropped');
  assert.is(V.get(a.state.replicaTS, b.id), 0);
  const out = net.queue.length;
  a.peerLeft(b.id);
  a.peerJoined(b.id);
  assert.is(net.queue.length, out, 'nothing leaves an offline replica');
  a.setOffline(false);
  advance(net, 300);
  assert.is(V.get(a.state.replicaTS, b.id), 1, 'catches up once back');
  assert.equal(net.fatal, []);
});

t('peer messages that would corrupt the state are dropped, not fed to the core', () => {
  const net = newNet();
  const [a, b] = cluster(net, 'a', 'b') as [ReplicaDriver, ReplicaDriver];
  advance(net, 100);
  const rec = (ts: VTS, prev: VTS, node: ReplicaId) => ({ node, ts, prev, uid: 'x' as UpdateId, op: rate(1, 1, 1), issuedAt: Date.now() });
  const cases: PeerMessage[] = [
    // claims updates of a that a never issued
    { type: 'gossip', replicaTS: V.withEntry(V.zero(), a.id, 5), records: [], wantReply: false },
    { type: 'pull', replicaTS: V.withEntry(V.zero(), a.id, Number.MAX_SAFE_INTEGER) },
    // ts not above prev in the node's entry
    { type: 'gossip', replicaTS: V.zero(), records: [rec(V.zero(), V.zero(), b.id)], wantReply: false },
    // ts differs from prev elsewhere
    { type: 'replicate', record: rec(V.withEntry(V.withEntry(V.zero(), b.id, 1), 'z.1' as ReplicaId, 3), V.zero(), b.id) },
  ];
  const before = JSON.stringify([a.state.replicaTS, a.state.log.size]);
  for (const m of cases) assert.type(a.peer(b.id, m), 'string');
  assert.is(a.peer(a.id, { type: 'snapshotRequest' }), 'it claims to come from this replica');
  assert.is(JSON.stringify([a.state.replicaTS, a.state.log.size]), before);
  assert.is(a.counters.peerRejected, 5);
  assert.equal(net.fatal, []);
  // Still working.
  const q = query(a, 'fe', V.zero(), get(1, 2));
  assert.ok(q.reply?.ok);
});

t('a replica that joins later installs a snapshot into its untouched store without reloading it, and ends with the same digest', () => {
  const net = newNet();
  const [a, b] = cluster(net, 'a', 'b') as [ReplicaDriver, ReplicaDriver];
  for (let i = 1; i <= 20; i++) {
    update(a, 'fe', V.zero(), rate(i, 1 + (i % 3), 0.5 * (1 + (i % 10))), `fe:${i}`, [b.id]);
    update(b, 'fe', V.zero(), rate(i, 1 + (i % 3), 0.5 * (1 + (i % 10))), `fe:${i}`, [a.id]);
  }
  advance(net, 1000);
  const c = addNode(net, 'c');
  assert.is(c.state.phase, 'recovering');
  const q = query(c, 'fe', V.zero(), get(1, 2));
  assert.ok(q.reply && !q.reply.ok && q.reply.code === 'UNAVAILABLE', 'recovering replicas do not serve');
  advance(net, 1000);
  assert.is(c.state.phase, 'serving');
  assert.is(net.resets, 0, 'an untouched store takes the overlay as it is: no reload');
  assert.ok(c.lastResetMs !== null, 'the install time is still measured');
  assert.is(c.store.digest(), a.store.digest());
  assert.equal(c.state.valueTS, a.state.valueTS);
  assert.ok(net.trace.some((e) => e.kind === 'snapshotInstalled' && e.rm === c.id));
});

t('a failing store write is a broken invariant: reported with its input, and the replica stops serving', () => {
  const net = newNet();
  const store = new MemoryStore(MOVIES, RATINGS);
  store.apply = () => {
    throw new Error('disk on fire');
  };
  const a = addNode(net, 'a', { store });
  const u = update(a, 'fe', V.zero(), rate(1, 1, 4), 'fe:boom');
  assert.is(net.fatal.length, 1);
  assert.match(net.fatal[0]!, /disk on fire/);
  assert.match(net.fatal[0]!, /fe:boom/);
  assert.ok(net.logs.some((l) => l.includes('BROKEN INVARIANT')));
  assert.ok(a.failed);
  // The ack went out before the apply (effects in order); later requests are refused.
  assert.ok(u.reply?.ok);
  const q = query(a, 'fe', V.zero(), get(1, 2));
  assert.ok(q.reply && !q.reply.ok && q.reply.code === 'UNAVAILABLE');
});

t('a client that disconnects is forgotten: its held requests no longer count as in flight', () => {
  const net = newNet();
  const [a, b] = cluster(net, 'a', 'b') as [ReplicaDriver, ReplicaDriver];
  advance(net, 50);
  query(a, 'gone', V.withEntry(V.zero(), b.id, 3), get(1, 2));
  assert.is(a.inflight, 1);
  a.dropClient('gone');
  assert.is(a.inflight, 0);
  advance(net, testConfig.queryHoldMs + 100); // the core's late failure finds nobody waiting
  assert.equal(net.fatal, []);
});

t.run();
