/**
 * The front end driver over real sockets, against scripted replicas and an
 * in-memory naming directory: routing, replacement of silent replicas,
 * errors, OFFLINE/recovering replicas, malformed payloads, watching.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig, type Config } from '../../src/core/config.js';
import type { ReplicaId, RequestId, UpdateId } from '../../src/core/ids.js';
import type { ClientReply, ClusterView, TraceEvent } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { startFrontendWith, type FrontendHandle } from '../../src/frontend/driver.js';
import { connectClient, FakeNaming, memoryLog, startFakeReplica, until, type FakeDirectory, type FakeReplica, type FeClient } from './fakes.js';

const test = suite('front end driver');

const RM_TIMEOUT = 250;
const config: Config = { ...testConfig, rmRequestTimeoutMs: RM_TIMEOUT, feRequestTimeoutMs: 3000 };
const SECRET = 's3cret';

interface Rig {
  naming: FakeNaming;
  dir: FakeDirectory;
  fe: FrontendHandle;
  rms: FakeReplica[];
  clients: FeClient[];
  log: ReturnType<typeof memoryLog>;
  /** A client socket; with the cluster secret it may also change replica statuses. */
  client(secret?: string): Promise<FeClient>;
}

const rigs: Rig[] = [];

async function rig(names: string[], cfg: Config = config, metas: Record<string, Record<string, unknown>> = {}): Promise<Rig> {
  const naming = new FakeNaming();
  const rms = await Promise.all(names.map((n) => startFakeReplica(n, { secret: SECRET })));
  for (const r of rms) naming.set(r.member(metas[r.name] ?? {}));
  const dir = naming.directory();
  const log = memoryLog();
  const fe = await startFrontendWith({ name: 'fe1', naming: 'http://unused', config: cfg, log, secret: SECRET }, dir);
  const r: Rig = {
    naming,
    dir,
    fe,
    rms,
    clients: [],
    log,
    client: async (secret?: string) => {
      const c = await connectClient(fe.url, secret);
      r.clients.push(c);
      return c;
    },
  };
  rigs.push(r);
  return r;
}

test.after.each(async () => {
  for (const r of rigs.splice(0)) {
    for (const c of r.clients) c.close();
    await r.fe.close();
    await Promise.all(r.rms.map((x) => x.close()));
  }
});

let seq = 0;
const rid = () => `r${++seq}` as RequestId;
const q = (c: FeClient, prev: Record<string, number> = {}, requestId = rid()): Promise<ClientReply> =>
  c.timeout(5000).emitWithAck('query', { requestId, prev: prev as VTS, query: { kind: 'avg', movieId: 1 as never } });
const u = (c: FeClient, extra: { uid?: UpdateId } = {}, prev: Record<string, number> = {}): Promise<ClientReply> =>
  c.timeout(5000).emitWithAck('update', {
    requestId: rid(),
    prev: prev as VTS,
    op: { kind: 'rate', userId: 1 as never, movieId: 1 as never, rating: 4, timestamp: 1_700_000_000 },
    ...extra,
  });
/** Emits anything at all, as a broken client would. */
const raw = (c: FeClient, event: string, ...args: unknown[]): Promise<any> => (c.timeout(5000) as any).emitWithAck(event, ...args);

test('a query goes to two replicas and the first answer wins', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [a, b] = r.rms as [FakeReplica, FakeReplica];
  a.onQuery = () => ({ reply: { ok: true, valueTS: { [a.id]: 1 }, result: 'from A' } });
  b.onQuery = () => ({ reply: { ok: true, valueTS: { [b.id]: 1 }, result: 'from B' }, delayMs: 150 });
  const c = await r.client();
  const reply = await q(c, { x: 2 });
  assert.ok(reply.ok);
  assert.is(reply.kind, 'query');
  if (!reply.ok || reply.kind !== 'query') return;
  assert.is(reply.result, 'from A');
  assert.equal(reply.servedBy, [a.id]);
  assert.equal(reply.ts, { [a.id]: 1, x: 2 });
  assert.is(a.queries.length, 1);
  assert.is(b.queries.length, 1);
  assert.equal(a.queries[0]!.prev, { x: 2 });
  assert.equal(b.queries[0]!.prev, { x: 2 });
});

