/**
 * The chaos checker on hand-written histories: clean ones pass (concurrent
 * writes resolved either way included), and every kind of violation is
 * caught and named after its rule.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as V from '../../src/core/vts.js';
import { check, prevFromCopies, rowKey, type BaseRow, type FinalReplica } from '../../chaos/checker.js';
import type { FaultRecord } from '../../chaos/history.js';
import { H, ts } from './builder.js';

const B = { '1:10': { rating: 3, timestamp: 100 }, '1:11': { rating: 2, timestamp: 101 } };
const rules = (r: ReturnType<typeof check>) => [...new Set(r.violations.map((v) => v.rule))].sort();

const test = suite('chaos checker');

test('prev is recovered from two copies and refused when they disagree', () => {
  const prev = ts({ 'a.1': 3, 'b.1': 2, 'c.1': 7 });
  const copies = [
    ['a.1', V.withEntry(prev, 'a.1' as never, 9)],
    ['b.1', V.withEntry(prev, 'b.1' as never, 4)],
  ] as const;
  assert.equal(prevFromCopies(copies, V.zero()), prev);
  assert.is(prevFromCopies([copies[0]], V.zero()), undefined, 'one copy is not enough');
  const other = [copies[0], ['b.1', V.withEntry(ts({ 'a.1': 3, 'c.1': 8 }), 'b.1' as never, 4)]] as const;
  assert.is(prevFromCopies(other, V.zero()), undefined, 'copies logged with different prevs');
  assert.is(prevFromCopies(copies, ts({ 'c.1': 8 })), undefined, 'a prev below what the client sent');
});

test('a clean history passes', () => {
  const h = new H();
  h.get('c1', 1, 10, B['1:10'], V.zero());
  const w = h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  h.get('c1', 1, 10, { rating: 4.5, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  h.get('c2', 1, 10, B['1:10'], V.zero()); // c2 knows nothing yet: stale is allowed
  h.get('c2', 1, 10, { rating: 4.5, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  h.mine('c2', 1, { 10: { rating: 4.5, timestamp: 5001 }, 11: B['1:11'] }, ts({ 'A.1': 1, 'B.1': 1 }));
  const final: FinalReplica[] = ['A', 'B'].map((n) => ({
    name: n,
    id: `${n}.1`,
    phase: 'serving',
    digest: 'd1',
    valueTS: ts({ 'A.1': 1, 'B.1': 1 }),
    rows: new Map([
      ['1:10', { rating: 4.5, timestamp: 5001 }],
      ['1:11', B['1:11']],
    ]),
  }));
  const r = check(h.input(B, [1], { final: { replicas: final, convergedMs: 120, convergeBoundMs: 10_000 } }));
  assert.equal(r.violations, []);
  assert.is(r.acked, 1);
  assert.is(r.exactVersions, 1);
  assert.ok(w.reply?.ok);
});

test('read your writes: a session that wrote a rating must not read the older one', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  h.get('c1', 1, 10, B['1:10'], V.zero());
  const r = check(h.input(B, [1]));
  assert.equal(rules(r), ['read your writes']);
});

test('read your writes holds for deletes too, and a delete reads as no rating', () => {
  const h = new H();
  h.del('c1', 1, 10, 5002, { 'A.1': 1, 'B.1': 1 });
  h.get('c1', 1, 10, null, ts({ 'A.1': 1, 'B.1': 1 }));
  assert.equal(check(h.input(B, [1])).violations, []);
  h.get('c1', 1, 10, B['1:10'], V.zero());
  assert.equal(rules(check(h.input(B, [1]))), ['read your writes']);
});

test('monotonic reads: after reading a newer write, an older one is a violation', () => {
  const h = new H();
  h.rate('w', 1, 10, 1, 5001, { 'A.1': 1, 'B.1': 1 });
  h.rate('w', 1, 10, 2, 5002, { 'A.1': 2, 'C.1': 1 }); // causally after the first
  h.get('r', 1, 10, { rating: 2, timestamp: 5002 }, ts({ 'A.1': 2, 'B.1': 1, 'C.1': 1 }));
  h.get('r', 1, 10, { rating: 1, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  const r = check(h.input(B, [1]));
  assert.equal(rules(r), ['monotonic reads']);
  assert.match(r.violations[0]!.detail, /rating 1 #1/);
});

test('concurrent writes of two sessions of one user may be read in version order only', () => {
  // Both logged with an empty prev: same order, the uid decides ("s1…" < "s2…").
  const mk = () => {
    const h = new H();
    h.rate('s1', 1, 10, 1, 5001, { 'A.1': 1, 'B.1': 1 }, { uid: 's1:x' });
    h.rate('s2', 1, 10, 5, 5002, { 'C.1': 1, 'D.1': 1 }, { uid: 's2:x' });
    return h;
  };
  const good = mk();
  good.get('r', 1, 10, { rating: 1, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  good.get('r', 1, 10, { rating: 5, timestamp: 5002 }, ts({ 'A.1': 1, 'B.1': 1, 'C.1': 1, 'D.1': 1 }));
  assert.equal(check(good.input(B, [1])).violations, [], 'loser then winner is fine');
  const bad = mk();
  bad.get('r', 1, 10, { rating: 5, timestamp: 5002 }, ts({ 'C.1': 1, 'D.1': 1 }));
  bad.get('r', 1, 10, { rating: 1, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1, 'C.1': 1, 'D.1': 1 }));
  assert.equal(rules(check(bad.input(B, [1]))), ['monotonic reads'], 'winner then loser is not');
});

test('concurrent writes whose versions are unknown may be read in either order', () => {
  const h = new H();
  h.rate('s1', 1, 10, 1, 5001, { 'A.1': 1 }, { warning: 'one copy' });
  h.failedRate('s2', 1, 10, 5, 5002);
  h.get('r', 1, 10, { rating: 5, timestamp: 5002 }, ts({ 'C.1': 1 }));
  h.get('r', 1, 10, { rating: 1, timestamp: 5001 }, ts({ 'A.1': 1, 'C.1': 1 }));
  h.get('r', 1, 10, { rating: 5, timestamp: 5002 }, ts({ 'A.1': 1, 'C.1': 1 }));
  assert.equal(check(h.input(B, [1])).violations, []);
});

test('writes follow reads: whoever sees a write sees what its writer had written before', () => {
  const mk = () => {
    const h = new H();
    h.rate('w', 1, 10, 4, 5001, { 'A.1': 1, 'B.1': 1 });
    h.rate('w', 1, 11, 5, 5002, { 'A.1': 2, 'B.1': 2 });
    return h;
  };
  const later = mk();
  later.get('r', 1, 11, { rating: 5, timestamp: 5002 }, ts({ 'A.1': 2, 'B.1': 2 }));
  later.get('r', 1, 10, B['1:10'], ts({ 'A.1': 2, 'B.1': 2 }));
  assert.equal(rules(check(later.input(B, [1]))), ['writes follow reads'], 'in a later read');
  const same = mk();
  same.mine('r', 1, { 10: B['1:10'], 11: { rating: 5, timestamp: 5002 } }, ts({ 'A.1': 2, 'B.1': 2 }));
  assert.equal(rules(check(same.input(B, [1]))), ['writes follow reads'], 'in the same answer');
  const fine = mk();
  fine.mine('r', 1, { 10: { rating: 4, timestamp: 5001 }, 11: { rating: 5, timestamp: 5002 } }, ts({ 'A.1': 2, 'B.1': 2 }));
  assert.equal(check(fine.input(B, [1])).violations, []);
});

test('writes follow reads across sessions: a write made after reading another carries it along', () => {
  const h = new H();
  h.rate('a', 1, 10, 4, 5001, { 'A.1': 1, 'B.1': 1 });
  h.get('b', 1, 10, { rating: 4, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  h.rate('b', 1, 11, 1, 5002, { 'C.1': 1, 'D.1': 1 });
  h.get('c', 1, 11, { rating: 1, timestamp: 5002 }, ts({ 'A.1': 1, 'B.1': 1, 'C.1': 1, 'D.1': 1 }));
  h.get('c', 1, 10, B['1:10'], V.zero());
  assert.equal(rules(check(h.input(B, [1]))), ['writes follow reads']);
});

test('monotonic writes: a later write of a session must not be older than its earlier one', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4, 5001, { 'A.1': 1, 'B.1': 1 }, { prev: ts({ 'Z.1': 5 }) });
  // The session forgot its timestamp: the second write is logged with an empty prev.
  h.ops.push({
    ...h.rate('c9', 1, 10, 2, 5002, { 'C.1': 1, 'D.1': 1 }, { uid: 'c1:a' }),
    client: 'c1',
    prevBefore: V.zero(),
  });
  h.ops.splice(1, 1);
  const r = check(h.input(B, [1]));
  assert.ok(rules(r).includes('monotonic writes'), JSON.stringify(r.violations));
  assert.ok(rules(r).includes('session timestamp'), 'the session timestamp went backwards too');
});

test('values nobody wrote, and writes read before they were issued, are impossible', () => {
  const h = new H();
  h.get('c1', 1, 10, { rating: 1.5, timestamp: 99 }, V.zero());
  h.rate('c2', 1, 10, 4, 5001, { 'A.1': 1, 'B.1': 1 });
  h.get('c1', 1, 10, { rating: 3, timestamp: 5001 }, V.zero()); // right stamp, wrong rating
  h.get('c3', 1, 11, null, V.zero()); // base has a rating and nobody deleted it
  const r = check(h.input(B, [1]));
  assert.equal(rules(r), ['impossible value']);
  assert.is(r.violations.length, 3);
  const f = new H();
  f.get('r', 1, 10, { rating: 4, timestamp: 5001 }, V.zero(), { span: [0, 5] });
  f.rate('w', 1, 10, 4, 5001, { 'A.1': 1, 'B.1': 1 }, { span: [10, 20] });
  assert.equal(rules(check(f.input(B, [1]))), ['impossible value']);
});

test('after healing: a lost acknowledged update, divergence and no convergence are caught', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  const rows = (r: BaseRow) =>
    new Map([
      ['1:10', r],
      ['1:11', B['1:11']],
    ]);
  const rep = (n: string, r: BaseRow, digest = 'd', valueTS = ts({ 'A.1': 1, 'B.1': 1 })): FinalReplica => ({ name: n, id: `${n}.1`, phase: 'serving', digest, valueTS, rows: rows(r) });
  const lost = check(h.input(B, [1], { final: { replicas: [rep('A', B['1:10']), rep('B', B['1:10'])], convergedMs: 10, convergeBoundMs: 1000 } }));
  assert.equal(rules(lost), ['lost update']);
  const uncovered = check(
    h.input(B, [1], { final: { replicas: [rep('A', { rating: 4.5, timestamp: 5001 }, 'd', V.zero()), rep('B', { rating: 4.5, timestamp: 5001 }, 'd', V.zero())], convergedMs: 10, convergeBoundMs: 1000 } }),
  );
  assert.equal(rules(uncovered), ['lost update'], 'an acknowledged update not covered by valueTS');
  const split = check(h.input(B, [1], { final: { replicas: [rep('A', { rating: 4.5, timestamp: 5001 }, 'd1'), rep('B', B['1:10'], 'd2')], convergedMs: null, convergeBoundMs: 1000 } }));
  assert.equal(rules(split), ['convergence']);
  assert.ok(split.violations.some((v) => /disagree on row 1:10/.test(v.detail)));
  assert.ok(split.violations.some((v) => /did not reach/.test(v.detail)));
});

test('concurrent final values: any candidate not known to be older is accepted', () => {
  const h = new H();
  h.rate('s1', 1, 10, 1, 5001, { 'A.1': 1, 'B.1': 1 }, { uid: 's1:x' });
  h.failedRate('s2', 1, 10, 5, 5002); // may or may not have been applied; its version is unknown
  const all = ts({ 'A.1': 1, 'B.1': 1 });
  const rep = (n: string, r: BaseRow): FinalReplica => ({ name: n, id: `${n}.1`, phase: 'serving', digest: 'd', valueTS: all, rows: new Map([['1:10', r], ['1:11', B['1:11']]]) });
  const final = (r: BaseRow) => ({ replicas: [rep('A', r), rep('B', r)], convergedMs: 5, convergeBoundMs: 1000 });
  assert.equal(check(h.input(B, [1], { final: final({ rating: 1, timestamp: 5001 }) })).violations, []);
  assert.equal(check(h.input(B, [1], { final: final({ rating: 5, timestamp: 5002 }) })).violations, []);
  assert.equal(rules(check(h.input(B, [1], { final: final(B['1:10']) }))), ['lost update']);
});

test('a version bounded by one copy still orders writes: the newer acknowledged one must win', () => {
  const h = new H();
  h.rate('s1', 1, 10, 1, 5001, { 'A.1': 1, 'B.1': 1 }, { uid: 's1:x' });
  h.rate('s2', 1, 10, 5, 5002, { 'C.1': 1, 'D.1': 1 }, { uid: 's2:x' });
  h.rate('s1', 1, 10, 2, 5003, { 'A.1': 2 }, { warning: 'one copy' }); // order ≥ 2 > 0
  const all = ts({ 'A.1': 2, 'B.1': 1, 'C.1': 1, 'D.1': 1 });
  const rep = (n: string, r: BaseRow): FinalReplica => ({ name: n, id: `${n}.1`, phase: 'serving', digest: 'd', valueTS: all, rows: new Map([['1:10', r], ['1:11', B['1:11']]]) });
  const final = (r: BaseRow) => ({ replicas: [rep('A', r), rep('B', r)], convergedMs: 5, convergeBoundMs: 1000 });
  assert.equal(check(h.input(B, [1], { final: final({ rating: 2, timestamp: 5003 }) })).violations, []);
  const r = check(h.input(B, [1], { final: final({ rating: 5, timestamp: 5002 }) }));
  assert.equal(rules(r), ['lost update']);
  assert.match(r.violations[0]!.detail, /rating 2 #3/);
});

test('a single-copy acknowledgement lost with its killed holder is excused, other losses are not', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 3 }, { warning: 'only one replica logged it', span: [10, 20] });
  const rep = (n: string): FinalReplica => ({ name: n, id: `${n}.2`, phase: 'serving', digest: 'd', valueTS: ts({ 'A.1': 2 }), rows: new Map([['1:10', B['1:10']], ['1:11', B['1:11']]]) });
  const kill: FaultRecord = { kind: 'rm-kill', target: 'A', plannedAt: 0, startedAt: 25, endedAt: 900, outcome: 'done', victimId: 'A.1', coveredByOthers: { 'A.1': 2 }, rmUnavailable: true };
  const input = h.input(B, [1], { faults: [kill], final: { replicas: [rep('B'), rep('C')], convergedMs: 5, convergeBoundMs: 1000 } });
  const r = check(input);
  // The row check still sees an acknowledged rating replaced by the base: the loss is real.
  assert.equal(rules(r), ['lost update']);
  assert.is(r.excused, 1, 'the valueTS check excuses it');
  const covered = check({ ...input, faults: [{ ...kill, coveredByOthers: { 'A.1': 3 } }] });
  assert.is(covered.excused, 0, 'not when the others had received the copy before the kill');
});

test('availability counts ok replies while at most one replica is down', () => {
  const h = new H();
  for (let i = 0; i < 8; i++) h.get('c1', 1, 10, B['1:10'], V.zero());
  h.failedRate('c1', 1, 10, 3, 5001);
  h.failedRate('c1', 1, 10, 3, 5002);
  const r = check(h.input(B, [1], { minAvailability: 0.9 }));
  assert.is(r.availabilityOneDown.total, 10);
  assert.is(r.availabilityOneDown.share, 0.8);
  assert.equal(r.errors, { TIMEOUT: 2 });
  assert.equal(rules(r), ['availability']);
  // Requests made while two replicas were down are not counted.
  const two: FaultRecord[] = [0, 1].map((i) => ({ kind: 'rm-kill', target: `rm${i}`, plannedAt: 0, startedAt: 175, endedAt: 500, outcome: 'done', rmUnavailable: true }));
  const r2 = check(h.input(B, [1], { faults: two }));
  assert.is(r2.availabilityOneDown.total, 8);
  assert.is(r2.availability.total, 10);
});

test('rowKey names rows user:movie', () => {
  assert.is(rowKey(7, 42), '7:42');
});

test.run();
