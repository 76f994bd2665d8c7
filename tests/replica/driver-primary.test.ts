/**
 * The replica driver's part in forced updates, on in-memory stores with
 * replicas wired by a queue the test flushes: outcomes in acknowledgements,
 * the primary named in refusals, durable state written before the messages
 * that promise it, trace events, and appends a well-formed primary could not
 * have sent dropped before the core sees them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig } from '../../src/core/config.js';
import { makeReplicaId, type ReplicaId, type RequestId, type UpdateId, type UserId, type MovieId } from '../../src/core/ids.js';
import type { Update } from '../../src/core/ops.js';
import type { RmTraceEvent, RmUpdateReply } from '../../src/core/protocol.js';
import * as V from '../../src/core/vts.js';
import type { Durable } from '../../src/replica/core/primary.js';
import type { ForcedEntry, PeerMessage } from '../../src/replica/core/types.js';
import { ReplicaDriver } from '../../src/replica/driver.js';
import { MemoryStore, type SeedMovie } from '../../src/replica/store/memory-store.js';

const MOVIES: SeedMovie[] = [1, 2, 3].map((m) => ({ movieId: m, title: `Movie ${m} (1990)`, genres: ['Drama'] }));
const NAMES = ['a', 'b', 'c'];

/** What each replica did, in order: its persists and its sends. */
type Io = { kind: 'persist'; d: Durable } | { kind: 'send'; to: ReplicaId; msg: PeerMessage };

interface Net {
  now: number;
  queue: { from: ReplicaId; to: ReplicaId; msg: PeerMessage }[];
  nodes: Map<string, ReplicaDriver>;
  io: Map<string, Io[]>;
  trace: RmTraceEvent[];
  fatal: string[];
  /** Messages a driver refused, with its reason. */
  dropped: string[];
}

function newNet(opts: { outcomesKept?: number } = {}): Net {
  const net: Net = { now: 1_000_000, queue: [], nodes: new Map(), io: new Map(), trace: [], fatal: [], dropped: [] };
  const ids = NAMES.map((n) => makeReplicaId(n, 'e1'));
  for (const name of NAMES) {
    const id = makeReplicaId(name, 'e1');
    const io: Io[] = [];
    net.io.set(name, io);
    const d = new ReplicaDriver({
      id,
      config: testConfig,
      seed: name.charCodeAt(0),
      now: net.now,
      peers: ids.filter((x) => x !== id),
      fresh: true,
      store: new MemoryStore(MOVIES, []),
      freshStore: () => new MemoryStore(MOVIES, []),
      log: { info: () => {}, warn: () => {}, error: () => {} },
      send: (to, msg) => {
        io.push({ kind: 'send', to, msg });
        net.queue.push({ from: id, to, msg: JSON.parse(JSON.stringify(msg)) as PeerMessage });
      },
      trace: (ev) => net.trace.push(ev),
      onFatal: (err, input) => net.fatal.push(`${err.message} | ${input}`),
      voters: NAMES,
      persist: (d) => io.push({ kind: 'persist', d: structuredClone(d) }),
      outcomesKept: opts.outcomesKept,
    });
    net.nodes.set(name, d);
  }
  return net;
}

const byId = (net: Net, id: ReplicaId): ReplicaDriver | undefined => [...net.nodes.values()].find((d) => d.id === id);

function flush(net: Net): void {
  for (let i = 0; i < 100_000 && net.queue.length > 0; i++) {
    const m = net.queue.shift()!;
    const why = byId(net, m.to)?.peer(m.from, m.msg);
    if (why) net.dropped.push(`${m.msg.type}: ${why}`);
  }
}

function advance(net: Net, ms: number): void {
  const end = net.now + ms;
  while (net.now < end) {
    net.now += 10;
    for (const d of net.nodes.values()) d.tick(net.now);
    flush(net);
  }
}

function primary(net: Net): ReplicaDriver {
  const leaders = [...net.nodes.values()].filter((d) => d.state.primary.role === 'leader');
  assert.is(leaders.length, 1, 'exactly one primary');
  return leaders[0]!;
}

/** A cluster with its primary elected (the test profile's election timeout is 400-800 ms). */
function elected(opts: { outcomesKept?: number } = {}): { net: Net; p: ReplicaDriver } {
  const net = newNet(opts);
  advance(net, 2000);
  return { net, p: primary(net) };
}

let seq = 0;
function update(d: ReplicaDriver, op: Update, uid = `u${++seq}`): { reply?: RmUpdateReply } {
  const box: { reply?: RmUpdateReply } = {};
  d.update('fe', { requestId: `r${++seq}` as RequestId, uid: uid as UpdateId, prev: V.zero(), op, issuedAt: Date.now(), copies: [] }, (r) => {
    assert.is(box.reply, undefined, 'acknowledged once');
    box.reply = r;
  });
  return box;
}