test('an update is acknowledged only after two replicas have logged it, with the same uid and prev at both', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [a, b] = r.rms as [FakeReplica, FakeReplica];
  b.onUpdate = (req) => ({ reply: { ok: true, ts: { ...req.prev, [b.id]: 1 }, uid: req.uid }, delayMs: 200 });
  const c = await r.client();
  const t0 = Date.now();
  const reply = await u(c, {}, { x: 1 });
  const took = Date.now() - t0;
  assert.ok(reply.ok && reply.kind === 'update', JSON.stringify(reply));
  if (!reply.ok || reply.kind !== 'update') return;
  assert.ok(took >= 190, `acknowledged after ${took} ms, before the slower replica logged it`);
  assert.equal([...reply.servedBy].sort(), [a.id, b.id].sort());
  assert.equal(Object.keys(reply.copies).sort(), [a.id, b.id].sort());
  assert.is(a.updates[0]!.uid, b.updates[0]!.uid);
  assert.is(reply.uid, a.updates[0]!.uid);
  assert.equal(a.updates[0]!.prev, b.updates[0]!.prev);
  assert.equal(reply.ts, { x: 1, [a.id]: 1, [b.id]: 1 });
});

test('a replica that does not answer is replaced by another with the same uid, and the client still gets an answer', async () => {
  // rmB is OVERLOADED, so the first choice is rmA and rmX (silent); rmB is the replacement.
  const r = await rig(['rmA', 'rmX', 'rmB'], config, { rmB: { status: 'OVERLOADED' } });
  const [a, x, b] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  x.onUpdate = () => 'silent';
  const c = await r.client();
  const reply = await u(c, { uid: 'client-chosen-uid-1' as UpdateId }, { y: 3 });
  assert.ok(reply.ok && reply.kind === 'update', JSON.stringify(reply));
  if (!reply.ok || reply.kind !== 'update') return;
  assert.equal([...reply.servedBy].sort(), [a.id, b.id].sort());
  assert.is(x.updates.length, 1);
  assert.is(b.updates.length, 1);
  assert.is(b.updates[0]!.uid, 'client-chosen-uid-1');
  assert.is(b.updates[0]!.uid, x.updates[0]!.uid);
  assert.equal(b.updates[0]!.prev, x.updates[0]!.prev);
  assert.is(b.updates[0]!.issuedAt, x.updates[0]!.issuedAt);
  assert.ok(b.updates[0]!.copies.includes(a.id), 'the replacement is told where the other copy is');
});

test('a query whose replicas are both silent is retried at another replica', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC'], config, { rmC: { status: 'OVERLOADED' } });
  const [a, b, cc] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  a.onQuery = () => 'silent';
  b.onQuery = () => 'silent';
  const c = await r.client();
  const reply = await q(c);
  assert.ok(reply.ok, JSON.stringify(reply));
  if (reply.ok) assert.equal(reply.servedBy, [cc.id]);
});

test('with no replica registered, the client gets an error saying so', async () => {
  const r = await rig([]);
  const c = await r.client();
  const reply = await q(c);
  assert.not.ok(reply.ok);
  if (reply.ok) return;
  assert.is(reply.code, 'UNAVAILABLE');
  assert.match(reply.message, /no replica is registered or all are OFFLINE/);
  assert.equal(reply.tried, []);
});

test('when every replica fails, the error names each replica tried and why', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [a, b] = r.rms as [FakeReplica, FakeReplica];
  a.onQuery = () => ({ reply: { ok: false, code: 'OFFLINE', message: 'rmA is OFFLINE' } });
  b.onQuery = () => 'silent';
  const c = await r.client();
  const reply = await q(c);
  assert.not.ok(reply.ok);
  if (reply.ok) return;
  assert.is(reply.code, 'UNAVAILABLE');
  assert.equal([...reply.tried].sort(), [a.id, b.id].sort());
  assert.match(reply.message, `${a.id}: rmA is OFFLINE`);
  assert.match(reply.message, `${b.id}: no answer within ${RM_TIMEOUT} ms`);
});

