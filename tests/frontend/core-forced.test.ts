/**
 * The front end core with forced and immediate updates: they go to the
 * primary alone, follow NOT_PRIMARY redirects, are retried with the same uid
 * and prev until forcedDeadlineMs, then answered NO_PRIMARY. Causal updates
 * are unchanged. Pure: time moves by ticks.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MovieId, ReplicaId, RequestId, UpdateId, UserId } from '../../src/core/ids.js';
import type { Update } from '../../src/core/ops.js';
import type { PrimaryInfo, ReplicaStatus } from '../../src/core/protocol.js';
import * as V from '../../src/core/vts.js';
import { createFrontend, feStep, type FeEffect, type FeState } from '../../src/frontend/core.js';

const test = suite('front end core: forced and immediate updates');

const rm = (s: string) => s as ReplicaId;
const ts = (o: Record<string, number>) => o as V.VTS;
const RETRY = 50;
const DEADLINE = 1000;
const RM_TIMEOUT = 200;

type Entry = [string, ReplicaStatus, PrimaryInfo?];
const leader = (term: number, commit = 0): PrimaryInfo => ({ role: 'leader', term, leader: null, commit });
const follower = (term: number, of: string | null): PrimaryInfo => ({ role: 'follower', term, leader: of === null ? null : rm(of), commit: 0 });
const candidate = (term: number): PrimaryInfo => ({ role: 'candidate', term, leader: null, commit: 0 });

function list(entries: Entry[]) {
  return entries.map(([id, status, primary]) => ({ id: rm(id), status, ...(primary ? { primary } : {}) }));
}

function fe(entries: Entry[], seed = 1): FeState {
  const s = createFrontend('fe1', { rmRequestTimeoutMs: RM_TIMEOUT, forcedRetryMs: RETRY, forcedDeadlineMs: DEADLINE }, 0, seed);
  feStep(s, { type: 'replicas', list: list(entries) });
  return s;
}

type Send = Extract<FeEffect, { type: 'sendUpdate' }>;
const sends = (out: FeEffect[]) => out.filter((e): e is Send => e.type === 'sendUpdate');
const replyOf = (out: FeEffect[]) => out.find((e): e is Extract<FeEffect, { type: 'reply' }> => e.type === 'reply');
const choseOf = (out: FeEffect[]) => out.find((e): e is Extract<FeEffect, { type: 'chose' }> => e.type === 'chose');

const addMovie: Update = { kind: 'addMovie', title: 'Heat 2 (2026)', genres: ['Action', 'Crime'] };
const forget: Update = { kind: 'forgetUser', userId: 42 as UserId };
const rate: Update = { kind: 'rate', userId: 1 as UserId, movieId: 1 as MovieId, rating: 4, timestamp: 1 };
const PREV = ts({ 'rm1.a': 3, forced: 2 });

function send(s: FeState, op: Update, uid?: string, requestId = 'q1'): FeEffect[] {
  return feStep(s, { type: 'clientUpdate', from: 'c', requestId: requestId as RequestId, prev: PREV, op, issuedAt: 7, ...(uid ? { uid: uid as UpdateId } : {}) });
}

const fail = (s: FeState, e: Send, code: string, leaderId?: string) =>
  feStep(s, { type: 'rmReply', rmRequestId: e.rmRequestId, rm: e.rm, reply: { ok: false, code: code as never, message: `${code} from ${e.rm}`, ...(leaderId ? { leader: rm(leaderId) } : {}) } });

/** Ticks from the FE's time to `until` in steps of `step` ms, collecting the effects. */
function tickTo(s: FeState, until: number, step = 10): FeEffect[] {
  const out: FeEffect[] = [];
  for (let t = s.now + step; t <= until; t += step) out.push(...feStep(s, { type: 'tick', now: t }));
  return out;
}

