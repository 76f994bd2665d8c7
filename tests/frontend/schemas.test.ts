/**
 * What the front end accepts from replicas: update answers with an outcome,
 * errors naming the primary, trace events of the election. Anything
 * malformed becomes INTERNAL (a replica fault), never a crash.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseReplicaMeta, parseRmReply, rmTraceEventSchema } from '../../src/frontend/schemas.js';

const test = suite('front end schemas');

test('an update answer may carry the outcome of a forced or immediate update, checked by shape', () => {
  const added = parseRmReply('update', { ok: true, ts: { forced: 7 }, uid: 'u1', result: { kind: 'addMovie', movieId: 9743, title: 'Heat 2 (2026)', existed: false } });
  assert.equal(added, { ok: true, ts: { forced: 7 }, uid: 'u1', result: { kind: 'addMovie', movieId: 9743, title: 'Heat 2 (2026)', existed: false } });
  const forgot = parseRmReply('update', { ok: true, ts: { forced: 8 }, uid: 'u2', result: { kind: 'forgetUser', userId: 42, removed: 231 } });
  assert.ok(forgot.ok && 'ts' in forgot && forgot.result?.kind === 'forgetUser' && forgot.result.removed === 231);
  const plain = parseRmReply('update', { ok: true, ts: { a: 1 }, uid: 'u3' });
  assert.equal(plain, { ok: true, ts: { a: 1 }, uid: 'u3' }, 'a causal answer is as before');
});

test('an outcome of the wrong shape makes the answer malformed (INTERNAL)', () => {
  for (const result of [
    { kind: 'addMovie', movieId: -1, title: 'x (2000)', existed: false },
    { kind: 'addMovie', movieId: 5, title: 'x (2000)' },
    { kind: 'forgetUser', userId: 42, removed: -3 },
    { kind: 'forgetUser', removed: 3 },
    { kind: 'explode' },
    'yes',
  ]) {
    const r = parseRmReply('update', { ok: true, ts: { a: 1 }, uid: 'u', result });
    assert.ok(!r.ok && r.code === 'INTERNAL', JSON.stringify(result));
  }
});

test('NOT_PRIMARY and NO_PRIMARY are known codes; NOT_PRIMARY may name the primary (a malformed name is dropped)', () => {
  assert.equal(parseRmReply('update', { ok: false, code: 'NOT_PRIMARY', message: 'ask rm2', leader: 'rm2.k1' }), { ok: false, code: 'NOT_PRIMARY', message: 'ask rm2', leader: 'rm2.k1' });
  assert.equal(parseRmReply('update', { ok: false, code: 'NOT_PRIMARY', message: 'ask rm2', leader: 'bad id with spaces' }), { ok: false, code: 'NOT_PRIMARY', message: 'ask rm2' });
  for (const code of ['NO_PRIMARY', 'BAD_TITLE', 'BAD_GENRE']) {
    const r = parseRmReply('update', { ok: false, code, message: 'm' });
    assert.ok(!r.ok && r.code === code, code);
  }
});

test('a replica meta carries its part in the election; a malformed one is ignored, not the replica', () => {
  const base = { id: 'rm1.a', status: 'ACTIVE' };
  assert.equal(parseReplicaMeta({ ...base, primary: { role: 'leader', term: 3, leader: 'rm1.a', commit: 9 } })?.primary, { role: 'leader', term: 3, leader: 'rm1.a', commit: 9 });
  const odd = parseReplicaMeta({ ...base, primary: { role: 'emperor', term: 3 } });
  assert.ok(odd);
  assert.is(odd!.primary, undefined);
  assert.not.ok('primary' in odd!);
});

test('elected and committed trace events are accepted; unknown kinds are not', () => {
  assert.ok(rmTraceEventSchema.safeParse({ kind: 'elected', rm: 'rm2.x', term: 3, at: 1 }).success);
  assert.ok(rmTraceEventSchema.safeParse({ kind: 'committed', rm: 'rm2.x', seq: 7, uid: 'u', at: 1 }).success);
  assert.not.ok(rmTraceEventSchema.safeParse({ kind: 'crowned', rm: 'rm2.x', at: 1 }).success);
});

test.run();
