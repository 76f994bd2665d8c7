/**
 * Fuzzing the naming service's socket endpoints (register, update,
 * heartbeat, lookup, list, watch) over a real process: malformed,
 * type-confused, non-object, wrong-arity, out-of-order and oversized
 * payloads. Each call with an acknowledgement gets a well-formed reply, an
 * error for every payload its schema refuses; the process stays alive and
 * answers a good request afterwards; its memory stays flat.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, Cluster } from '../helpers/cluster.js';
import {
  heartbeatRequestSchema,
  listRequestSchema,
  lookupRequestSchema,
  registerRequestSchema,
  updateRequestSchema,
  watchRequestSchema,
} from '../../src/naming/server.js';
import { alive, connect, emitRaw, fuzzArity, fuzzEvent, hostile, isErrorReply, measureMemory, onTheWire, rssOf, type EndpointSpec, type FuzzStats } from '../../chaos/fuzz.js';

buildOnce();

const SEED = Number(process.env.HEARSAY_FUZZ_SEED ?? 4242);
const RUNS = Number(process.env.HEARSAY_FUZZ_RUNS ?? 150);

const ENDPOINTS: EndpointSpec[] = [
  { event: 'register', template: { kind: 'replica', name: 'fz', url: 'http://127.0.0.1:1', meta: { id: 'fz.1' } }, schema: registerRequestSchema, member: true, invalidOnly: true },
  { event: 'update', template: { meta: { status: 'ACTIVE' } }, schema: updateRequestSchema, member: true },
  { event: 'heartbeat', template: {}, schema: heartbeatRequestSchema },
  { event: 'lookup', template: { name: 'fz' }, schema: lookupRequestSchema },
  { event: 'list', template: { kind: 'replica' }, schema: listRequestSchema },
  { event: 'watch', template: { kind: 'frontend' }, schema: watchRequestSchema },
];

let cluster: Cluster;
const stats: FuzzStats = { sent: 0, errorReplies: 0, okReplies: 0 };

async function goodRequest(): Promise<void> {
  const s = await connect(cluster.namingUrl);
  try {
    const out = await emitRaw(s, 'list', [{}], true);
    assert.is(out.kind, 'reply');
    const r = (out as { reply: { ok: boolean; members: unknown[] } }).reply;
    assert.is(r.ok, true, 'list answered ok');
    assert.ok(Array.isArray(r.members));
  } finally {
    s.close();
  }
  assert.ok(alive(cluster.naming.pid), 'the naming process is alive');
}

const test = suite('naming fuzz');

test.before(async () => {
  cluster = await Cluster.start({ frontends: 0, replicas: 0 });
});

test.after(async () => {
  await cluster?.close();
});

for (const spec of ENDPOINTS) {
  test(`${spec.event}: every hostile payload gets a well-formed reply, an error when invalid`, async () => {
    const member = await connect(cluster.namingUrl, cluster.secret);
    const client = await connect(cluster.namingUrl);
    try {
      await fuzzEvent(member, spec, { runs: RUNS, seed: SEED, hasSecret: true }, stats);
      await fuzzEvent(client, spec, { runs: Math.ceil(RUNS / 3), seed: SEED + 1, hasSecret: false }, stats);
      await fuzzArity(client, spec.event, spec.template, stats);
    } finally {
      member.close();
      client.close();
    }
    await goodRequest();
  });
}

test('out of order: update and heartbeat before register, a name taken twice, a second register on one connection', async () => {
  const a = await connect(cluster.namingUrl, cluster.secret);
  const b = await connect(cluster.namingUrl, cluster.secret);
  try {
    const up = await emitRaw(a, 'update', [{ meta: {} }], true);
    assert.ok(up.kind === 'reply' && isErrorReply(up.reply), 'update before register is an error');
    const hb = await emitRaw(a, 'heartbeat', [{}], true);
    assert.ok(hb.kind === 'reply' && isErrorReply(hb.reply), 'heartbeat before register is an error');
    const reg = { kind: 'frontend', name: 'fz-order', url: 'http://127.0.0.1:9', meta: {} };
    const first = await emitRaw(a, 'register', [reg], true);
    assert.ok(first.kind === 'reply' && (first.reply as { ok: boolean }).ok, 'register works');
    const taken = await emitRaw(b, 'register', [reg], true);
    assert.ok(taken.kind === 'reply' && isErrorReply(taken.reply) && taken.reply.code === 'NAME_TAKEN', 'a name held by another connection is refused');
    const again = await emitRaw(a, 'register', [{ ...reg, name: 'fz-other' }], true);
    assert.ok(again.kind === 'reply', 'a second register on the same connection is answered');
    const unknown = await emitRaw(a, 'frobnicate', [{ x: 1 }], true);
    assert.ok(unknown.kind === 'reply' && isErrorReply(unknown.reply), 'an unknown event gets an error reply');
  } finally {
    a.close();
    b.close();
  }
  await goodRequest();
});

test('a message over maxMessageBytes closes that connection only; the service keeps serving', async () => {
  const s = await connect(cluster.namingUrl, cluster.secret);
  const huge = 'x'.repeat(cluster.config.maxMessageBytes + 1024);
  const out = await emitRaw(s, 'register', [{ kind: 'replica', name: 'big', url: 'http://127.0.0.1:1', meta: { blob: huge } }], true, 15_000);
  assert.is(out.kind, 'disconnected');
  s.close();
  await goodRequest();
});

test('memory stays flat over a long fuzz run', async () => {
  // Invalid payloads only: a valid registration without heartbeats would expire and close the connection.
  const payloads = ENDPOINTS.map((e) => fc.sample(hostile(e.template).filter((p) => !e.schema.safeParse(onTheWire(p) ?? {}).success), { numRuns: 100, seed: SEED + 2 }));
  const s = await connect(cluster.namingUrl, cluster.secret);
  const r = await measureMemory({
    pid: cluster.naming.pid,
    send: async (i) => {
      const e = i % ENDPOINTS.length;
      const out = await emitRaw(s, ENDPOINTS[e]!.event, [payloads[e]![(i / ENDPOINTS.length) % 100 | 0]], true);
      if (out.kind !== 'reply') throw new Error(`call ${i}: ${out.kind}`);
    },
  });
  s.close();
  console.log(`naming: ${stats.sent} fuzz calls (${stats.errorReplies} error replies); memory ${r.describe}`);
  assert.ok(r.ok, r.describe);
  await goodRequest();
  assert.ok(rssOf(cluster.naming.pid) > 0);
});

test.run();