test('an error that every replica would repeat (bad movie) is returned at once, not retried', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC']);
  for (const x of r.rms) x.onUpdate = () => ({ reply: { ok: false, code: 'UNKNOWN_MOVIE', message: 'there is no movie with id 1' } });
  const c = await r.client();
  const reply = await u(c);
  assert.not.ok(reply.ok);
  if (reply.ok) return;
  assert.is(reply.code, 'UNKNOWN_MOVIE');
  assert.is(r.rms.reduce((n, x) => n + x.updates.length, 0), 2);
});

test('OFFLINE and recovering replicas are never chosen', async () => {
  const r = await rig(['rmA', 'rmOff', 'rmRec', 'rmB'], config, { rmOff: { status: 'OFFLINE' }, rmRec: { phase: 'recovering' } });
  const [a, off, rec, b] = r.rms as [FakeReplica, FakeReplica, FakeReplica, FakeReplica];
  a.onQuery = () => ({ reply: { ok: false, code: 'NOT_YET_AVAILABLE', message: 'not yet' } });
  const c = await r.client();
  for (let i = 0; i < 20; i++) {
    await q(c);
    await u(c);
  }
  assert.is(off.queries.length + off.updates.length, 0);
  assert.is(rec.queries.length + rec.updates.length, 0);
  assert.is(a.queries.length, 20);
  assert.is(b.queries.length, 20);
  // A replica that comes back is used again.
  r.naming.set(off.member({ status: 'ACTIVE' }));
  for (let i = 0; i < 10; i++) await u(c);
  assert.ok(off.updates.length > 0, 'an ACTIVE replica again is chosen again');
});

test('a replica whose status changes to OFFLINE is no longer chosen', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC']);
  const [a, b, cc] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  r.naming.set(cc.member({ status: 'OFFLINE' }));
  const c = await r.client();
  for (let i = 0; i < 10; i++) await q(c);
  assert.is(cc.queries.length, 0);
  assert.is(a.queries.length + b.queries.length, 20);
});

test('a replica the front end cannot reach is not chosen while it is unreachable', async () => {
  const r = await rig(['rmA', 'rmB', 'rmC']);
  const [a, b, cc] = r.rms as [FakeReplica, FakeReplica, FakeReplica];
  const c = await r.client();
  await cc.close(); // still registered (its lease has not run out), but gone
  await until(() => r.log.lines.some((l) => l.includes('lost the connection to replica rmC')), 'the front end to notice');
  // Every query is answered at once by rmA or rmB, never after a timeout at rmC.
  const deadline = Date.now() + 2000;
  let slow = 0;
  for (let i = 0; i < 20 && Date.now() < deadline; i++) {
    const t0 = Date.now();
    const reply = await q(c);
    assert.ok(reply.ok);
    if (Date.now() - t0 >= RM_TIMEOUT) slow++;
  }
  // At most the first query can race the disconnect.
  assert.ok(slow <= 1, `${slow} slow queries`);
  assert.ok(a.queries.length + b.queries.length >= 39);
});

