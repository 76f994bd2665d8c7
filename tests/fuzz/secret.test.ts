/**
 * The cluster secret. Registration, gossip and pulls (`peer`), status
 * changes and introspection need it; without it (or with a wrong one) they
 * are refused and change nothing. Ordinary client operations need none. A
 * client cannot register as a replica or inject gossip.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Socket } from 'socket.io-client';
import { buildOnce, Cluster } from '../helpers/cluster.js';
import { connect, emitRaw, isErrorReply } from '../../chaos/fuzz.js';

buildOnce();

let cluster: Cluster;

const test = suite('cluster secret');

test.before(async () => {
  cluster = await Cluster.start({ frontends: 1, replicas: 2 });
});

test.after(async () => {
  await cluster?.close();
});

async function call(s: Socket, event: string, payload: unknown, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const out = await emitRaw(s, event, [payload], true, timeoutMs);
  if (out.kind !== 'reply') throw new Error(`${event}: ${out.kind}`);
  return out.reply as Record<string, unknown>;
}

function refused(r: Record<string, unknown>, what: string): void {
  assert.ok(isErrorReply(r) && r.code === 'UNAUTHORIZED', `${what} is refused with UNAUTHORIZED (got ${JSON.stringify(r).slice(0, 160)})`);
}

/** Sockets without the secret and with a wrong one. */
async function outsiders(url: string): Promise<[string, Socket][]> {
  return [
    ['no secret', await connect(url)],
    ['a wrong secret', await connect(url, `${cluster.secret}x`)],
  ];
}

test('naming: registering (as a replica or a front end) and updating meta need the secret; lookups do not', async () => {
  for (const [how, s] of await outsiders(cluster.namingUrl)) {
    try {
      refused(await call(s, 'register', { kind: 'replica', name: 'intruder', url: 'http://127.0.0.1:9', meta: { id: 'intruder.1', status: 'ACTIVE', phase: 'serving' } }), `register as a replica with ${how}`);
      refused(await call(s, 'register', { kind: 'frontend', name: 'intruder-fe', url: 'http://127.0.0.1:9', meta: {} }), `register as a front end with ${how}`);
      refused(await call(s, 'update', { meta: { status: 'OFFLINE' } }), `update with ${how}`);
      const list = await call(s, 'list', {});
      assert.is(list.ok, true, `list works with ${how}`);
      const names = (list.members as { name: string }[]).map((m) => m.name);
      assert.not.ok(names.includes('intruder') || names.includes('intruder-fe'), 'nothing was registered');
      assert.is((await call(s, 'lookup', { name: 'rm1' })).ok, true, `lookup works with ${how}`);
      assert.is((await call(s, 'watch', {})).ok, true, `watch works with ${how}`);
    } finally {
      s.close();
    }
  }
});

test('replica: gossip, pulls, snapshots, introspection, status changes and trace need the secret, and change nothing', async () => {
  const rm = cluster.replicas[0]!;
  const before = await cluster.introspect(rm.name);
  const evil = 'rm9.intruder';
  const record = {
    node: evil,
    ts: { [evil]: 1 },
    prev: {},
    uid: 'intruder:1',
    op: { kind: 'rate', userId: 1, movieId: 1, rating: 0.5, timestamp: 1_999_999_999 },
    issuedAt: Date.now(),
  };
  for (const [how, s] of await outsiders(rm.url)) {
    try {
      refused(await call(s, 'peer', { from: evil, msg: { type: 'gossip', replicaTS: { [evil]: 1 }, records: [record], wantReply: true } }), `gossip with ${how}`);
      refused(await call(s, 'peer', { from: evil, msg: { type: 'replicate', record } }), `replicate with ${how}`);
      refused(await call(s, 'peer', { from: evil, msg: { type: 'pull', replicaTS: {} } }), `a pull with ${how}`);
      refused(await call(s, 'peer', { from: evil, msg: { type: 'snapshotRequest' } }), `a snapshot request with ${how}`);
      refused(await call(s, 'introspect', {}), `introspect with ${how}`);
      refused(await call(s, 'setStatus', { status: 'OFFLINE' }), `setStatus with ${how}`);
      refused(await call(s, 'subscribe', {}), `subscribe with ${how}`);
      const q = await call(s, 'query', { requestId: `q-${how}`, prev: {}, query: { kind: 'avg', movieId: 1 } });
      assert.is(q.ok, true, `a query needs no secret (${how})`);
    } finally {
      s.close();
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  const after = await cluster.introspect(rm.name);
  assert.is(after.status, before.status, 'the status did not change');
  assert.is(after.digest, before.digest, 'the data did not change');
  assert.not.ok(Object.keys(after.replicaTS).includes(evil), 'no injected record was received');
  // The same gossip with the secret does reach the replica: the refusals above are not vacuous.
  const member = await connect(rm.url, cluster.secret);
  try {
    const ok = await call(member, 'peer', { from: evil, msg: { type: 'gossip', replicaTS: { [evil]: 1 }, records: [record], wantReply: false } });
    assert.is(ok.ok, true, 'a member may gossip');
  } finally {
    member.close();
  }
  const injected = await cluster.introspect(rm.name);
  assert.ok(Object.keys(injected.replicaTS).includes(evil), 'with the secret the record is received');
});

test('front end: queries, updates, the cluster view and watching need no secret', async () => {
  const s = await connect(cluster.frontends[0]!.url);
  try {
    assert.is((await call(s, 'query', { requestId: 'fq', prev: {}, query: { kind: 'avg', movieId: 1 } }, 10_000)).ok, true);
    assert.is((await call(s, 'update', { requestId: 'fu', prev: {}, op: { kind: 'rate', userId: 3, movieId: 1, rating: 4, timestamp: 1_700_000_001 } }, 10_000)).ok, true);
    assert.is((await call(s, 'cluster', {})).ok, true);
    assert.is((await call(s, 'watch', { trace: false })).ok, true);
  } finally {
    s.close();
  }
});

test('front end: a client without the secret cannot change a replica status', async () => {
  const rm = cluster.replicas[0]!;
  for (const [how, s] of await outsiders(cluster.frontends[0]!.url)) {
    try {
      const r = await call(s, 'setStatus', { rm: rm.name, status: 'OVERLOADED' });
      refused(r, `setStatus through a front end with ${how}`);
    } finally {
      s.close();
    }
  }
  assert.is((await cluster.introspect(rm.name)).status, 'ACTIVE');
  const member = await connect(cluster.frontends[0]!.url, cluster.secret);
  try {
    assert.is((await call(member, 'setStatus', { rm: rm.name, status: 'ACTIVE' })).ok, true, 'with the secret it works');
  } finally {
    member.close();
  }
});

test.run();
