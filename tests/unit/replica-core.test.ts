/**
 * The replica core's rules, each checked on an exact schedule of messages.
 * Section numbers refer to Ladin et al. 1992 / Coulouris et al. §18.4.1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as V from '../../src/core/vts.js';
import { del, get, Harness, rate } from '../helpers/core-harness.js';

test('an update is logged with ts = prev with this replica’s entry set to its new counter (§18.4.1 update processing)', () => {
  const h = new Harness(['a', 'b']);
  const a = h.id('a');
  const b = h.id('b');
  const r = h.update('a', rate(1, 1, 4), V.zero());
  assert.equal(r?.kind, 'ack');
  assert.equal(r?.kind === 'ack' && r.ts, { [a]: 1 });
  // b has seen nothing from a, so a later update at a (with prev from b) keeps b's entries.
  const r2 = h.update('a', rate(1, 2, 3), V.zero());
  assert.equal(r2?.kind === 'ack' && r2.ts, { [a]: 2 });
  assert.equal(h.node('a').state.replicaTS, { [a]: 2 });
  assert.not.ok(b in h.node('a').state.replicaTS);
});

test('a retried update (same uid) is not logged again and gets the same timestamp', () => {
  const h = new Harness(['a', 'b']);
  const first = h.update('a', rate(1, 1, 4), V.zero(), { uid: 'same' });
  const again = h.update('a', rate(1, 1, 4), V.zero(), { uid: 'same' });
  assert.equal(first?.kind === 'ack' && first.ts, again?.kind === 'ack' && again.ts);
  assert.is(h.node('a').state.log.size, 1);
});

test('an update is not visible until a second replica holds a copy (twin copies)', () => {
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  // a has logged it, but no other copy exists yet: not applied.
  assert.equal(h.node('a').applies, []);
  const q = h.query('a', get(1, 1));
  assert.is(q.reply()?.kind === 'answer' && (q.reply() as { result: { rating: unknown } }).result.rating, null);
  // b logs its own copy; the twin pushes bind the update at both.
  h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll();
  assert.equal(h.node('a').applies, ['x']);
  assert.equal(h.node('b').applies, ['x']);
});

test('a reader that saw an update carries both copies’ timestamps', () => {
  const h = new Harness(['a', 'b', 'c']);
  const ra = h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  const rb = h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll();
  const q = h.query('a', get(1, 1));
  const ans = q.reply();
  assert.ok(ans?.kind === 'answer');
  const both = V.merge(ra?.kind === 'ack' ? ra.ts : V.zero(), rb?.kind === 'ack' ? rb.ts : V.zero());
  assert.ok(V.leq(both, ans.valueTS), `valueTS ${V.format(ans.valueTS)} must cover ${V.format(both)}`);
});

test('the second copy of an update advances the value timestamp without applying the operation twice', () => {
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll();
  h.run(500); // gossip reaches c with both copies, in some order
  for (const n of ['a', 'b', 'c']) {
    assert.equal(h.node(n).applies, ['x'], `${n} applied x once`);
    assert.is(V.get(h.node(n).state.prefixTS, h.id('a')), 1);
    assert.is(V.get(h.node(n).state.prefixTS, h.id('b')), 1);
  }
});

test('a query is answered only when prev ≤ the replica’s applied prefix; otherwise held and pulled from the replica ahead', () => {
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(2, 1, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  const ack = h.update('b', rate(2, 1, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll((w) => w.to === h.id('c')); // c hears nothing
  const prev = ack?.kind === 'ack' ? ack.ts : V.zero();
  const q = h.query('c', get(2, 1), prev);
  assert.is(q.reply(), undefined, 'held, not answered');
  const pulls = h.wire.filter((w) => w.from === h.id('c') && w.msg.type === 'pull').map((w) => w.to);
  assert.ok(pulls.includes(h.id('b')), 'targeted pull to the replica whose entry is ahead');
  h.deliverAll();
  const ans = q.reply();
  assert.ok(ans?.kind === 'answer');
  assert.is((ans.result as { rating: number }).rating, 5);
  assert.ok(V.leq(prev, ans.valueTS));
});

test('a held query fails with NOT_YET_AVAILABLE when its deadline passes', () => {
  const h = new Harness(['a', 'b']);
  const q = h.query('a', get(1, 1), { [h.id('b')]: 3 } as V.VTS);
  h.run(1200, 50, () => true); // every message lost
  const r = q.reply();
  assert.ok(r?.kind === 'fail');
  assert.is(r.code, 'NOT_YET_AVAILABLE');
  assert.match(r.message, h.id('b'));
});

test('an update whose prev is ahead is logged only after its dependencies arrive', () => {
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  const ack = h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll((w) => w.to === h.id('c'));
  const prev = ack?.kind === 'ack' ? ack.ts : V.zero();
  const r = h.update('c', rate(1, 1, 2), prev, { uid: 'y' });
  assert.is(r, undefined, 'held');
  assert.is(h.node('c').state.log.size, 0);
  h.deliverAll();
  assert.ok(h.node('c').replies.some((x) => x.kind === 'ack'));
});

test('concurrent writes of one row end equal on every replica whatever the arrival order', () => {
  for (const order of [0, 1]) {
    const h = new Harness(['a', 'b', 'c']);
    // Two sessions of user 1 write movie 3 at once, each through a different pair.
    const writes: [string, string, number][] = [
      ['a', 'b', 2],
      ['b', 'c', 5],
    ];
    const seq = order === 0 ? writes : [...writes].reverse();
    for (const [x, y, stars] of seq) {
      h.update(x, rate(1, 3, stars), V.zero(), { uid: `w${stars}`, copies: [x, y] });
      h.update(y, rate(1, 3, stars), V.zero(), { uid: `w${stars}`, copies: [x, y] });
    }
    h.run(1000);
    const digests = new Set(['a', 'b', 'c'].map((n) => h.node(n).store.digest()));
    assert.is(digests.size, 1, `order ${order}: one digest`);
    // Same order (sum of prev = 0), so the uid decides: "w5" > "w2".
    const q = h.query('a', get(1, 3));
    assert.is((q.reply() as { result: { rating: number } }).result.rating, 5);
  }
});

test('a delete cannot be undone by an older write arriving later', () => {
  const h = new Harness(['a', 'b', 'c']);
  const r1 = h.update('a', rate(1, 1, 4), V.zero(), { uid: 'w1', copies: ['a', 'b'] });
  h.update('b', rate(1, 1, 4), V.zero(), { uid: 'w1', copies: ['a', 'b'] });
  h.deliverAll((w) => w.to === h.id('c'));
  const prev = r1?.kind === 'ack' ? r1.ts : V.zero();
  h.update('a', del(1, 1), prev, { uid: 'd1', copies: ['a', 'b'] });
  h.update('b', del(1, 1), prev, { uid: 'd1', copies: ['a', 'b'] });
  h.run(1000);
  for (const n of ['a', 'b', 'c']) {
    const q = h.query(n, get(1, 1));
    assert.is((q.reply() as { result: { rating: unknown } }).result.rating, null, `${n} keeps the delete`);
  }
});

test('gossip sends a peer only the records its timestamp-table row says it may lack', () => {
  const h = new Harness(['a', 'b']);
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll();
  h.run(300);
  h.update('a', rate(1, 2, 1), V.zero(), { uid: 'y', copies: ['a'] });
  h.wire = [];
  h.run(100, 100, () => false);
  const sent = h.node('a').events.filter((e) => e.type === 'event' && e.event.kind === 'gossipSent').at(-1);
  assert.ok(sent && sent.type === 'event' && sent.event.kind === 'gossipSent');
  assert.ok(sent.event.records <= 1, `sent ${sent.event.records} records, b only lacks y`);
});

test('a record leaves the log once every replica is known to have it, and the log stays bounded under load', () => {
  const h = new Harness(['a', 'b', 'c']);
  let maxLog = 0;
  for (let i = 0; i < 200; i++) {
    const [x, y] = i % 3 === 0 ? ['a', 'b'] : i % 3 === 1 ? ['b', 'c'] : ['c', 'a'];
    h.update(x!, rate(1 + (i % 5), 1 + (i % 4), 3), V.zero(), { uid: `u${i}`, copies: [x!, y!] });
    h.update(y!, rate(1 + (i % 5), 1 + (i % 4), 3), V.zero(), { uid: `u${i}`, copies: [x!, y!] });
    h.run(20);
    for (const n of ['a', 'b', 'c']) maxLog = Math.max(maxLog, h.node(n).state.log.size);
  }
  h.run(1000);
  for (const n of ['a', 'b', 'c']) assert.is(h.node(n).state.log.size, 0, `${n}'s log is empty after quiescence`);
  assert.ok(maxLog < 60, `log stayed bounded under steady load (max ${maxLog} of 400 records)`);
});

test('an update with a single holder is copied to another replica after the bind timeout', () => {
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'lonely', copies: ['a', 'b'] }); // b never gets the FE's request
  h.deliverAll();
  assert.equal(h.node('a').applies, []);
  h.run(600);
  assert.equal(h.node('a').applies, ['lonely']);
  assert.ok(h.node('a').events.some((e) => e.type === 'event' && e.event.kind === 'recruited'));
});

test('a restarted replica (new id, empty memory) recovers from a snapshot before it serves', () => {
  const h = new Harness(['a', 'b']);
  for (let i = 0; i < 5; i++) {
    h.update('a', rate(1, 1 + (i % 4), 2 + (i % 3)), V.zero(), { uid: `u${i}`, copies: ['a', 'b'] });
    h.update('b', rate(1, 1 + (i % 4), 2 + (i % 3)), V.zero(), { uid: `u${i}`, copies: ['a', 'b'] });
  }
  h.run(1000); // everything applied and collected
  assert.is(h.node('a').state.log.size, 0);
  const c = h.add(`c.1` as never, [h.id('a'), h.id('b')], false);
  for (const n of ['a', 'b']) h.input(n, { type: 'peerJoined', id: c.id });
  const early = h.query('c', get(1, 1));
  assert.ok(early.reply()?.kind === 'fail', 'refuses while recovering');
  h.run(500);
  assert.is(c.state.phase, 'serving');
  assert.is(c.store.digest(), h.node('a').store.digest());
  assert.ok(V.equals(c.state.prefixTS, h.node('a').state.prefixTS));
});

test('a session that saw an update survives the crash of one of its two holders', () => {
  // a and b hold x; the reader saw x at a; a crashes before gossiping to c.
  const h = new Harness(['a', 'b', 'c']);
  h.update('a', rate(3, 4, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.update('b', rate(3, 4, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll((w) => w.to === h.id('c'));
  const seen = h.query('a', get(3, 4)).reply();
  assert.ok(seen?.kind === 'answer' && (seen.result as { rating: number }).rating === 5);
  h.crash('a');
  // c has not heard of x. It must not answer the reader with a value without x...
  const q = h.query('c', get(3, 4), seen.valueTS);
  const early = q.reply();
  assert.ok(early === undefined || (early.kind === 'answer' && (early.result as { rating: number }).rating === 5), 'never stale');
  // ...and must answer once b's copy arrives: the dead replica's entries do not block it.
  h.run(500);
  const later = q.reply();
  assert.ok(later?.kind === 'answer', `answered, got ${JSON.stringify(later)}`);
  assert.is((later.result as { rating: number }).rating, 5);
});

test('entries of a crashed replica’s lost records do not block sessions forever', () => {
  // a's own copy of x never leaves a (its push to b is lost); b's copy reaches a.
  const h = new Harness(['a', 'b', 'c']);
  const a = h.id('a');
  h.update('a', rate(3, 4, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.update('b', rate(3, 4, 5), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.deliverAll((w) => w.from === a || w.to === h.id('c'));
  const seen = h.query('a', get(3, 4)).reply();
  assert.ok(seen?.kind === 'answer' && (seen.result as { rating: number }).rating === 5);
  assert.is(V.get(seen.valueTS, a), 1, 'the reader depends on a#1, which only a ever held');
  h.crash('a');
  const q = h.query('c', get(3, 4), seen.valueTS);
  h.run(1000);
  const r = q.reply();
  assert.ok(r?.kind === 'answer', `answered despite a#1 being lost, got ${JSON.stringify(r)}`);
  assert.is((r.result as { rating: number }).rating, 5, 'and fresh: b’s copy of x is applied');
});

test('gossip to a far-behind peer goes in bounded pieces that each keep the receiver consistent', () => {
  const h = new Harness(['a', 'b', 'c'], { config: { gossipMaxRecords: 7 } });
  const c = h.id('c');
  for (let i = 0; i < 60; i++) {
    const [x, y] = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    h.update(x!, rate(1 + (i % 6), 1 + (i % 4), 2), V.zero(), { uid: `u${i}`, copies: [x!, y!] });
    h.update(y!, rate(1 + (i % 6), 1 + (i % 4), 2), V.zero(), { uid: `u${i}`, copies: [x!, y!] });
  }
  h.deliverAll((w) => w.to === c || w.from === c); // c is cut off meanwhile
  let largest = 0;
  h.run(3000, 10, (w) => {
    if (w.msg.type === 'gossip') largest = Math.max(largest, w.msg.records.length);
    return false;
  });
  assert.ok(largest <= 7, `no gossip message carried more than 7 records (largest ${largest})`);
  assert.is(h.node('c').store.digest(), h.node('a').store.digest());
  assert.ok(V.equals(h.node('c').state.prefixTS, h.node('a').state.prefixTS));
});

test('executed uids are remembered for the dedup window, then forgotten; older updates are refused', () => {
  const h = new Harness(['a', 'b'], { config: { dedupWindowMs: 1000 } });
  h.update('a', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.update('b', rate(1, 1, 4), V.zero(), { uid: 'x', copies: ['a', 'b'] });
  h.run(500);
  assert.ok(h.node('a').state.executed.has('x' as never), 'inside the window');
  h.run(700);
  assert.not.ok(h.node('a').state.executed.has('x' as never), 'forgotten once the window has passed and no copy is left');
  const late = h.update('a', rate(1, 1, 4), V.zero(), { uid: 'old' }); // issued at time 1200 - 0: fine
  assert.ok(late?.kind === 'ack');
  h.now += 5000;
  const requestId = 'rexp';
  h.input('a', { type: 'update', from: 'fe', requestId: requestId as never, uid: 'ancient' as never, prev: V.zero(), op: rate(1, 2, 3), issuedAt: 0, copies: [] });
  const r = h.node('a').replies.find((x) => x.requestId === requestId);
  assert.ok(r?.kind === 'fail' && r.code === 'EXPIRED', JSON.stringify(r));
});

test('time never runs backwards inside the core', () => {
  const h = new Harness(['a']);
  h.input('a', { type: 'tick', now: 1000 });
  h.input('a', { type: 'tick', now: 500 });
  assert.is(h.node('a').state.now, 1000);
});

test('bad updates are refused with a precise error and change nothing', () => {
  const h = new Harness(['a', 'b']);
  const r = h.update('a', rate(1, 1, 4.3));
  assert.ok(r?.kind === 'fail' && r.code === 'BAD_RATING');
  const r2 = h.update('a', rate(0, 1, 4));
  assert.ok(r2?.kind === 'fail' && r2.code === 'BAD_USER');
  assert.is(h.node('a').state.log.size, 0);
  assert.equal(h.node('a').state.replicaTS, {});
});

test.run();
