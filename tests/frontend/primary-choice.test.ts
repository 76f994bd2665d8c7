/**
 * Which replica a forced/immediate update goes to (src/frontend/primary.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReplicaId } from '../../src/core/ids.js';
import type { PrimaryInfo, ReplicaStatus } from '../../src/core/protocol.js';
import { choosePrimary } from '../../src/frontend/primary.js';

const rm = (id: string, primary: PrimaryInfo, status: ReplicaStatus = 'ACTIVE') => ({ id: id as ReplicaId, status, inflight: 0, primary });
const follower = (term: number, leader: string | null): PrimaryInfo => ({ role: 'follower', term, leader: leader as ReplicaId | null, commit: 0 });
const leader = (id: string, term: number): PrimaryInfo => ({ role: 'leader', term, leader: id as ReplicaId, commit: 0 });

test('the replica that reports itself leader with the highest term is chosen', () => {
  const list = [rm('a.1', leader('a.1', 1)), rm('b.1', leader('b.1', 2)), rm('c.1', follower(2, 'b.1'))];
  assert.is(choosePrimary(list)?.replica.id, 'b.1');
  assert.is(choosePrimary(list)?.reason, 'primary');
});

test('a stale leader is passed over when the others already follow a leader of a later term', () => {
  // a.1 still believes it leads term 1; b.1 won term 2 but its own meta is not published yet.
  const list = [rm('a.1', leader('a.1', 1)), rm('b.1', follower(1, 'a.1')), rm('c.1', follower(2, 'b.1')), rm('d.1', follower(2, 'b.1'))];
  assert.is(choosePrimary(list)?.replica.id, 'b.1');
});

test('hints of an older term do not override a leader', () => {
  const list = [rm('a.1', leader('a.1', 3)), rm('b.1', follower(2, 'c.1')), rm('c.1', follower(2, 'c.1'))];
  assert.is(choosePrimary(list)?.replica.id, 'a.1');
});

test('an OFFLINE leader is never chosen; a NOT_PRIMARY redirect is followed first', () => {
  const list = [rm('a.1', leader('a.1', 2), 'OFFLINE'), rm('b.1', follower(2, 'a.1')), rm('c.1', follower(2, 'a.1'))];
  assert.is.not(choosePrimary(list)?.replica.id, 'a.1');
  assert.is(choosePrimary(list)?.reason, 'guess');
  assert.is(choosePrimary(list, 'c.1' as ReplicaId)?.replica.id, 'c.1');
  assert.is(choosePrimary(list, 'c.1' as ReplicaId)?.reason, 'redirect');
});

test.run();
