/**
 * The cluster view: built from naming's member lists; lag is the sum of the
 * entry gaps to the most advanced replica; recovering replicas are shown.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Member, ReplicaMeta } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { buildClusterView, lagOf } from '../../src/frontend/view.js';

const test = suite('cluster view');
const ts = (o: Record<string, number>) => o as VTS;

function replica(name: string, over: Omit<Partial<ReplicaMeta>, 'primary'> & { primary?: unknown } = {}): Member {
  const meta: Record<string, unknown> = {
    id: `${name}.e1`,
    status: 'ACTIVE',
    phase: 'serving',
    valueTS: {},
    replicaTS: {},
    logLength: 0,
    executed: 0,
    lastGossipAt: null,
    ...over,
  };
  return { kind: 'replica', name, url: `http://127.0.0.1:1/${name}`, meta, since: 0 };
}

function frontend(name: string, prev: Record<string, number>): Member {
  return { kind: 'frontend', name, url: `http://127.0.0.1:2/${name}`, meta: { prev }, since: 0 };
}

test('lag sums, over every entry, how far a replica is behind the most advanced one', () => {
  assert.is(lagOf(ts({ a: 3, b: 1 }), ts({ a: 5, b: 4, c: 2 })), 2 + 3 + 2);
  assert.is(lagOf(ts({ a: 5 }), ts({ a: 5 })), 0);
  assert.is(lagOf(ts({}), ts({})), 0);
});

test('each replica is compared with the entry-wise maximum across all replicas, not with one replica', () => {
  const v = buildClusterView({
    members: [replica('rm1', { valueTS: ts({ a: 5, b: 1 }) }), replica('rm2', { valueTS: ts({ a: 2, b: 4 }) }), replica('rm3', { valueTS: ts({}) })],
    via: 'fe1',
    at: 10,
  });
  const lag = Object.fromEntries(v.replicas.map((r) => [r.name, r.lag]));
  // max = {a:5, b:4}
  assert.equal(lag, { rm1: 3, rm2: 3, rm3: 9 });
});

test('a recovering replica is shown with its phase (and its lag)', () => {
  const v = buildClusterView({
    members: [replica('rm1', { valueTS: ts({ a: 2 }) }), replica('rm2', { phase: 'recovering', status: 'ACTIVE' })],
    via: 'fe1',
    at: 0,
  });
  const rm2 = v.replicas.find((r) => r.name === 'rm2');
  assert.ok(rm2);
  assert.is(rm2.phase, 'recovering');
  assert.is(rm2.lag, 2);
});

test('the view carries every field of each replica meta, sorted by name', () => {
  const v = buildClusterView({
    members: [
      replica('rm2', { status: 'OFFLINE', replicaTS: ts({ x: 7 }), logLength: 4, executed: 9, lastGossipAt: 1234 }),
      replica('rm1'),
      frontend('fe2', { x: 1 }),
    ],
    via: 'fe9',
    at: 77,
  });
  assert.equal(
    v.replicas.map((r) => r.name),
    ['rm1', 'rm2'],
  );
  assert.equal(v.replicas[1], {
    name: 'rm2',
    id: 'rm2.e1',
    url: 'http://127.0.0.1:1/rm2',
    status: 'OFFLINE',
    phase: 'serving',
    valueTS: {},
    replicaTS: { x: 7 },
    logLength: 4,
    executed: 9,
    lag: 0,
    lastGossipAt: 1234,
  });
  assert.is(v.via, 'fe9');
  assert.is(v.at, 77);
});

test('front ends are listed with their published prev; this front end with its live prev', () => {
  const v = buildClusterView({
    members: [frontend('fe2', { a: 1 }), frontend('fe1', { a: 0 })],
    via: 'fe1',
    at: 0,
    self: { url: 'http://127.0.0.1:2/fe1', prev: ts({ a: 4 }) },
  });
  assert.equal(v.frontends, [
    { name: 'fe1', url: 'http://127.0.0.1:2/fe1', prev: { a: 4 } },
    { name: 'fe2', url: 'http://127.0.0.1:2/fe2', prev: { a: 1 } },
  ]);
});

test('this front end is listed even before naming lists it', () => {
  const v = buildClusterView({ members: [], via: 'fe1', at: 0, self: { url: 'http://x:1', prev: ts({}) } });
  assert.equal(v.frontends, [{ name: 'fe1', url: 'http://x:1', prev: {} }]);
});

test('a replica whose meta cannot be read is left out; a front end meta without prev shows an empty prev', () => {
  const bad: Member = { kind: 'replica', name: 'rmX', url: 'http://x', meta: { status: 'ACTIVE' }, since: 0 };
  const odd: Member = { kind: 'frontend', name: 'feX', url: 'http://y', meta: {}, since: 0 };
  const v = buildClusterView({ members: [bad, replica('rm1'), odd], via: 'fe1', at: 0 });
  assert.equal(
    v.replicas.map((r) => r.name),
    ['rm1'],
  );
  assert.equal(v.frontends, [{ name: 'feX', url: 'http://y', prev: {} }]);
});

const leader = (term: number) => ({ role: 'leader', term, leader: null, commit: 3 });
const follower = (term: number, of: string | null) => ({ role: 'follower', term, leader: of, commit: 3 });

test('ClusterView.primary is the replica reporting leader with the highest term', () => {
  const v = buildClusterView({
    members: [
      replica('rm1', { primary: leader(2) }), // deposed, has not heard yet
      replica('rm2', { primary: leader(3) }),
      replica('rm3', { primary: follower(3, 'rm2.e1') }),
    ],
    via: 'fe1',
    at: 0,
  });
  assert.equal(v.primary, { id: 'rm2.e1', name: 'rm2', term: 3 });
});

test('ClusterView.primary is null while no replica is leader (an election, or no voters)', () => {
  const electing = buildClusterView({
    members: [replica('rm1', { primary: { role: 'candidate', term: 4, leader: null, commit: 0 } }), replica('rm2', { primary: follower(4, null) })],
    via: 'fe1',
    at: 0,
  });
  assert.is(electing.primary, null);
  const plain = buildClusterView({ members: [replica('rm1')], via: 'fe1', at: 0 });
  assert.is(plain.primary, null);
});

test("each replica's part in the election is in its ReplicaView; an unreadable one is left out, not the replica", () => {
  const v = buildClusterView({
    members: [replica('rm1', { primary: follower(2, 'rm2.e1') }), replica('rm2', { primary: { role: 'king', term: -1 } })],
    via: 'fe1',
    at: 0,
  });
  assert.equal(v.replicas[0]!.primary, { role: 'follower', term: 2, leader: 'rm2.e1', commit: 3 });
  assert.is(v.replicas[1]!.name, 'rm2');
  assert.is(v.replicas[1]!.primary, undefined);
  assert.not.ok('primary' in v.replicas[1]!);
});

test.run();
