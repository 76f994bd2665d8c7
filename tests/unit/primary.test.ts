/**
 * The primary's rules (forced and immediate updates), each on an exact
 * schedule of messages. Sections: Ladin et al. 1992 §3.3; Raft (Ongaro &
 * Ousterhout 2014) §5.2 election, §5.3 log replication, §5.4 safety.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as V from '../../src/core/vts.js';
import { FORCED } from '../../src/replica/core/primary.js';
import { addMovie, forgetUser, Harness, rate, type Node, type Wire } from '../helpers/core-harness.js';

const seqOf = (r: ReturnType<Harness['send']>): number => {
  const reply = r.reply();
  if (reply?.kind !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(reply)}`);
  return V.get(reply.ts, FORCED);
};

/** A cluster of `names` (all voters) with a primary elected; returns the primary. */
function elected(names: string[]): { h: Harness; p: Node } {
  const h = new Harness(names, { voters: true });
  h.run(1500);
  const p = h.primary();
  assert.ok(p, 'a primary is elected within the election timeout');
  return { h, p };
}

const nameOf = (n: Node): string => n.id.split('.')[0]!;
const others = (h: Harness, p: Node): string[] => [...h.nodes.keys()].filter((n) => n !== nameOf(p));

test('a replica started without voters refuses forced updates with NO_PRIMARY and keeps serving causal ones (§3.3)', () => {
  const h = new Harness(['a', 'b']);
  h.run(1000);
  const r = h.send('a', addMovie('Heat (1995)'));
  assert.is(r.reply()?.kind === 'fail' && (r.reply() as { code: string }).code, 'NO_PRIMARY');
  assert.is(h.update('a', rate(1, 1, 4), V.zero(), { copies: ['a', 'b'] })?.kind, 'ack');
});

test('one primary is elected per term, by a majority of the voters (Raft §5.2)', () => {
  const { h, p } = elected(['a', 'b', 'c', 'd', 'e']);
  const term = p.state.primary.term;
  const leaders = [...h.nodes.values()].filter((n) => n.state.primary.role === 'leader' && n.state.primary.term === term);
  assert.is(leaders.length, 1);
  // Every voter that granted a vote in this term granted it to the primary.
  for (const n of h.nodes.values()) {
    if (n.state.primary.term === term && n.state.primary.votedFor !== null) assert.is(n.state.primary.votedFor, nameOf(p));
    assert.is(n.state.primary.leader, p.id, `${n.id} follows the primary`);
  }
});

test('a forced update is acknowledged only once a majority of voters has logged it (§3.3)', () => {
  const { h, p } = elected(['a', 'b', 'c', 'd', 'e']);
  const [b, c, d] = others(h, p);
  const cutOff = new Set([h.id(b!), h.id(c!), h.id(d!)]);
  // Only one follower hears the primary: 2 of 5 have the entry, not a majority.
  const drop = (w: Wire) => w.from === p.id && cutOff.has(w.to) && w.msg.type === 'append';
  const r = h.send(nameOf(p), addMovie('Heat (1995)'));
  h.run(300, 10, drop);
  assert.is(r.reply(), undefined, 'not acknowledged with 2 of 5 copies');
  const dropTwo = (w: Wire) => w.from === p.id && (w.to === h.id(c!) || w.to === h.id(d!)) && w.msg.type === 'append';
  h.run(300, 10, dropTwo);
  assert.is(seqOf(r), 1, 'acknowledged with 3 of 5 copies, as forced update #1');
  const logged = [...h.nodes.values()].filter((n) => n.state.primary.log.some((e) => e.uid === r.uid)).length;
  assert.ok(logged >= 3);
});

test('forced updates get consecutive sequence numbers and every replica applies them in that order', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  const reqs = [0, 1, 2, 3, 4].map((i) => h.send(nameOf(p), addMovie(`Film ${i} (2001)`)));
  h.run(500);
  assert.equal(
    reqs.map((r) => seqOf(r)),
    [1, 2, 3, 4, 5],
  );
  for (const n of h.nodes.values()) {
    const forced = n.applies.filter((u) => reqs.some((r) => r.uid === u));
    assert.equal(forced, reqs.map((r) => r.uid), `${n.id} applies forced updates in sequence order`);
    assert.is(V.get(n.state.valueTS, FORCED), 5);
  }
});