test('a forced update goes only to the primary: the replica reporting leader with the highest term, never an OFFLINE one', () => {
  for (let seed = 0; seed < 10; seed++) {
    const s = fe(
      [
        ['r1', 'ACTIVE', follower(3, 'r2')],
        ['r2', 'OVERLOADED', leader(3)],
        ['r3', 'ACTIVE', leader(2)], // deposed, has not heard yet
        ['r4', 'OFFLINE', leader(9)],
      ],
      seed,
    );
    const out = send(s, addMovie);
    const sent = sends(out);
    assert.is(sent.length, 1, 'one replica, not two');
    assert.is(sent[0]!.rm, 'r2');
    assert.equal(sent[0]!.copies, [], 'a forced update has no twin copy');
    const c = choseOf(out);
    assert.is(c?.reason, 'primary');
    assert.is(c?.term, 3);
    assert.equal(c?.chosen.map((x) => x.rm), ['r2']);
  }
});

test('an immediate update goes only to the primary too', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(1)],
    ['r2', 'ACTIVE', follower(1, 'r1')],
  ]);
  const sent = sends(send(s, forget));
  assert.equal(
    sent.map((e) => e.rm),
    ['r1'],
  );
});

test('with no replica reporting leader, the leader named by the highest term that is listed and reachable is used', () => {
  const s = fe([
    ['r1', 'OFFLINE', follower(6, 'r9')], // r9 is not listed
    ['r2', 'ACTIVE', follower(5, 'r4')], // r4 is OFFLINE
    ['r3', 'ACTIVE', follower(4, 'r3')],
    ['r4', 'OFFLINE', follower(5, 'r4')],
    ['r5', 'ACTIVE', follower(2, 'r2')], // older term
  ]);
  const out = send(s, addMovie);
  assert.equal(
    sends(out).map((e) => e.rm),
    ['r3'],
  );
  assert.is(choseOf(out)?.reason, 'primary');
  assert.is(choseOf(out)?.term, 4);
});

test('with no primary known, one serving replica is tried (it answers with the primary or NO_PRIMARY)', () => {
  const s = fe([
    ['r1', 'OFFLINE'],
    ['r2', 'ACTIVE', candidate(3)],
    ['r3', 'ACTIVE', candidate(3)],
  ]);
  const out = send(s, addMovie);
  const sent = sends(out);
  assert.is(sent.length, 1);
  assert.ok(sent[0]!.rm === 'r2' || sent[0]!.rm === 'r3');
  assert.is(choseOf(out)?.reason, 'guess');
});

test('NOT_PRIMARY naming a primary the front end knows: retried there at once, with the same uid and prev', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(2)], // stale meta: it lost the primary role
    ['r2', 'ACTIVE', follower(2, 'r1')],
    ['r3', 'ACTIVE', follower(2, 'r1')],
  ]);
  const first = sends(send(s, addMovie))[0]!;
  assert.is(first.rm, 'r1');
  const out = fail(s, first, 'NOT_PRIMARY', 'r3');
  const again = sends(out);
  assert.equal(
    again.map((e) => e.rm),
    ['r3'],
    'no pause before following the redirect',
  );
  assert.is(again[0]!.uid, first.uid);
  assert.equal(again[0]!.prev, PREV);
  assert.is(choseOf(out)?.reason, 'redirect');
  assert.is(choseOf(out)?.retry, true);
  assert.is(replyOf(out), undefined);
});

test('NOT_PRIMARY naming a replica the front end does not know: retried after forcedRetryMs', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(2)],
    ['r2', 'ACTIVE'],
  ]);
  const first = sends(send(s, addMovie))[0]!;
  assert.is(sends(fail(s, first, 'NOT_PRIMARY', 'r7')).length, 0);
  assert.is(sends(tickTo(s, RETRY - 10)).length, 0, 'nothing before the pause is over');
  const again = sends(tickTo(s, RETRY + 20));
  assert.is(again.length, 1);
  assert.is(again[0]!.uid, first.uid);
});