test('malformed client payloads get error replies and the front end keeps serving', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client(SECRET); // with the secret, so setStatus payloads reach validation
  const cases: [string, unknown][] = [
    ['query', { prev: {}, query: { kind: 'avg', movieId: 1 } }],
    ['query', { requestId: 'x', prev: { a: -1 }, query: { kind: 'avg', movieId: 1 } }],
    ['query', { requestId: 'x', prev: {}, query: { kind: 'drop tables' } }],
    ['query', 'not an object'],
    ['query', null],
    ['update', { requestId: 'x', prev: {}, op: { kind: 'rate', userId: 0, movieId: 1, rating: 3, timestamp: 1 } }],
    ['update', { requestId: 'x', prev: {}, op: { kind: 'rate', userId: 1, movieId: 1, rating: 3 } }],
    ['update', { requestId: 'x', prev: 'yesterday', op: { kind: 'delete', userId: 1, movieId: 1, timestamp: 1 } }],
    ['setStatus', { rm: 'rmA', status: 'ASLEEP' }],
    ['watch', { trace: 'yes' }],
  ];
  for (const [event, payload] of cases) {
    const reply = await raw(c, event, payload);
    assert.is(reply.ok, false, `${event} ${JSON.stringify(payload)} → ${JSON.stringify(reply)}`);
    assert.is(reply.code, 'BAD_REQUEST', `${event} ${JSON.stringify(payload)} → ${JSON.stringify(reply)}`);
    assert.type(reply.message, 'string');
    if (event === 'query' || event === 'update') assert.equal(reply.tried, []);
  }
  // A rating off the half steps is refused with the precise reason before any replica is asked.
  const bad = await raw(c, 'update', { requestId: 'y', prev: {}, op: { kind: 'rate', userId: 1, movieId: 1, rating: 4.3, timestamp: 1 } });
  assert.is(bad.code, 'BAD_RATING');
  assert.match(bad.message, /half steps/);
  assert.is(r.rms[0]!.updates.length + r.rms[1]!.updates.length, 0);
  // No ack and extra arguments: nothing breaks.
  (c as any).emit('query', { requestId: 'z' });
  (c as any).emit('cluster');
  const ok = await q(c);
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.ok(r.log.lines.some((l) => l.includes('invalid payload')));
});

test('the same request id from two clients at once is two separate requests', async () => {
  const r = await rig(['rmA', 'rmB']);
  let n = 0;
  for (const x of r.rms) x.onQuery = () => ({ reply: { ok: true, valueTS: {}, result: ++n }, delayMs: 50 });
  const c1 = await r.client();
  const c2 = await r.client();
  const same = 'same-id' as RequestId;
  const [r1, r2] = await Promise.all([q(c1, {}, same), q(c2, {}, same)]);
  assert.ok(r1.ok && r2.ok);
  if (r1.ok && r2.ok && r1.kind === 'query' && r2.kind === 'query') assert.is.not(r1.result, r2.result);
  // The same id twice at once from one client is refused, not confused.
  const [d1, d2] = await Promise.all([q(c1, {}, 'dup' as RequestId), q(c1, {}, 'dup' as RequestId)]);
  assert.ok(d1.ok);
  assert.not.ok(d2.ok);
  if (!d2.ok) assert.match(d2.message, /already in use/);
});

test('a client always gets a reply: TIMEOUT just before its feRequestTimeoutMs runs out when the replicas never answer', async () => {
  const r = await rig(['rmA', 'rmB'], { ...config, rmRequestTimeoutMs: 10_000, feRequestTimeoutMs: 1500 });
  for (const x of r.rms) x.onQuery = () => 'silent';
  const c = await r.client();
  const t0 = Date.now();
  const reply = await q(c);
  const took = Date.now() - t0;
  assert.not.ok(reply.ok);
  if (reply.ok) return;
  assert.is(reply.code, 'TIMEOUT');
  assert.equal([...reply.tried].sort(), r.rms.map((x) => x.id).sort());
  assert.ok(took >= 1240 && took < 1500, `replied after ${took} ms`);
});

test('each answer moves the front end prev forward, and it is published as its naming meta', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const reply = await u(c);
  assert.ok(reply.ok);
  if (!reply.ok) return;
  await until(() => r.dir.metas.length > 0, 'a meta update');
  const last = r.dir.metas[r.dir.metas.length - 1] as { prev: VTS };
  assert.equal(last.prev, reply.ts);
  // A second request carries the front end's prev even when the client's is empty.
  await q(c);
  assert.equal(r.rms[0]!.queries[0]!.prev, reply.ts);
});

test('meta updates are throttled to at most 5 a second', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 40 }, () => u(c)));
  await until(() => Date.now() - t0 > 600, 'time to pass', 2000);
  const took = Date.now() - t0;
  assert.ok(r.dir.metas.length <= Math.ceil(took / 200) + 1, `${r.dir.metas.length} meta updates in ${took} ms`);
});

