import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MovieId, ReplicaId, RequestId, UpdateId, UserId } from '../../src/core/ids.js';
import * as V from '../../src/core/vts.js';
import { createFrontend, feStep, type FeEffect, type FeState, type ReplicaStatus } from '../../src/frontend/core.js';

const rm = (s: string) => s as ReplicaId;
const ts = (o: Record<string, number>) => o as V.VTS;
const req = (s: string) => s as RequestId;

function fe(list: [string, ReplicaStatus][]): FeState {
  const s = createFrontend('fe1', { rmRequestTimeoutMs: 100 }, 0, 1);
  feStep(s, { type: 'replicas', list: list.map(([id, status]) => ({ id: rm(id), status })) });
  return s;
}
const sends = (effects: FeEffect[]) => effects.filter((e) => e.type === 'sendQuery' || e.type === 'sendUpdate') as Extract<FeEffect, { type: 'sendQuery' | 'sendUpdate' }>[];
const replyOf = (effects: FeEffect[]) => effects.find((e) => e.type === 'reply') as Extract<FeEffect, { type: 'reply' }> | undefined;
const query = { kind: 'avg', movieId: 1 as MovieId } as const;
const op = { kind: 'rate', userId: 1 as UserId, movieId: 1 as MovieId, rating: 4, timestamp: 1 } as const;

test('a request goes to two replicas in parallel: ACTIVE before OVERLOADED, never OFFLINE', () => {
  for (let seed = 0; seed < 20; seed++) {
    const s = fe([
      ['r1', 'OVERLOADED'],
      ['r2', 'ACTIVE'],
      ['r3', 'OFFLINE'],
      ['r4', 'ACTIVE'],
    ]);
    s.rngState = seed;
    const out = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q'), prev: V.zero(), query }));
    assert.equal(out.map((e) => e.rm).sort(), ['r2', 'r4']);
  }
  const s = fe([
    ['r1', 'OVERLOADED'],
    ['r2', 'ACTIVE'],
    ['r3', 'OFFLINE'],
  ]);
  const out = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q'), prev: V.zero(), query }));
  assert.equal(out.map((e) => e.rm).sort(), ['r1', 'r2'], 'an OVERLOADED replica is used when it must be');
});

test('load spreads: the replicas with fewest requests in flight are chosen first', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
    ['r3', 'ACTIVE'],
    ['r4', 'ACTIVE'],
  ]);
  const first = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q1'), prev: V.zero(), query })).map((e) => e.rm);
  const second = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q2'), prev: V.zero(), query })).map((e) => e.rm);
  assert.equal([...first, ...second].sort(), ['r1', 'r2', 'r3', 'r4']);
});

test('requests carry prev = merge(FE prev, client prev); the first good answer wins and is merged', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  s.prev = ts({ r1: 2 });
  const out = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q'), prev: ts({ r2: 5 }), query }));
  for (const e of out) assert.equal(e.prev, { r1: 2, r2: 5 });
  const first = out[0]!;
  const r = replyOf(feStep(s, { type: 'rmReply', rmRequestId: first.rmRequestId, rm: first.rm, reply: { ok: true, valueTS: ts({ r1: 3, r2: 5 }), result: 'A' } }));
  assert.ok(r?.reply.ok && r.reply.kind === 'query');
  assert.is(r.reply.result, 'A');
  assert.equal(r.reply.ts, { r1: 3, r2: 5 });
  assert.equal(s.prev, { r1: 3, r2: 5 });
  const late = feStep(s, { type: 'rmReply', rmRequestId: out[1]!.rmRequestId, rm: out[1]!.rm, reply: { ok: true, valueTS: ts({ r1: 9 }), result: 'B' } });
  assert.is(replyOf(late), undefined, 'a late second answer is ignored');
});

test('an update carries the client’s prev unchanged, so a retry through another front end names the same dependencies', () => {
  const a = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  const b = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  a.prev = ts({ r1: 9 });
  b.prev = ts({ r2: 4 });
  const viaA = sends(feStep(a, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: ts({ x: 1 }), op, uid: 'c:1' as UpdateId, issuedAt: 0 }));
  const viaB = sends(feStep(b, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: ts({ x: 1 }), op, uid: 'c:1' as UpdateId, issuedAt: 0 }));
  for (const e of [...viaA, ...viaB]) assert.equal(e.prev, { x: 1 });
});

