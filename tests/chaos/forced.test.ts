/**
 * The chaos checker's rules for forced (addMovie) and immediate (forgetUser)
 * updates, on hand-written histories: clean ones pass, and each broken rule
 * is caught and named.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import { check, type BaseRow, type FinalReplica } from '../../chaos/checker.js';
import { failovers, forcedTsOf } from '../../chaos/forced.js';
import type { FaultRecord, RecordedReply } from '../../chaos/history.js';
import { H, ts } from './builder.js';

const B = { '1:10': { rating: 3, timestamp: 100 }, '1:11': { rating: 2, timestamp: 101 } };
const rules = (r: ReturnType<typeof check>) => [...new Set(r.violations.map((v) => v.rule))].sort();

/** Two replicas that agree on `rows` (of user 1) and `movies`, with value timestamp `valueTS`. */
function final(valueTS: VTS, rows: Record<string, BaseRow>, movies: Record<number, string | null> = {}) {
  const rep = (n: string): FinalReplica => ({
    name: n,
    id: `${n}.1`,
    phase: 'serving',
    digest: 'd',
    valueTS,
    rows: new Map(Object.entries(rows)),
    movies: new Map(Object.entries(movies).map(([k, v]) => [Number(k), v])),
  });
  return { replicas: [rep('A'), rep('B')], convergedMs: 5, convergeBoundMs: 1000 };
}

const test = suite('chaos checker: forced and immediate updates');

test('the forced timestamp of an acknowledgement is its forced copy, else the reply ts if it has a forced entry', () => {
  const base = { ok: true, kind: 'update', uid: 'u', servedBy: ['P.1'] } as const;
  const t = ts({ 'A.1': 2, forced: 3 });
  assert.equal(forcedTsOf({ ...base, ts: ts({ 'A.1': 5, forced: 3 }), copies: { 'P.1': t } }), t);
  assert.equal(forcedTsOf({ ...base, ts: t, copies: {} }), t);
  assert.is(forcedTsOf({ ...base, ts: ts({ 'A.1': 2 }), copies: { 'A.1': ts({ 'A.1': 2 }) } }), undefined);
});

test('a forget empties its user: a session that forgot sees none of the older rows, and after healing none is left', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  const cut = ts({ 'A.1': 1, 'B.1': 1 });
  h.forget('c1', 1, 1, { cut });
  const after = ts({ 'A.1': 1, 'B.1': 1, forced: 1 });
  h.mine('c1', 1, {}, after);
  h.get('c1', 1, 10, null, after);
  const r = check(h.input(B, [1], { final: final(after, {}) }));
  assert.equal(r.violations, []);
  assert.is(r.forced.forgetUser.acked, 1);
});