test('a replica that is not primary answers NOT_PRIMARY and names the primary', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  const other = others(h, p)[0]!;
  const r = h.send(other, addMovie('Heat (1995)')).reply();
  assert.ok(r?.kind === 'fail');
  assert.is(r.code, 'NOT_PRIMARY');
  assert.is(r.leader, p.id);
});

test('a retried forced update (same uid) is sequenced once and answered with the same timestamp', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  const first = h.send(nameOf(p), addMovie('Heat (1995)'), V.zero(), 'same');
  const again = h.send(nameOf(p), addMovie('Heat (1995)'), V.zero(), 'same');
  h.run(300);
  const late = h.send(nameOf(p), addMovie('Heat (1995)'), V.zero(), 'same');
  assert.is(p.state.primary.log.filter((e) => e.uid === 'same').length, 1);
  const ts = (x: typeof first) => (x.reply() as { ts: unknown }).ts;
  assert.equal(ts(first), ts(again));
  assert.equal(ts(first), ts(late));
});

test('when the primary crashes a new one takes over, committed numbers stay, and the retried update is sequenced once (Raft §5.4)', () => {
  const { h, p } = elected(['a', 'b', 'c', 'd', 'e']);
  const done = h.send(nameOf(p), addMovie('First (2001)'));
  h.run(200);
  assert.is(seqOf(done), 1);
  // The next update reaches every follower's log, but the primary dies before it hears their acks.
  const inflight = h.send(nameOf(p), addMovie('Second (2002)'), V.zero(), 'second');
  h.deliverAll((w) => w.msg.type === 'appendReply');
  h.crash(nameOf(p));
  h.run(2000);
  const q = h.primary();
  assert.ok(q && q.id !== p.id, 'another primary is elected');
  // The front end retries at the new primary with the same uid.
  const retry = h.send(nameOf(q), addMovie('Second (2002)'), V.zero(), 'second');
  h.run(300);
  assert.is(seqOf(retry), 2);
  for (const n of h.nodes.values()) {
    assert.is(n.state.primary.log.filter((e) => e.uid === 'second').length, 1, `${n.id} logged it once`);
    assert.is(n.applies.filter((u) => u === 'second').length, 1);
  }
  assert.is(inflight.reply(), undefined, 'the dead primary never answered');
});

test('an entry logged only by a cut-off primary is never committed once the majority elects another (Raft §5.4.1)', () => {
  const { h, p } = elected(['a', 'b', 'c', 'd', 'e']);
  const isolated = (w: Wire) => w.from === p.id || w.to === p.id;
  const lost = h.send(nameOf(p), addMovie('Lost (1999)'));
  h.run(2000, 10, isolated);
  const q = h.primary();
  assert.ok(q && q.id !== p.id && q.state.primary.term > p.state.primary.term);
  const kept = h.send(nameOf(q), addMovie('Kept (2000)'));
  h.run(300, 10, isolated);
  assert.is(seqOf(kept), 1, 'the new primary reuses no number the majority committed');
  assert.is(p.state.primary.role, 'follower', 'the cut-off primary stepped down (check-quorum)');
  h.run(1000); // heal
  const answer = lost.reply();
  assert.ok(answer?.kind === 'fail' && (answer.code === 'NO_PRIMARY' || answer.code === 'NOT_PRIMARY'), `stepping down, the cut-off primary told its client to go elsewhere: ${JSON.stringify(answer)}`);
  for (const n of h.nodes.values()) {
    assert.not.ok(n.state.primary.log.some((e) => e.uid === lost.uid && e.index <= n.state.primary.commit), `${n.id} never commits the lost entry`);
    assert.is(n.state.primary.log.find((e) => e.seq === 1 && e.op)?.uid, kept.uid);
  }
});