test('an update is acknowledged once both replicas logged it, with both timestamps merged', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  const out = sends(feStep(s, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: V.zero(), op, issuedAt: 0 }));
  assert.is(out.length, 2);
  const uid = (out[0] as { uid: UpdateId }).uid;
  assert.ok(out.every((e) => e.type === 'sendUpdate' && e.uid === uid && e.copies.length === 2));
  const a = feStep(s, { type: 'rmReply', rmRequestId: out[0]!.rmRequestId, rm: out[0]!.rm, reply: { ok: true, ts: ts({ [out[0]!.rm]: 1 }), uid } });
  assert.is(replyOf(a), undefined, 'not yet: one copy');
  const b = replyOf(feStep(s, { type: 'rmReply', rmRequestId: out[1]!.rmRequestId, rm: out[1]!.rm, reply: { ok: true, ts: ts({ [out[1]!.rm]: 7 }), uid } }));
  assert.ok(b?.reply.ok && b.reply.kind === 'update');
  assert.equal(b.reply.ts, { r1: out[0]!.rm === 'r1' ? 1 : 7, r2: out[0]!.rm === 'r2' ? 1 : 7 });
  assert.is(b.reply.warning, undefined);
});

test('a replica that times out is replaced by another with the same uid and the same prev', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
    ['r3', 'ACTIVE'],
  ]);
  const out = sends(feStep(s, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: ts({ x: 1 }), op, issuedAt: 0 }));
  const uid = (out[0] as { uid: UpdateId }).uid;
  feStep(s, { type: 'rmReply', rmRequestId: out[0]!.rmRequestId, rm: out[0]!.rm, reply: { ok: true, ts: ts({ x: 1, [out[0]!.rm]: 1 }), uid } });
  const retry = sends(feStep(s, { type: 'tick', now: 150 }));
  assert.is(retry.length, 1);
  const third = retry[0]!;
  assert.not.ok(out.map((e) => e.rm).includes(third.rm), 'a replica not tried before');
  assert.ok(third.type === 'sendUpdate' && third.uid === uid);
  assert.equal(third.prev, { x: 1 });
  assert.ok(third.type === 'sendUpdate' && third.copies.includes(out[0]!.rm) && third.copies.includes(third.rm));
});

test('when only one replica could log an update, the reply says so', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  const out = sends(feStep(s, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: V.zero(), op, issuedAt: 0 }));
  const uid = (out[0] as { uid: UpdateId }).uid;
  feStep(s, { type: 'rmReply', rmRequestId: out[0]!.rmRequestId, rm: out[0]!.rm, reply: { ok: true, ts: ts({ r9: 1 }), uid } });
  const r = replyOf(feStep(s, { type: 'tick', now: 150 }));
  assert.ok(r?.reply.ok && r.reply.kind === 'update');
  assert.match(r.reply.warning ?? '', /only .* logged/);
});

test('with no replica able to serve, the client gets an error naming the replicas tried and why', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  const out = sends(feStep(s, { type: 'clientQuery', from: 'c', requestId: req('q'), prev: V.zero(), query }));
  feStep(s, { type: 'rmReply', rmRequestId: out[0]!.rmRequestId, rm: out[0]!.rm, reply: { ok: false, code: 'OFFLINE', message: 'is offline' } });
  const r = replyOf(feStep(s, { type: 'tick', now: 150 }));
  assert.ok(r && !r.reply.ok);
  assert.is(r.reply.code, 'UNAVAILABLE');
  assert.match(r.reply.message, 'r1');
  assert.match(r.reply.message, 'r2');
  assert.match(r.reply.message, 'is offline');
  const none = createFrontend('fe2', { rmRequestTimeoutMs: 100 }, 0, 1);
  const r2 = replyOf(feStep(none, { type: 'clientQuery', from: 'c', requestId: req('q'), prev: V.zero(), query }));
  assert.ok(r2 && !r2.reply.ok && /no replica/.test(r2.reply.message));
});

test('a request error that every replica would repeat (bad input) is returned at once', () => {
  const s = fe([
    ['r1', 'ACTIVE'],
    ['r2', 'ACTIVE'],
  ]);
  const out = sends(feStep(s, { type: 'clientUpdate', from: 'c', requestId: req('u'), prev: V.zero(), op: { ...op, rating: 9 }, issuedAt: 0 }));
  const r = replyOf(feStep(s, { type: 'rmReply', rmRequestId: out[0]!.rmRequestId, rm: out[0]!.rm, reply: { ok: false, code: 'BAD_RATING', message: 'no' } }));
  assert.ok(r && !r.reply.ok && r.reply.code === 'BAD_RATING');
});

test.run();