test('retries keep the uid and the client prev: NO_PRIMARY, TIMEOUT and UNAVAILABLE are tried again after forcedRetryMs', () => {
  const s = fe([
    ['r1', 'ACTIVE', candidate(4)],
    ['r2', 'ACTIVE', candidate(4)],
  ]);
  const all: Send[] = [];
  const first = sends(send(s, forget, 'client-uid-1'))[0]!;
  all.push(first);
  assert.is(first.uid, 'client-uid-1', "a client's own uid is kept");
  assert.is(sends(fail(s, first, 'NO_PRIMARY')).length, 0, 'NO_PRIMARY: wait, do not hammer');
  const second = sends(tickTo(s, s.now + RETRY + 10))[0]!;
  assert.ok(second, 'tried again after the pause');
  all.push(second);
  // No answer: after the attempt's own timeout, the pause, then a third attempt.
  const third = sends(tickTo(s, s.now + RM_TIMEOUT + RETRY + 20))[0]!;
  assert.ok(third, 'a silent replica is tried again after its timeout and the pause');
  all.push(third);
  assert.is(sends(fail(s, third, 'UNAVAILABLE')).length, 0);
  const fourth = sends(tickTo(s, s.now + RETRY + 10))[0]!;
  all.push(fourth);
  for (const e of all) {
    assert.is(e.uid, 'client-uid-1');
    assert.equal(e.prev, PREV);
    assert.equal(e.copies, []);
    assert.is(e.issuedAt, 7);
  }
});

test('gives up with NO_PRIMARY after forcedDeadlineMs, saying so and naming the last error', () => {
  const s = fe([['r1', 'ACTIVE', candidate(1)]]);
  let e = sends(send(s, addMovie))[0]!;
  let reply: ReturnType<typeof replyOf>;
  let attempts = 1;
  while (!reply && s.now < 2 * DEADLINE) {
    const out = fail(s, e, 'NO_PRIMARY');
    reply = replyOf(out);
    for (let t = 0; !reply && t < 20; t++) {
      const more = feStep(s, { type: 'tick', now: s.now + 10 });
      reply = replyOf(more);
      const next = sends(more)[0];
      if (next) {
        e = next;
        attempts++;
        break;
      }
    }
  }
  assert.ok(reply, 'an answer by the deadline');
  assert.ok(s.now >= DEADLINE && s.now < DEADLINE + 20, `answered at the deadline (at ${s.now})`);
  assert.ok(!reply!.reply.ok && reply!.reply.code === 'NO_PRIMARY');
  if (!reply!.reply.ok) {
    assert.match(reply!.reply.message, /no primary could sequence this forced update in 1000 ms/);
    assert.match(reply!.reply.message, /last error: r1: NO_PRIMARY/);
    assert.equal(reply!.reply.tried, ['r1']);
  }
  assert.ok(attempts >= 10, `tried again and again until then (${attempts} attempts)`);
  assert.is(s.pending.size, 0);
  assert.is(s.byRmRequest.size, 0, 'nothing is left behind');
});

test('with no replica reachable at all, the update waits for one until the deadline', () => {
  const s = fe([['r1', 'OFFLINE', leader(1)]]);
  assert.is(sends(send(s, addMovie)).length, 0);
  assert.is(sends(tickTo(s, 300)).length, 0);
  const out = feStep(s, { type: 'replicas', list: list([['r1', 'ACTIVE', leader(1)]]) });
  assert.equal(
    sends(out).map((e) => e.rm),
    ['r1'],
    'it goes as soon as the primary is reachable',
  );
});

test('an election that ends while an update waits sends it at once to the new primary', () => {
  const s = fe([
    ['r1', 'ACTIVE', candidate(5)],
    ['r2', 'ACTIVE', candidate(5)],
  ]);
  const first = sends(send(s, addMovie))[0]!;
  fail(s, first, 'NO_PRIMARY');
  const other = first.rm === 'r1' ? 'r2' : 'r1';
  const out = feStep(s, {
    type: 'replicas',
    list: list([
      [first.rm, 'ACTIVE', follower(5, other)],
      [other, 'ACTIVE', leader(5)],
    ]),
  });
  assert.equal(
    sends(out).map((e) => e.rm),
    [other],
  );
  assert.is(sends(out)[0]!.uid, first.uid);
});

test('errors about the request itself (BAD_TITLE, BAD_GENRE, BAD_USER) are answered at once', () => {
  for (const code of ['BAD_TITLE', 'BAD_GENRE', 'BAD_USER', 'EXPIRED']) {
    const s = fe([['r1', 'ACTIVE', leader(1)]]);
    const e = sends(send(s, addMovie))[0]!;
    const r = replyOf(fail(s, e, code));
    assert.ok(r && !r.reply.ok && r.reply.code === code, code);
    assert.is(s.pending.size, 0);
  }
});