test('a restarted voter keeps its term, vote and log, and they are persisted before any message of the same step', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  h.send(nameOf(p), addMovie('Heat (1995)'));
  h.run(300);
  const follower = h.node(others(h, p)[0]!);
  const before = follower.state.primary;
  const dead = h.crash(nameOf(follower));
  const back = h.restart(dead, '1');
  assert.is(back.state.primary.term, before.term);
  assert.is(back.state.primary.votedFor, before.votedFor);
  assert.equal(back.state.primary.log, before.log);
  // The persist effect leads its step.
  const fx = h.input(nameOf(back), { type: 'tick', now: h.now + 5000 });
  const at = fx.findIndex((e) => e.type === 'persist');
  const firstSend = fx.findIndex((e) => e.type === 'send');
  if (at >= 0 && firstSend >= 0) assert.ok(at < firstSend);
});

test('an immediate update is ordered after every update any live replica had received when it was issued (the cut)', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  const [b] = others(h, p);
  // b logs a rating nobody else has seen yet (no gossip delivered).
  const r = h.update(b!, rate(1, 1, 4), V.zero(), { uid: 'late-rating' });
  assert.ok(r?.kind === 'ack');
  const f = h.send(nameOf(p), forgetUser(1));
  h.run(500);
  const ack = f.reply();
  assert.ok(ack?.kind === 'ack', JSON.stringify(ack));
  assert.ok(V.leq(r.ts, ack.ts), `the forget (${V.format(ack.ts)}) is ordered after the rating (${V.format(r.ts)})`);
});

test('causal updates and queries keep working while no primary can be elected', () => {
  const h = new Harness(['a', 'b', 'c'], { voters: true });
  // Votes never arrive: no primary.
  h.run(1500, 10, (w) => w.msg.type === 'voteReply');
  assert.is(h.primary(), undefined);
  const r = h.update('a', rate(1, 3, 5), V.zero(), { copies: ['a', 'b'] });
  h.update('b', rate(1, 3, 5), V.zero(), { uid: (r as { uid: string }).uid, copies: ['a', 'b'] });
  h.run(1000, 10, (w) => w.msg.type === 'voteReply');
  assert.ok(h.node('c').applies.includes((r as { uid: string }).uid as never), 'the rating spread by gossip');
  const f = h.send('a', addMovie('Heat (1995)')).reply();
  assert.ok(f?.kind === 'fail' && (f.code === 'NO_PRIMARY' || f.code === 'NOT_PRIMARY'));
});

test('a cut-off voter does not raise its term (pre-vote), so its return does not depose a working primary', () => {
  const { h, p } = elected(['a', 'b', 'c']);
  const [b] = others(h, p);
  const cut = (w: Wire) => w.from === h.id(b!) || w.to === h.id(b!);
  const term = p.state.primary.term;
  h.run(3000, 10, cut);
  assert.is(h.node(b!).state.primary.term, term, 'no majority would vote for it, so it never stood');
  h.run(300); // it returns
  assert.is(p.state.primary.role, 'leader');
  assert.is(p.state.primary.term, term);
  assert.is(h.node(b!).state.primary.leader, p.id);
});

test('a voter must keep its log across a crash: with it lost, a committed sequence number is handed out twice, which replicas detect (why persist exists)', () => {
  const scenario = (keepDisk: boolean): { h: Harness; first: number; second: () => number } => {
    const { h, p } = elected(['a', 'b', 'c']);
    const [f1, f2] = others(h, p);
    // f2 misses the entry's append; the primary and f1 (a majority) commit it.
    const toF2 = (w: Wire) => w.to === h.id(f2!) && w.msg.type === 'append';
    const e = h.send(nameOf(p), addMovie('First (2001)'));
    h.run(200, 10, toF2);
    const first = seqOf(e);
    const dead = h.crash(f1!);
    h.restart(keepDisk ? dead : { ...dead, durable: undefined }, '1');
    h.crash(nameOf(p));
    h.run(2000);
    const q = h.primary();
    assert.ok(q, 'the two survivors elect a primary');
    const x = h.send(nameOf(q), addMovie('Second (2002)'));
    return { h, first, second: () => (h.run(300), seqOf(x)) };
  };
  const kept = scenario(true);
  assert.equal([kept.first, kept.second()], [1, 2], 'with its disk the voter holds #1, so only it can win, and #1 keeps its movie');
  const lost = scenario(false);
  assert.is(lost.first, 1);
  assert.throws(() => lost.second(), /forced update #1 .* but .* was committed with that number/, 'the second use of #1 is caught as a broken invariant');
});

test.run();
