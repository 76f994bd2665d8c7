/**
 * Fuzzing a front end's socket endpoints (query, update, cluster, watch,
 * setStatus) over a real cluster (naming, one front end, two replicas):
 * every call with an acknowledgement is answered, with an error for every
 * payload the schema refuses; wrong arity, out-of-order and oversized
 * messages do not hurt; the process keeps serving and its memory stays flat.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, Cluster } from '../helpers/cluster.js';
import { clientQuerySchema, clientUpdateSchema, emptySchema, setStatusSchema, watchSchema } from '../../src/frontend/schemas.js';
import { alive, connect, emitRaw, fuzzArity, fuzzEvent, hostile, isErrorReply, measureMemory, onTheWire, type EndpointSpec, type FuzzStats } from '../../chaos/fuzz.js';

buildOnce();

const SEED = Number(process.env.HEARSAY_FUZZ_SEED ?? 4242);
const RUNS = Number(process.env.HEARSAY_FUZZ_RUNS ?? 150);

const ENDPOINTS: EndpointSpec[] = [
  { event: 'query', template: { requestId: 'q1', prev: {}, query: { kind: 'get', userId: 1, movieId: 1 } }, schema: clientQuerySchema, invalidOnly: true },
  { event: 'update', template: { requestId: 'u1', prev: {}, op: { kind: 'rate', userId: 1, movieId: 1, rating: 4, timestamp: 1 } }, schema: clientUpdateSchema, invalidOnly: true },
  { event: 'cluster', template: {}, schema: emptySchema },
  { event: 'watch', template: { trace: true }, schema: watchSchema },
  // Needs the secret. A valid status change would take replicas offline under the test's feet.
  { event: 'setStatus', template: { rm: 'rm1', status: 'OFFLINE' }, schema: setStatusSchema, member: true, invalidOnly: true },
];

let cluster: Cluster;
const stats: FuzzStats = { sent: 0, errorReplies: 0, okReplies: 0 };

const feUrl = () => cluster.frontends[0]!.url;

async function goodRequest(): Promise<void> {
  const s = await connect(feUrl());
  try {
    const out = await emitRaw(s, 'query', [{ requestId: `good-${Date.now()}`, prev: {}, query: { kind: 'avg', movieId: 1 } }], true, 8000);
    assert.is(out.kind, 'reply');
    const r = (out as { reply: { ok: boolean; result?: { kind: string } } }).reply;
    assert.is(r.ok, true, `a good query is answered: ${JSON.stringify(r).slice(0, 200)}`);
    assert.is(r.result?.kind, 'avg');
  } finally {
    s.close();
  }
  assert.ok(alive(cluster.frontends[0]!.pid), 'the front end is alive');
}

const test = suite('front-end fuzz');

test.before(async () => {
  cluster = await Cluster.start({ frontends: 1, replicas: 2 });
});

test.after(async () => {
  await cluster?.close();
});

for (const spec of ENDPOINTS) {
  test(`${spec.event}: every hostile payload gets a well-formed reply, an error when invalid`, async () => {
    const s = await connect(feUrl());
    const member = spec.member ? await connect(feUrl(), cluster.secret) : undefined;
    try {
      await fuzzEvent(member ?? s, spec, { runs: RUNS, seed: SEED, hasSecret: member !== undefined, timeoutMs: 8000 }, stats);
      if (spec.member) await fuzzEvent(s, spec, { runs: Math.ceil(RUNS / 3), seed: SEED + 1, hasSecret: false }, stats);
      if (spec.event !== 'setStatus' && spec.event !== 'update') await fuzzArity(s, spec.event, spec.template, stats);
    } finally {
      s.close();
      member?.close();
    }
    await goodRequest();
  });
}

test('wrong arity on update and setStatus: no payload, several, no acknowledgement', async () => {
  const s = await connect(feUrl(), cluster.secret);
  try {
    // Bad templates, so nothing is written and no replica goes offline.
    await fuzzArity(s, 'update', { requestId: 'u2', prev: {}, op: { kind: 'rate', userId: 0, movieId: 1, rating: 9, timestamp: 1 } }, stats);
    await fuzzArity(s, 'setStatus', { rm: 'rm1', status: 'ASLEEP' }, stats);
  } finally {
    s.close();
  }
  await goodRequest();
});

test('out of order: a prev from the future, a request id reused while in flight, a retried uid', async () => {
  const s = await connect(feUrl());
  try {
    const future = await emitRaw(s, 'query', [{ requestId: 'f1', prev: { 'rm9.zz': 5 }, query: { kind: 'avg', movieId: 1 } }], true, 10_000);
    assert.is(future.kind, 'reply');
    assert.ok(isErrorReply((future as { reply: unknown }).reply), 'a prev no replica can satisfy ends in an error reply');
    const a = emitRaw(s, 'query', [{ requestId: 'same', prev: { 'rm9.zz': 1 }, query: { kind: 'avg', movieId: 1 } }], true, 10_000);
    const b = await emitRaw(s, 'query', [{ requestId: 'same', prev: {}, query: { kind: 'avg', movieId: 1 } }], true, 10_000);
    assert.ok(b.kind === 'reply' && isErrorReply(b.reply), 'a request id already in flight is refused');
    assert.is((await a).kind, 'reply');
    const op = { kind: 'rate', userId: 7, movieId: 1, rating: 3, timestamp: 1_700_000_000 };
    const u1 = await emitRaw(s, 'update', [{ requestId: 'r1', prev: {}, op, uid: 'fuzz:retry:1' }], true, 10_000);
    const u2 = await emitRaw(s, 'update', [{ requestId: 'r2', prev: {}, op, uid: 'fuzz:retry:1' }], true, 10_000);
    assert.ok(u1.kind === 'reply' && u2.kind === 'reply');
    const unknown = await emitRaw(s, 'frobnicate', [{}], true, 2000);
    assert.ok(unknown.kind !== 'disconnected', 'an unknown event does not break the connection');
  } finally {
    s.close();
  }
  await goodRequest();
});

test('a message over maxMessageBytes closes that connection only; the front end keeps serving', async () => {
  const s = await connect(feUrl());
  const huge = 'x'.repeat(cluster.config.maxMessageBytes + 1024);
  const out = await emitRaw(s, 'query', [{ requestId: 'big', prev: {}, query: { kind: 'search', words: huge } }], true, 15_000);
  assert.is(out.kind, 'disconnected');
  s.close();
  await goodRequest();
});

test('memory stays flat over a long fuzz run', async () => {
  const payloads = ENDPOINTS.map((e) => fc.sample(hostile(e.template).filter((p) => !e.schema.safeParse(onTheWire(p) ?? {}).success), { numRuns: 100, seed: SEED + 2 }));
  const s = await connect(feUrl(), cluster.secret);
  const r = await measureMemory({
    pid: cluster.frontends[0]!.pid,
    send: async (i) => {
      const e = i % ENDPOINTS.length;
      const out = await emitRaw(s, ENDPOINTS[e]!.event, [payloads[e]![(i / ENDPOINTS.length) % 100 | 0]], true);
      if (out.kind !== 'reply') throw new Error(`call ${i}: ${out.kind}`);
    },
  });
  s.close();
  console.log(`front end: ${stats.sent} fuzz calls (${stats.errorReplies} error replies); memory ${r.describe}`);
  assert.ok(r.ok, r.describe);
  await goodRequest();
});

test.run();