test('setStatus reaches the named replica with the secret and returns its reply; an unknown name lists the known ones', async () => {
  const r = await rig(['rmA', 'rmB']);
  const anyone = await r.client();
  const refused = await raw(anyone, 'setStatus', { rm: 'rmB', status: 'OVERLOADED' });
  assert.is(refused.ok, false, 'a client without the secret cannot change a status');
  assert.is(refused.code, 'UNAUTHORIZED');
  assert.equal(r.rms[1]!.statusCalls, []);
  const c = await r.client(SECRET);
  const ok = await raw(c, 'setStatus', { rm: 'rmB', status: 'OVERLOADED' });
  assert.equal(ok, { ok: true, status: 'OVERLOADED' });
  assert.equal(r.rms[1]!.statusCalls, ['OVERLOADED']);
  assert.equal((r.rms[1]!.lastAuth as { secret?: string }).secret, SECRET);
  const byId = await raw(c, 'setStatus', { rm: r.rms[0]!.id, status: 'OFFLINE' });
  assert.is(byId.ok, true);
  const unknown = await raw(c, 'setStatus', { rm: 'rm9', status: 'ACTIVE' });
  assert.is(unknown.ok, false);
  assert.match(unknown.message, /no replica named "rm9"/);
  assert.match(unknown.message, /rmA, rmB/);
});

test('cluster returns the view; watch pushes a new view on every change', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const cl = await raw(c, 'cluster', {});
  assert.is(cl.ok, true);
  assert.equal(
    (cl.view as ClusterView).replicas.map((x) => x.name),
    ['rmA', 'rmB'],
  );
  assert.equal(
    (cl.view as ClusterView).frontends.map((x) => x.name),
    ['fe1'],
  );
  const views: ClusterView[] = [];
  c.on('cluster', (v) => views.push(v));
  const w = await raw(c, 'watch', { trace: false });
  assert.is(w.ok, true);
  r.naming.set(r.rms[0]!.member({ valueTS: { [r.rms[0]!.id]: 3 } as VTS }));
  await until(() => views.some((v) => v.replicas.find((x) => x.name === 'rmB')?.lag === 3), 'a view showing rmB 3 updates behind');
  r.naming.set(r.rms[1]!.member({ phase: 'recovering' }));
  await until(() => views.at(-1)?.replicas.find((x) => x.name === 'rmB')?.phase === 'recovering', 'a view showing rmB recovering');
});

test('cluster views are throttled to at most 10 a second and the last state is always sent', async () => {
  const r = await rig(['rmA']);
  const c = await r.client();
  const views: ClusterView[] = [];
  c.on('cluster', (v) => views.push(v));
  await raw(c, 'watch', {});
  const a = r.rms[0]!;
  const t0 = Date.now();
  for (let i = 1; i <= 50; i++) r.naming.set(a.member({ logLength: i }));
  await until(() => views.at(-1)?.replicas[0]?.logLength === 50, 'the final state');
  const took = Date.now() - t0;
  assert.ok(views.length <= Math.ceil(took / 100) + 1, `${views.length} views in ${took} ms`);
});