test('success: one replica, the reply carries the ordering and the outcome; ts is merged into the reply and the FE prev', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(3)],
    ['r2', 'ACTIVE', follower(3, 'r1')],
  ]);
  s.prev = ts({ 'rm2.b': 9 });
  const e = sends(send(s, addMovie))[0]!;
  const got = ts({ 'rm1.a': 3, forced: 7, r1: 4 });
  const out = feStep(s, {
    type: 'rmReply',
    rmRequestId: e.rmRequestId,
    rm: e.rm,
    reply: { ok: true, ts: got, uid: e.uid, result: { kind: 'addMovie', movieId: 9743 as MovieId, title: 'Heat 2 (2026)', existed: false } },
  });
  const r = replyOf(out);
  assert.ok(r?.reply.ok && r.reply.kind === 'update');
  if (r?.reply.ok && r.reply.kind === 'update') {
    assert.equal(r.reply.servedBy, ['r1']);
    assert.equal(r.reply.copies, { r1: got });
    assert.equal(r.reply.ts, V.merge(PREV, got));
    assert.is(r.reply.ordering, 'forced');
    assert.equal(r.reply.result, { kind: 'addMovie', movieId: 9743, title: 'Heat 2 (2026)', existed: false });
    assert.is(r.reply.uid, e.uid);
    assert.is(r.reply.warning, undefined);
  }
  assert.equal(s.prev, V.merge(ts({ 'rm2.b': 9 }), got));
  assert.is(s.replicas.get(rm('r1'))!.inflight, 0);
});

test('a late answer from an attempt that timed out still completes the request', () => {
  const s = fe([['r1', 'ACTIVE', leader(1)]]);
  const first = sends(send(s, forget))[0]!;
  tickTo(s, RM_TIMEOUT + 10);
  assert.is(s.replicas.get(rm('r1'))!.inflight, 0, 'the silent attempt no longer counts as load');
  const out = feStep(s, { type: 'rmReply', rmRequestId: first.rmRequestId, rm: first.rm, reply: { ok: true, ts: ts({ forced: 1 }), uid: first.uid, result: { kind: 'forgetUser', userId: 42 as UserId, removed: 3 } } });
  const r = replyOf(out);
  assert.ok(r?.reply.ok && r.reply.kind === 'update' && r.reply.ordering === 'immediate');
  assert.is(s.byRmRequest.size, 0);
});

test('replicas naming each other as primary do not make the front end spin: redirects pause after a few', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(2)],
    ['r2', 'ACTIVE', leader(1)],
  ]);
  let e = sends(send(s, addMovie))[0]!;
  let immediate = 0;
  for (;;) {
    const next = sends(fail(s, e, 'NOT_PRIMARY', e.rm === 'r1' ? 'r2' : 'r1'))[0];
    if (!next) break;
    immediate++;
    e = next;
    assert.ok(immediate < 10, 'bounded');
  }
  assert.ok(immediate >= 1 && immediate <= 2, `${immediate} immediate redirects`);
  assert.is(sends(tickTo(s, s.now + RETRY + 10)).length, 1, 'then tried again after the pause');
});

test('causal updates still go to two replicas, not only to the primary', () => {
  const s = fe([
    ['r1', 'ACTIVE', leader(1)],
    ['r2', 'ACTIVE', follower(1, 'r1')],
    ['r3', 'ACTIVE', follower(1, 'r1')],
  ]);
  const out = send(s, rate);
  const sent = sends(out);
  assert.is(sent.length, 2);
  for (const e of sent) assert.is(e.copies.length, 2);
  assert.is(choseOf(out)?.reason, undefined);
  const r = replyOf([
    ...feStep(s, { type: 'rmReply', rmRequestId: sent[0]!.rmRequestId, rm: sent[0]!.rm, reply: { ok: true, ts: ts({ a: 1 }), uid: sent[0]!.uid } }),
    ...feStep(s, { type: 'rmReply', rmRequestId: sent[1]!.rmRequestId, rm: sent[1]!.rm, reply: { ok: true, ts: ts({ b: 1 }), uid: sent[1]!.uid } }),
  ]);
  assert.ok(r?.reply.ok && r.reply.kind === 'update');
  if (r?.reply.ok && r.reply.kind === 'update') {
    assert.is(r.reply.servedBy.length, 2);
    assert.is(r.reply.ordering, undefined, 'a causal reply is as before');
  }
});

test.run();
