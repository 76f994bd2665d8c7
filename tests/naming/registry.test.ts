/**
 * The naming registry on its own (no sockets, time passed in): names belong
 * to one live connection, leases expire, and every change yields exactly the
 * events watchers must see.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry, type RegistryEvent } from '../../src/naming/registry.js';

const LEASE = 1000;
const rm = (name: string, meta: Record<string, unknown> = {}) => ({ kind: 'replica' as const, name, url: `http://127.0.0.1:1/${name}`, meta });
const fe = (name: string) => ({ kind: 'frontend' as const, name, url: `http://127.0.0.1:2/${name}`, meta: {} });
const summary = (evs: readonly RegistryEvent[]) => evs.map((e) => `${e.type} ${e.member.name}${e.type === 'left' ? ` ${e.reason}` : ''}`);

const test = suite('naming registry');

test('register, look up by name, list by kind (sorted by name)', () => {
  const r = new Registry({ leaseMs: LEASE });
  const a = r.register('s1', rm('rm2'), 0, 5000);
  assert.ok(a.ok);
  assert.equal(summary(a.events), ['joined rm2']);
  assert.ok(r.register('s2', rm('rm1'), 0).ok);
  assert.ok(r.register('s3', fe('fe1'), 0).ok);
  assert.equal(r.lookup('rm2')?.since, 5000);
  assert.equal(r.lookup('rm2')?.url, 'http://127.0.0.1:1/rm2');
  assert.is(r.lookup('nobody'), null);
  assert.equal(r.list('replica').map((m) => m.name), ['rm1', 'rm2']);
  assert.equal(r.list('frontend').map((m) => m.name), ['fe1']);
  assert.equal(r.list().map((m) => m.name), ['fe1', 'rm1', 'rm2']);
  assert.is(r.memberOf('s3')?.name, 'fe1');
});

test('a second connection cannot take a live member\'s name: NAME_TAKEN', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  const b = r.register('s2', rm('rm1'), 10);
  assert.not.ok(b.ok);
  if (!b.ok) assert.is(b.code, 'NAME_TAKEN');
  assert.equal(b.events, []);
  assert.is(r.memberOf('s2'), null);
});

test('the same name is free again once its member left (restarts reuse names)', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  assert.equal(summary(r.disconnect('s1')), ['left rm1 disconnected']);
  const b = r.register('s2', rm('rm1'), 10, 10);
  assert.ok(b.ok);
  assert.equal(summary(b.events), ['joined rm1']);
  assert.equal(r.disconnect('s1'), [], 'the old connection holds nothing any more');
});

test('the same connection registering its own name again is an update', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1', { v: 1 }), 0, 100);
  const again = r.register('s1', rm('rm1', { v: 2 }), 50, 999);
  assert.ok(again.ok);
  assert.equal(summary(again.events), ['updated rm1']);
  assert.is(r.lookup('rm1')?.since, 100, 'since is the first registration');
  assert.equal(r.lookup('rm1')?.meta, { v: 2 });
  assert.equal(r.register('s1', rm('rm1', { v: 2 }), 60).events, [], 'nothing changed, nothing to tell');
});

test('a connection holds one member: registering another name moves it; another kind is leave + join', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  assert.equal(summary(r.register('s1', rm('rm9'), 1).events), ['left rm1 renamed', 'joined rm9']);
  assert.is(r.lookup('rm1'), null);
  assert.equal(summary(r.register('s1', { ...fe('rm9') }, 2).events), ['left rm9 kindChanged', 'joined rm9']);
  assert.is(r.lookup('rm9')?.kind, 'frontend');
  assert.is(r.size, 1);
});

test('update replaces meta and tells watchers only when it changed; without a member it is EXPIRED', () => {
  const r = new Registry({ leaseMs: LEASE });
  const none = r.update('s1', { a: 1 }, 0);
  assert.not.ok(none.ok);
  if (!none.ok) assert.is(none.code, 'EXPIRED');
  r.register('s1', rm('rm1', { a: 1 }), 0);
  assert.equal(summary(r.update('s1', { a: 2 }, 10).events), ['updated rm1']);
  assert.equal(r.update('s1', { a: 2 }, 20).events, []);
  assert.equal(r.lookup('rm1')?.meta, { a: 2 });
});

test('a member whose heartbeats stop expires after leaseMs; heartbeats and updates renew the lease', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  r.register('s2', rm('rm2'), 0);
  assert.ok(r.heartbeat('s1', 600).ok);
  assert.ok(r.update('s2', { x: 1 }, 700).ok);
  assert.equal(r.expire(999), []);
  assert.is(r.nextExpiry(), 1600);
  assert.equal(r.expire(1599), []);
  assert.equal(summary(r.expire(1600)), ['left rm1 expired']);
  assert.equal(summary(r.expire(1700)), ['left rm2 expired']);
  assert.is(r.size, 0);
  const hb = r.heartbeat('s1', 1800);
  assert.not.ok(hb.ok);
  if (!hb.ok) assert.is(hb.code, 'EXPIRED', 'a late heartbeat learns it must register again');
});

test('an expired but not yet swept holder does not block its name', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  const b = r.register('s2', rm('rm1'), 1000);
  assert.ok(b.ok);
  assert.equal(summary(b.events), ['left rm1 expired', 'joined rm1']);
  const left = b.events[0];
  assert.ok(left?.type === 'left' && left.owner === 's1', 'the expired owner is named so its connection can be closed');
});

test('postpone extends every lease (the driver was stalled)', () => {
  const r = new Registry({ leaseMs: LEASE });
  r.register('s1', rm('rm1'), 0);
  r.postpone(500);
  assert.equal(r.expire(1400), []);
  assert.equal(summary(r.expire(1500)), ['left rm1 expired']);
});

test('the registry refuses members beyond its maximum (TOO_LARGE) without disturbing others', () => {
  const r = new Registry({ leaseMs: LEASE, maxMembers: 2 });
  r.register('s1', rm('rm1'), 0);
  r.register('s2', rm('rm2'), 0);
  const c = r.register('s3', rm('rm3'), 0);
  assert.not.ok(c.ok);
  if (!c.ok) assert.is(c.code, 'TOO_LARGE');
  assert.ok(r.register('s1', rm('rm1', { v: 2 }), 1).ok, 'updates still work at the maximum');
  assert.ok(r.register('s2', rm('rm2b'), 1).ok, 'so do renames');
  assert.equal(r.list().map((m) => m.name), ['rm1', 'rm2b']);
});

test('members handed out are frozen snapshots', () => {
  const r = new Registry({ leaseMs: LEASE });
  const meta = { v: 1 };
  r.register('s1', rm('rm1', meta), 0);
  meta.v = 2;
  const m = r.lookup('rm1');
  assert.equal(m?.meta, { v: 1 });
  assert.ok(Object.isFrozen(m) && Object.isFrozen(m?.meta));
});

test.run();
