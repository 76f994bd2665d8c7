/**
 * The front end driver with forced and immediate updates, over real sockets,
 * against fake replicas acting out an election (fakes.ts, actElection): the
 * primary named in naming metas gets the update alone, a stale meta is
 * corrected by a NOT_PRIMARY redirect, no primary ends in NO_PRIMARY, the
 * cluster view names the primary, and the trace shows the path.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig, type Config } from '../../src/core/config.js';
import type { RequestId, UpdateId } from '../../src/core/ids.js';
import type { Update } from '../../src/core/ops.js';
import type { ClientReply, ClusterView, TraceEvent } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { startFrontendWith, type FrontendHandle } from '../../src/frontend/driver.js';
import { actElection, connectClient, FakeNaming, quietLog, startFakeReplica, until, type FakeReplica, type FeClient } from './fakes.js';

const test = suite('front end driver: forced and immediate updates');

const SECRET = 's3cret';
const config: Config = { ...testConfig, rmRequestTimeoutMs: 250, feRequestTimeoutMs: 3000, forcedRetryMs: 30, forcedDeadlineMs: 700 };

interface Rig {
  naming: FakeNaming;
  fe: FrontendHandle;
  rms: FakeReplica[];
  client: FeClient;
}

const rigs: Rig[] = [];

async function rig(names: string[]): Promise<Rig> {
  const naming = new FakeNaming();
  const rms = await Promise.all(names.map((n) => startFakeReplica(n, { secret: SECRET })));
  for (const r of rms) naming.set(r.member());
  const fe = await startFrontendWith({ name: 'fe1', naming: 'http://unused', config, log: quietLog, secret: SECRET }, naming.directory());
  const client = await connectClient(fe.url);
  const r = { naming, fe, rms, client };
  rigs.push(r);
  return r;
}

test.after.each(async () => {
  for (const r of rigs.splice(0)) {
    r.client.close();
    await r.fe.close();
    await Promise.all(r.rms.map((x) => x.close()));
  }
});

let seq = 0;
const addMovie: Update = { kind: 'addMovie', title: 'Heat 2 (2026)', genres: ['Action', 'Crime'] };
const update = (c: FeClient, op: Update, extra: { uid?: UpdateId; requestId?: RequestId } = {}): Promise<ClientReply> =>
  c.timeout(5000).emitWithAck('update', { requestId: extra.requestId ?? (`f${++seq}` as RequestId), prev: { 'x.1': 2 } as VTS, op, ...(extra.uid ? { uid: extra.uid } : {}) });
const cluster = (c: FeClient): Promise<{ ok: boolean; view: ClusterView }> => c.timeout(5000).emitWithAck('cluster', {}) as never;

test('an addMovie goes to the primary named in the naming metas, and to no other replica', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC']);
  const [, b] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  const e = actElection(r.naming, r.rms, b, { term: 3 });
  const reply = await update(r.client, addMovie);
  assert.ok(reply.ok && reply.kind === 'update', JSON.stringify(reply));
  if (reply.ok && reply.kind === 'update') {
    assert.equal(reply.servedBy, [b.id]);
    assert.is(reply.ordering, 'forced');
    assert.equal(reply.result, { kind: 'addMovie', movieId: 9743, title: 'Heat 2 (2026)', existed: false });
    assert.is(reply.ts['forced' as never], 1);
    assert.is(reply.ts['x.1' as never], 2, "the client's prev is merged in");
  }
  assert.is(e.sequenced.length, 1);
  for (const x of r.rms) if (x !== b) assert.is(x.updates.length, 0, `${x.name} got nothing`);
  assert.equal(b.updates[0]!.copies, []);
});

test('a stale primary in naming is corrected by the NOT_PRIMARY redirect, with the same uid', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC']);
  const [a, , c] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  // Naming still shows rmA as primary; rmC won since.
  actElection(r.naming, r.rms, c, { publishAs: a });
  const reply = await update(r.client, { kind: 'forgetUser', userId: 42 as never }, { uid: 'client-uid-9' as UpdateId });
  assert.ok(reply.ok && reply.kind === 'update', JSON.stringify(reply));
  if (reply.ok && reply.kind === 'update') {
    assert.equal(reply.servedBy, [c.id]);
    assert.is(reply.ordering, 'immediate');
    assert.equal(reply.result, { kind: 'forgetUser', userId: 42, removed: 2 });
  }
  assert.is(a.updates.length, 1);
  assert.is(c.updates.length, 1);
  assert.is(a.updates[0]!.uid, 'client-uid-9');
  assert.is(c.updates[0]!.uid, 'client-uid-9');
  assert.equal(c.updates[0]!.prev, a.updates[0]!.prev);
});

test('with no primary elected the client gets NO_PRIMARY after forcedDeadlineMs, having been retried meanwhile', async () => {
  const r = await rig(['rmA', 'rmB']);
  actElection(r.naming, r.rms, null, { term: 5 });
  const t0 = Date.now();
  const reply = await update(r.client, addMovie);
  const took = Date.now() - t0;
  assert.ok(!reply.ok, JSON.stringify(reply));
  if (!reply.ok) {
    assert.is(reply.code, 'NO_PRIMARY');
    assert.match(reply.message, /no primary could sequence this forced update in 700 ms/);
    assert.match(reply.message, /NO_PRIMARY/);
  }
  assert.ok(took >= 650 && took < 2500, `answered after ${took} ms`);
  const attempts = r.rms.reduce((n, x) => n + x.updates.length, 0);
  assert.ok(attempts >= 3, `${attempts} attempts`);
  assert.is(new Set(r.rms.flatMap((x) => x.updates.map((u) => u.uid))).size, 1, 'every attempt carries the same uid');
});

test('a bad title is answered at once with BAD_TITLE by the front end itself, reaching no replica', async () => {
  const r = await rig(['rmA', 'rmB']);
  actElection(r.naming, r.rms, r.rms[0]!);
  const reply = await update(r.client, { kind: 'addMovie', title: 'Heat 2', genres: [] });
  assert.ok(!reply.ok && reply.code === 'BAD_TITLE', JSON.stringify(reply));
  assert.is(r.rms[0]!.updates.length, 0);
});

test('the cluster view names the primary and shows each replica’s part in the election', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [a, b] = r.rms as [FakeReplica, FakeReplica];
  actElection(r.naming, r.rms, b, { term: 4 });
  const v = (await cluster(r.client)).view;
  assert.equal(v.primary, { id: b.id, name: 'rmB', term: 4 });
  assert.equal(v.replicas.find((x) => x.name === 'rmA')!.primary, { role: 'follower', term: 4, leader: b.id, commit: 0 });
  actElection(r.naming, r.rms, null, { term: 5 });
  assert.is((await cluster(r.client)).view.primary, null);
  void a;
});

test('the trace shows a forced request going to the primary (reason and term) and relays elected and committed', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [, b] = r.rms as [FakeReplica, FakeReplica];
  actElection(r.naming, r.rms, b, { term: 2 });
  const events: TraceEvent[] = [];
  r.client.on('trace', (ev) => events.push(ev));
  await r.client.timeout(5000).emitWithAck('watch', { trace: true });
  await until(() => r.rms.every((x) => x.subscribers === 1), 'subscriptions');
  const requestId = 'traced-forced' as RequestId;
  const reply = await update(r.client, addMovie, { requestId });
  assert.ok(reply.ok);
  b.trace({ kind: 'committed', rm: b.id, seq: 1, uid: b.updates[0]!.uid, at: 3 });
  b.trace({ kind: 'elected', rm: b.id, term: 2, at: 1 });
  await until(() => events.some((x) => x.kind === 'elected') && events.some((x) => x.kind === 'committed'), 'relayed election events');
  const chose = events.find((x) => x.kind === 'chose' && x.requestId === requestId) as (TraceEvent & { reason?: string; term?: number }) | undefined;
  assert.ok(chose, 'a chose event');
  assert.is(chose!.reason, 'primary');
  assert.is(chose!.term, 2);
  const req = events.find((x) => x.kind === 'request' && x.requestId === requestId);
  assert.ok(req && req.kind === 'request' && /add-movie "Heat 2 \(2026\)"/.test(req.op));
});

test.run();
