/**
 * Fuzzing a replica manager's socket endpoints (query, update, peer,
 * introspect, setStatus, subscribe) over a real cluster (naming, one front
 * end, two replicas), with the cluster secret (so payloads reach the
 * schemas) and without it (so they are refused first): every call with an
 * acknowledgement is answered, with an error for every payload the schema
 * refuses; wrong arity, out-of-order peer traffic and oversized messages do
 * not hurt; the replica keeps serving and its memory stays flat.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, Cluster } from '../helpers/cluster.js';
import { emptyRequestSchema, peerRequestSchema, rmQueryRequestSchema, rmUpdateRequestSchema, setStatusRequestSchema } from '../../src/replica/server.js';
import { alive, connect, emitRaw, fuzzArity, fuzzEvent, hostile, measureMemory, onTheWire, type EndpointSpec, type FuzzStats } from '../../chaos/fuzz.js';

buildOnce();

const SEED = Number(process.env.HEARSAY_FUZZ_SEED ?? 4242);
const RUNS = Number(process.env.HEARSAY_FUZZ_RUNS ?? 150);

const ENDPOINTS: EndpointSpec[] = [
  { event: 'query', template: { requestId: 'q1', prev: {}, query: { kind: 'mine', userId: 1 } }, schema: rmQueryRequestSchema, invalidOnly: true },
  {
    event: 'update',
    template: { requestId: 'u1', uid: 'fz:1', prev: {}, op: { kind: 'delete', userId: 1, movieId: 1, timestamp: 1 }, issuedAt: Date.now(), copies: [] },
    schema: rmUpdateRequestSchema,
    invalidOnly: true,
  },
  // Valid gossip from a member is trusted traffic; only malformed peer messages are sent here.
  {
    event: 'peer',
    template: { from: 'rm9.fz', msg: { type: 'gossip', replicaTS: {}, records: [], wantReply: false } },
    schema: peerRequestSchema,
    member: true,
    invalidOnly: true,
  },
  { event: 'introspect', template: {}, schema: emptyRequestSchema, member: true },
  { event: 'setStatus', template: { status: 'OFFLINE' }, schema: setStatusRequestSchema, member: true, invalidOnly: true },
  { event: 'subscribe', template: {}, schema: emptyRequestSchema, member: true },
];

let cluster: Cluster;
const stats: FuzzStats = { sent: 0, errorReplies: 0, okReplies: 0 };
const rm = () => cluster.replicas[0]!;

async function goodRequest(): Promise<void> {
  const s = await connect(rm().url);
  try {
    const out = await emitRaw(s, 'query', [{ requestId: `good-${Date.now()}`, prev: {}, query: { kind: 'avg', movieId: 1 } }], true, 8000);
    assert.is(out.kind, 'reply');
    const r = (out as { reply: { ok: boolean; result?: { kind: string } } }).reply;
    assert.is(r.ok, true, `a good query is answered: ${JSON.stringify(r).slice(0, 200)}`);
  } finally {
    s.close();
  }
  assert.ok(alive(rm().pid), 'the replica is alive');
}

const test = suite('replica fuzz');

test.before(async () => {
  cluster = await Cluster.start({ frontends: 1, replicas: 2 });
});

test.after(async () => {
  await cluster?.close();
});

for (const spec of ENDPOINTS) {
  test(`${spec.event}: every hostile payload gets a well-formed reply, an error when invalid`, async () => {
    const member = await connect(rm().url, cluster.secret);
    const client = await connect(rm().url);
    try {
      await fuzzEvent(member, spec, { runs: RUNS, seed: SEED, hasSecret: true, timeoutMs: 8000 }, stats);
      if (spec.member) await fuzzEvent(client, spec, { runs: Math.ceil(RUNS / 3), seed: SEED + 1, hasSecret: false }, stats);
    } finally {
      member.close();
      client.close();
    }
    await goodRequest();
  });
}

test('wrong arity on every event, with malformed templates so nothing changes', async () => {
  const s = await connect(rm().url, cluster.secret);
  try {
    await fuzzArity(s, 'query', { requestId: 'a', prev: {}, query: { kind: 'avg', movieId: 1 } }, stats);
    await fuzzArity(s, 'update', { requestId: 'a', uid: 'x', prev: 'no', op: {} }, stats);
    await fuzzArity(s, 'peer', { from: '', msg: { type: 'nonsense' } }, stats);
    await fuzzArity(s, 'introspect', {}, stats);
    await fuzzArity(s, 'setStatus', { status: 'ASLEEP' }, stats);
    await fuzzArity(s, 'subscribe', {}, stats);
  } finally {
    s.close();
  }
  await goodRequest();
});

test('out of order: peer traffic from a stranger, a snapshot nobody asked for, an update naming counters never issued', async () => {
  const s = await connect(rm().url, cluster.secret);
  const st0 = await cluster.introspect(rm().name);
  try {
    const stranger = 'rm99.fz';
    const outs = [
      await emitRaw(s, 'peer', [{ from: stranger, msg: { type: 'pull', replicaTS: { [stranger]: 1_000_000 } } }], true),
      await emitRaw(s, 'peer', [{ from: stranger, msg: { type: 'snapshotRequest' } }], true),
      await emitRaw(s, 'peer', [{ from: stranger, msg: { type: 'gossip', replicaTS: {}, records: [], wantReply: true } }], true),
      await emitRaw(s, 'update', [{ requestId: 'o1', uid: 'fz:o1', prev: { [st0.id]: 1_000_000 }, op: { kind: 'delete', userId: 1, movieId: 1, timestamp: 1 }, issuedAt: Date.now(), copies: [] }], true),
    ];
    for (const o of outs) assert.is(o.kind, 'reply');
    const claim = (outs[3] as { reply: { ok: boolean; code?: string } }).reply;
    assert.is(claim.ok, false, 'an update whose prev claims counters this replica never issued is refused');
    const unknown = await emitRaw(s, 'frobnicate', [{}], true, 2000);
    assert.ok(unknown.kind !== 'disconnected', 'an unknown event does not break the connection');
  } finally {
    s.close();
  }
  const st1 = await cluster.introspect(rm().name);
  assert.is(st1.digest, st0.digest, 'the data did not change');
  await goodRequest();
});

test('a message over maxMessageBytes closes that connection only; the replica keeps serving', async () => {
  const s = await connect(rm().url, cluster.secret);
  const huge = 'x'.repeat(cluster.config.maxMessageBytes + 1024);
  const out = await emitRaw(s, 'peer', [{ from: 'rm9.fz', msg: { type: 'gossip', replicaTS: {}, records: [], wantReply: false, pad: huge } }], true, 15_000);
  assert.is(out.kind, 'disconnected');
  s.close();
  await goodRequest();
});

test('memory stays flat over a long fuzz run', async () => {
  const payloads = ENDPOINTS.map((e) => fc.sample(hostile(e.template).filter((p) => !e.schema.safeParse(onTheWire(p) ?? {}).success), { numRuns: 100, seed: SEED + 2 }));
  const s = await connect(rm().url, cluster.secret);
  const r = await measureMemory({
    pid: rm().pid,
    send: async (i) => {
      const e = i % ENDPOINTS.length;
      const out = await emitRaw(s, ENDPOINTS[e]!.event, [payloads[e]![(i / ENDPOINTS.length) % 100 | 0]], true);
      if (out.kind !== 'reply') throw new Error(`call ${i}: ${out.kind}`);
    },
  });
  s.close();
  console.log(`replica: ${stats.sent} fuzz calls (${stats.errorReplies} error replies); memory ${r.describe}`);
  assert.ok(r.ok, r.describe);
  await goodRequest();
});

test.run();