test('read your writes (forget): the session that forgot must not see an older rating again, nor a base row', () => {
  const mk = () => {
    const h = new H();
    h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
    h.forget('c1', 1, 1, { cut: ts({ 'A.1': 1, 'B.1': 1 }) });
    return h;
  };
  const own = mk();
  own.get('c1', 1, 10, { rating: 4.5, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  const r = check(own.input(B, [1]));
  assert.equal(rules(r), ['read your writes (forget)']);
  assert.match(r.violations[0]!.detail, /forget of user 1/);
  const base = mk();
  base.mine('c1', 1, { 11: B['1:11'] }, ts({ 'A.1': 1, 'B.1': 1 }));
  assert.equal(rules(check(base.input(B, [1]))), ['read your writes (forget)'], 'a base row of the forgotten user');
  // Another session that has not seen the forget may still read the older values.
  const other = mk();
  other.get('c2', 1, 10, { rating: 4.5, timestamp: 5001 }, ts({ 'A.1': 1, 'B.1': 1 }));
  other.get('c3', 1, 11, B['1:11'], V.zero());
  assert.equal(check(other.input(B, [1])).violations, []);
});

test('forgotten means forgotten: after healing no replica holds a rating causally before an acknowledged forget', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  h.forget('c2', 1, 1, { cut: ts({ 'A.1': 1, 'B.1': 1 }) }); // another session: the cut orders the rating before it
  const all = ts({ 'A.1': 1, 'B.1': 1, forced: 1 });
  assert.equal(check(h.input(B, [1], { final: final(all, {}) })).violations, []);
  const kept = check(h.input(B, [1], { final: final(all, { '1:10': { rating: 4.5, timestamp: 5001 } }) }));
  assert.equal(rules(kept), ['forgotten means forgotten']);
  const base = check(h.input(B, [1], { final: final(all, { '1:11': B['1:11'] }) }));
  assert.equal(rules(base), ['forgotten means forgotten'], 'the base rows go too');
});

test('a rating written after its writer saw the forget stays; replacing it by an older one is caught', () => {
  const h = new H();
  h.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  h.forget('c1', 1, 1, { cut: ts({ 'A.1': 1, 'B.1': 1 }) });
  h.rate('c1', 1, 10, 2, 5002, { 'A.1': 2, 'B.1': 2 }); // its prev covers forced 1
  const all = ts({ 'A.1': 2, 'B.1': 2, forced: 1 });
  assert.equal(check(h.input(B, [1], { final: final(all, { '1:10': { rating: 2, timestamp: 5002 } }) })).violations, []);
  assert.equal(rules(check(h.input(B, [1], { final: final(all, {}) }))), ['lost update'], 'the later rating may not vanish');
  assert.equal(rules(check(h.input(B, [1], { final: final(all, { '1:10': { rating: 4.5, timestamp: 5001 } }) }))), ['forgotten means forgotten', 'lost update']);
});

test('versions decide between a forget and a rating neither session knew of', () => {
  const h = new H();
  // The rating's prev (order 5) is above the forget's (order 2): it wins over the forget.
  h.rate('c2', 1, 10, 1, 5001, { 'C.1': 1, 'D.1': 1 }, { prev: ts({ 'Z.1': 5 }) });
  h.forget('c1', 1, 1, { cut: ts({ 'A.1': 2 }) });
  const all = ts({ 'A.1': 2, 'C.1': 1, 'D.1': 1, 'Z.1': 5, forced: 1 });
  assert.equal(check(h.input(B, [1], { final: final(all, { '1:10': { rating: 1, timestamp: 5001 } }) })).violations, []);
  assert.equal(rules(check(h.input(B, [1], { final: final(all, {}) }))), ['lost update']);
  // A forget that was never acknowledged may or may not have happened.
  const u = new H();
  u.rate('c1', 1, 10, 4.5, 5001, { 'A.1': 1, 'B.1': 1 });
  u.failedForget('c1', 1);
  const v = ts({ 'A.1': 1, 'B.1': 1 });
  assert.equal(check(u.input(B, [1], { final: final(v, {}) })).violations, [], 'gone');
  assert.equal(check(u.input(B, [1], { final: final(v, { '1:10': { rating: 4.5, timestamp: 5001 }, '1:11': B['1:11'] }) })).violations, [], 'kept');
  u.get('c1', 1, 11, null, v);
  assert.equal(check(u.input(B, [1])).violations, [], 'an empty row may be that forget');
});

test('movies: one id per title (case and spaces ignored), one title per id, each title added once, ids in forced order', () => {
  const ok = new H();
  ok.addMovie('c1', 'Alpha (2000)', 100, 1);
  ok.addMovie('c2', 'ALPHA  (2000)', 100, 2, { existed: true });
  ok.addMovie('c1', 'Beta (2001)', 101, 3);
  const clean = check(ok.input(B, [1], { final: final(ts({ forced: 3 }), B, { 100: 'Alpha (2000)', 101: 'Beta (2001)' }) }));
  assert.equal(clean.violations, []);
  assert.equal(clean.forced.addMovie, { sent: 3, acked: 3, existed: 1 });

  const twoIds = new H();
  twoIds.addMovie('c1', 'Alpha (2000)', 100, 1);
  twoIds.addMovie('c2', 'alpha (2000)', 105, 2, { existed: true });
  assert.equal(rules(check(twoIds.input(B, [1]))), ['one id per movie']);

  const shared = new H();
  shared.addMovie('c1', 'Alpha (2000)', 100, 1);
  shared.addMovie('c2', 'Gamma (2002)', 100, 2);
  assert.ok(rules(check(shared.input(B, [1]))).includes('no two movies share an id'));

  const twice = new H();
  twice.addMovie('c1', 'Alpha (2000)', 100, 1);
  twice.addMovie('c2', 'Alpha (2000)', 100, 2);
  assert.equal(rules(check(twice.input(B, [1]))), ['a movie is added once']);

  const down = new H();
  down.addMovie('c1', 'Alpha (2000)', 100, 1);
  down.addMovie('c2', 'Beta (2001)', 99, 2);
  assert.equal(rules(check(down.input(B, [1]))), ['movie ids follow the forced order']);
});

test('forced updates: one sequence number each, in an order that follows real time', () => {
  const same = new H();
  same.addMovie('c1', 'Alpha (2000)', 100, 1, { span: [0, 20] });
  same.addMovie('c2', 'Beta (2001)', 101, 1, { span: [10, 30] });
  assert.equal(rules(check(same.input(B, [1]))), ['forced updates are sequenced']);

  const back = new H();
  back.addMovie('c1', 'Alpha (2000)', 100, 2, { span: [0, 10] });
  back.forget('c2', 1, 1, { span: [20, 30] });
  assert.equal(rules(check(back.input(B, [1]))), ['forced order follows real time']);
  const overlapping = new H();
  overlapping.addMovie('c1', 'Alpha (2000)', 100, 2, { span: [0, 30] });
  overlapping.forget('c2', 1, 1, { span: [20, 40] });
  assert.equal(check(overlapping.input(B, [1])).violations, [], 'concurrent requests may be ordered either way');

  const none = new H();
  const op = none.addMovie('c1', 'Alpha (2000)', 100, 1);
  const r = op.reply as Extract<RecordedReply, { kind: 'update' }>;
  Object.assign(op, { reply: { ...r, ts: ts({ 'A.1': 1 }), copies: { 'A.1': ts({ 'A.1': 1 }) } }, prevAfter: ts({ 'A.1': 1 }) });
  assert.equal(rules(check(none.input(B, [1]))), ['forced updates are sequenced'], 'acknowledged without a forced number');
});

test('after healing: every replica answers each added movie with its title and covers every forced update', () => {
  const h = new H();
  h.addMovie('c1', 'Alpha (2000)', 100, 1);
  h.forget('c2', 1, 2);
  const all = ts({ forced: 2 });
  assert.equal(check(h.input(B, [1], { final: final(all, {}, { 100: 'alpha (2000)' }) })).violations, []);
  assert.equal(rules(check(h.input(B, [1], { final: final(all, {}, { 100: null }) }))), ['acknowledged movies survive under their id']);
  assert.equal(rules(check(h.input(B, [1], { final: final(all, {}, { 100: 'Other (2000)' }) }))), ['acknowledged movies survive under their id']);
  assert.equal(rules(check(h.input(B, [1], { final: final(ts({ forced: 1 }), {}, { 100: 'Alpha (2000)' }) }))), ['lost update'], 'the forget is not in the value');
});

test('failover: from each primary kill until a forced update issued after it is acknowledged', () => {
  const h = new H();
  h.addMovie('c1', 'Alpha (2000)', 100, 1, { primary: 'P.1', span: [90, 150] }); // the old primary answered just in time
  h.addMovie('c2', 'Gamma (2003)', 101, 2, { primary: 'R.1', span: [50, 300] }); // committed before the kill, answered by a follower
  h.addMovie('c1', 'Beta (2001)', 102, 3, { primary: 'Q.1', span: [120, 900] });
  h.forget('c2', 1, 4, { primary: 'Q.1', span: [1000, 1100] });
  const kill: FaultRecord = { kind: 'primary-kill', target: 'rm1', plannedAt: 0, startedAt: 100, endedAt: 2000, outcome: 'done', victimId: 'P.1', rmUnavailable: true };
  const late: FaultRecord = { ...kill, startedAt: 1500, victimId: 'Q.1' };
  assert.equal(failovers(h.ops, [kill, late]), [
    { at: 100, victim: 'P.1', ms: 800 },
    { at: 1500, victim: 'Q.1', ms: null },
  ]);
  const r = check(h.input(B, [1], { faults: [kill] }));
  assert.equal(r.violations, []);
  assert.is(r.forced.failoverMedianMs, 800);
  assert.is(r.forced.failoverMaxMs, 800);
});

test.run();