const addMovie = (title: string): Update => ({ kind: 'addMovie', title, genres: ['Comedy'] });

const t = suite('replica driver: the primary');

t('a forced update is acknowledged with what applying it did: the new movie gets the highest id + 1', () => {
  const { net, p } = elected();
  const r = update(p, addMovie('Heat (1995)'));
  advance(net, 300);
  assert.ok(r.reply?.ok, JSON.stringify(r.reply));
  assert.equal(r.reply.ok && r.reply.result, { kind: 'addMovie', movieId: 4 as MovieId, title: 'Heat (1995)', existed: false });
  // The same title again (another uid) adds nothing and says which movie it is.
  const again = update(p, addMovie('heat  (1995)'));
  advance(net, 300);
  assert.equal(again.reply?.ok && again.reply.result, { kind: 'addMovie', movieId: 4 as MovieId, title: 'Heat (1995)', existed: true });
  assert.equal(net.fatal, []);
});

t('a retried forced update whose outcome is no longer kept is answered with the movie found by its title', () => {
  const { net, p } = elected({ outcomesKept: 1 });
  const first = update(p, addMovie('Alien (1979)'), 'uid-alien');
  advance(net, 300);
  assert.equal(first.reply?.ok && first.reply.result, { kind: 'addMovie', movieId: 4 as MovieId, title: 'Alien (1979)', existed: false });
  update(p, addMovie('Aliens (1986)'), 'uid-aliens'); // evicts the first outcome
  advance(net, 300);
  const missingBefore = p.counters.outcomeMissing;
  const retry = update(p, addMovie('Alien (1979)'), 'uid-alien');
  advance(net, 300);
  assert.ok(retry.reply?.ok, JSON.stringify(retry.reply));
  assert.is(p.counters.outcomeMissing, missingBefore + 1, 'the outcome was not in the kept ones');
  assert.is(retry.reply.ok && retry.reply.result?.kind === 'addMovie' && retry.reply.result.movieId, 4, 'the movie the first try added, not Aliens (5)');
});

t('a replica that is not the primary refuses forced updates with NOT_PRIMARY naming the primary, never UNKNOWN_MOVIE', () => {
  const { net, p } = elected();
  const other = [...net.nodes.values()].find((d) => d !== p)!;
  const r = update(other, addMovie('Heat (1995)'));
  assert.is(r.reply?.ok, false);
  assert.equal(r.reply && !r.reply.ok && { code: r.reply.code, leader: (r.reply as { leader?: string }).leader }, { code: 'NOT_PRIMARY', leader: p.id });
  assert.is(other.counters.refusedUnknownMovie, 0);
  // Ratings of a movie that does not exist are still refused before the core.
  const rate = update(other, { kind: 'rate', userId: 1 as UserId, movieId: 99 as MovieId, rating: 4, timestamp: 1 });
  assert.is(rate.reply && !rate.reply.ok && rate.reply.code, 'UNKNOWN_MOVIE');
});

t('a vote or an append acknowledgement leaves only after the state it promises was persisted (Raft §5.2, §5.4)', () => {
  const { net, p } = elected();
  update(p, addMovie('Heat (1995)'));
  update(p, addMovie('Ran (1985)'));
  advance(net, 500);
  let votes = 0;
  let acks = 0;
  for (const [name, io] of net.io) {
    let last: Durable | undefined;
    for (const x of io) {
      if (x.kind === 'persist') {
        last = x.d;
        continue;
      }
      const m = x.msg;
      if (m.type === 'voteReply' && !m.pre && m.granted) {
        votes++;
        assert.ok(last && last.term === m.term && last.votedFor !== null && last.votedFor !== name, `${name}'s vote in term ${m.term} was persisted before it was sent`);
      }
      if (m.type === 'appendReply' && m.ok) {
        acks++;
        assert.ok(last && last.log.length >= m.match && last.term === m.term, `${name}'s log up to ${m.match} was persisted before it acknowledged`);
      }
    }
  }
  assert.ok(votes >= 1, 'a vote was granted');
  assert.ok(acks >= 2, 'appends were acknowledged');
});

t('election and commit show as trace events of the primary', () => {
  const { net, p } = elected();
  const r = update(p, addMovie('Heat (1995)'), 'uid-heat');
  advance(net, 300);
  assert.ok(r.reply?.ok);
  const elected_ = net.trace.filter((e) => e.kind === 'elected');
  assert.equal(elected_.map((e) => e.rm), [p.id]);
  assert.is(elected_[0]!.kind === 'elected' && elected_[0]!.term, p.state.primary.term);
  const committed = net.trace.filter((e) => e.kind === 'committed' && e.uid === ('uid-heat' as UpdateId));
  assert.is(committed.length, 1);
  assert.is(committed[0]!.rm, p.id);
  assert.is(p.counters.elected, 1);
});