test('watch with trace delivers this front end path events and relays the replicas trace events', async () => {
  const r = await rig(['rmA', 'rmB']);
  const [a] = r.rms as [FakeReplica, FakeReplica];
  const c = await r.client();
  const other = await r.client();
  const events: TraceEvent[] = [];
  const otherEvents: TraceEvent[] = [];
  c.on('trace', (e) => events.push(e));
  other.on('trace', (e) => otherEvents.push(e));
  await raw(other, 'watch', { trace: false });
  const w = await raw(c, 'watch', { trace: true });
  assert.is(w.ok, true);
  await until(() => r.rms.every((x) => x.subscribers === 1), 'subscriptions at both replicas');
  const requestId = 'traced-1' as RequestId;
  const reply = await q(c, { z: 1 }, requestId);
  assert.ok(reply.ok);
  await until(() => events.some((e) => e.kind === 'reply'), 'the reply event');
  const mine = events.filter((e) => 'requestId' in e && e.requestId === requestId);
  assert.equal(
    mine.map((e) => e.kind).slice(0, 3),
    ['request', 'chose', 'rmReply'],
  );
  const req = mine[0]!;
  if (req.kind === 'request') {
    assert.equal(req.prev, { z: 1 });
    assert.match(req.op, /avg movie 1/);
  }
  const chose = mine[1]!;
  if (chose.kind === 'chose') {
    assert.is(chose.chosen.length, 2);
    assert.ok(chose.chosen.every((x) => x.status === 'ACTIVE' && typeof x.inflight === 'number'));
    assert.is(chose.retry, false);
  }
  const rep = mine.find((e) => e.kind === 'reply');
  assert.ok(rep && rep.kind === 'reply' && rep.ok && rep.ts !== undefined);
  // A replica's own event is relayed to trace watchers only.
  a.trace({ kind: 'applied', rm: a.id, uid: 'u1' as UpdateId, at: 5 });
  await until(() => events.some((e) => e.kind === 'applied'), 'the relayed replica event');
  assert.equal(
    events.find((e) => e.kind === 'applied'),
    { kind: 'applied', rm: a.id, uid: 'u1', at: 5 },
  );
  assert.is(otherEvents.length, 0);
});

test('a replica that leaves (its process gone) is no longer used; one that joins is', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const extra = await startFakeReplica('rmC');
  r.rms.push(extra);
  await r.rms[0]!.close();
  r.naming.remove('rmA');
  r.naming.set(extra.member());
  const [a, b] = r.rms as [FakeReplica, FakeReplica];
  // rmC is chosen once the front end is connected to it; until then the query goes to rmB alone.
  const deadline = Date.now() + 2000;
  while (extra.queries.length === 0 && Date.now() < deadline) await q(c);
  assert.ok(extra.queries.length > 0, 'the new replica is used');
  for (let i = 0; i < 5; i++) await q(c);
  assert.is(a.queries.length, 0);
  assert.ok(extra.queries.length >= 5);
});

test('a replica naming stops listing while its connection stays up is kept for a grace period, then dropped', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const [a] = r.rms as [FakeReplica, FakeReplica];
  const removedAt = Date.now();
  r.naming.remove('rmA'); // as when a stalled naming service expires every lease at once
  const before = a.queries.length;
  for (let i = 0; i < 10; i++) await q(c);
  assert.ok(a.queries.length > before, 'still chosen right after naming dropped it');
  const grace = 3 * config.leaseMs;
  while (Date.now() - removedAt < grace + 300) await new Promise((res) => setTimeout(res, 50));
  const after = a.queries.length;
  for (let i = 0; i < 10; i++) await q(c);
  assert.is(a.queries.length, after, 'not chosen once the grace period is over');
});

test('a replica that restarts under the same name with a new incarnation id is used under its new id', async () => {
  const r = await rig(['rmA', 'rmB']);
  const c = await r.client();
  const [a] = r.rms as [FakeReplica, FakeReplica];
  r.naming.set(a.member({ id: 'rmA.e999' as ReplicaId }));
  const reply = await u(c);
  assert.ok(reply.ok);
  if (reply.ok) assert.ok(reply.servedBy.includes('rmA.e999' as ReplicaId), JSON.stringify(reply.servedBy));
});

test('closing the front end answers requests in flight and leaves naming', async () => {
  const r = await rig(['rmA', 'rmB']);
  for (const x of r.rms) x.onQuery = () => 'silent';
  const c = await r.client();
  const pending = q(c);
  await until(() => r.rms.every((x) => x.queries.length === 1), 'the query at both replicas');
  await r.fe.close();
  const reply = await pending;
  assert.not.ok(reply.ok);
  if (!reply.ok) assert.is(reply.code, 'UNAVAILABLE');
  assert.ok(r.dir.closed);
  assert.not.ok(r.naming.members.has('fe1'));
});

test.run();