// ---------------------------------------------------------------------------
// Appends from a hostile or buggy peer

function entry(over: Partial<ForcedEntry> & Pick<ForcedEntry, 'index' | 'seq'>): ForcedEntry {
  return { term: 1, uid: `x${over.index}` as UpdateId, op: addMovie(`Film ${over.index} (2000)`), prev: V.zero(), issuedAt: Date.now(), ...over };
}

t('an append that is not a slice of a well-formed primary log is dropped with a reason, and one that is, is taken', () => {
  const net = newNet();
  const b = net.nodes.get('b')!;
  const from = makeReplicaId('a', 'e1');
  const append = (entries: ForcedEntry[], over: Partial<Extract<PeerMessage, { type: 'append' }>> = {}): PeerMessage => ({
    type: 'append',
    term: 1,
    prevIndex: 0,
    prevTerm: 0,
    entries,
    commit: 0,
    ...over,
  });
  const cases: [string, PeerMessage, RegExp][] = [
    ['indexes not starting after prevIndex', append([entry({ index: 2, seq: 1 })]), /has index 2/],
    ['a gap between indexes', append([entry({ index: 1, seq: 1 }), entry({ index: 3, seq: 2 })]), /has index 3/],
    ['a sequence number that jumps', append([entry({ index: 1, seq: 1 }), entry({ index: 2, seq: 3 })]), /sequence number 3, expected 2/],
    ['a sequence number that goes back', append([entry({ index: 1, seq: 1 }), entry({ index: 2, seq: 0 })]), /sequence number 0, expected 2/],
    ['an empty entry with a new sequence number', append([entry({ index: 1, seq: 1, op: null })]), /sequence number 1, expected 0/],
    ['an entry of a later term than the append', append([entry({ index: 1, seq: 1, term: 2 })]), /above the append's term/],
    ['terms going down', append([entry({ index: 1, seq: 1, term: 1 }), entry({ index: 2, seq: 2, term: 0 as number })], { term: 1 }), /below the entry before it/],
    ['a causal update in the forced log', append([entry({ index: 1, seq: 1, op: { kind: 'rate', userId: 1 as UserId, movieId: 1 as MovieId, rating: 4, timestamp: 1 } })]), /rate, which is not sequenced/],
    ['prevTerm above the term', append([], { prevIndex: 0, prevTerm: 3, term: 2 }), /follows an entry of term 3/],
    ['a prev naming updates this replica never issued', append([entry({ index: 1, seq: 1, prev: V.withEntry(V.zero(), b.id, 5) })]), /never issued|has issued 0/],
  ];
  for (const [what, msg, reason] of cases) {
    const before = b.counters.peerRejected;
    const why = b.peer(from, msg);
    assert.ok(why, `${what}: dropped`);
    assert.match(why!, reason, `${what}: ${why}`);
    assert.is(b.counters.peerRejected, before + 1);
    assert.is(b.state.primary.log.length, 0, `${what}: nothing logged`);
  }
  // A well-formed one (an empty entry of term 1, then an update) is taken.
  const good = append([entry({ index: 1, seq: 0, op: null }), entry({ index: 2, seq: 1 })]);
  assert.is(b.peer(from, good), undefined);
  assert.is(b.state.primary.log.length, 2);
  // Continuing after index 2: the sequence number must follow the entry b holds there.
  assert.match(b.peer(from, append([entry({ index: 3, seq: 5 })], { prevIndex: 2, prevTerm: 1 }))!, /sequence number 5, expected 2/);
  assert.is(b.peer(from, append([entry({ index: 3, seq: 2 })], { prevIndex: 2, prevTerm: 1 })), undefined);
  assert.is(b.state.primary.log.length, 3);
  assert.equal(net.fatal, []);
});

t('an append of the term in which this replica is primary is dropped instead of stopping the replica', () => {
  const { net, p } = elected();
  const other = [...net.nodes.values()].find((d) => d !== p)!;
  const msg: PeerMessage = { type: 'append', term: p.state.primary.term, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 };
  assert.match(p.peer(other.id, msg)!, /claims to be primary in term/);
  assert.not.ok(p.failed);
  assert.equal(net.fatal, []);
});

t('a vote request cannot name a log newer than the term it asks for', () => {
  const net = newNet();
  const b = net.nodes.get('b')!;
  const why = b.peer(makeReplicaId('a', 'e1'), { type: 'vote', pre: false, term: 2, lastIndex: 5, lastTerm: 7 });
  assert.match(why!, /claims a log ending in term 7/);
  assert.is(b.state.primary.term, 0, 'the term was not raised');
});

t.run();
