/**
 * A front end in a real cluster, in process: the naming service, two
 * replicas on the default data file, and startFrontend. Also measures the
 * front end's added latency (client→FE→RM against client→RM direct).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { testConfig, type Config } from '../../src/core/config.js';
import type { RequestId, UpdateId } from '../../src/core/ids.js';
import type { ClientReply, ClusterView, ReplicaEmit, ReplicaListen, TraceEvent } from '../../src/core/protocol.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';
import { startFrontend, type FrontendHandle } from '../../src/frontend/server.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';
import { startReplica, type ReplicaHandle } from '../../src/replica/server.js';
import { connectClient, memoryLog, until, type FeClient } from './fakes.js';
import { connected } from '../../src/core/sockets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.join(root, 'data/data.sqlite');
const SECRET = 'cluster-secret';
const config: Config = { ...testConfig, randomStatus: false };

const test = suite('front end in a cluster');

let naming: NamingHandle;
let rms: ReplicaHandle[] = [];
let fe: FrontendHandle;
let client: FeClient;
const log = memoryLog();

test.before(async () => {
  try {
    await startCluster();
  } catch (e) {
    // uvu skips the suite silently when a hook throws: say why.
    process.stderr.write(`front end in a cluster: setting up failed: ${(e as Error).stack ?? String(e)}\n${log.lines.slice(-20).join('\n')}\n`);
    throw e;
  }
});

async function startCluster(): Promise<void> {
  naming = await startNaming({ config, log, secret: SECRET });
  rms = await Promise.all(['rm1', 'rm2'].map((name) => startReplica({ name, naming: naming.url, dataFile: DATA, config, secret: SECRET, log, randomStatus: false })));
  fe = await startFrontend({ name: 'fe1', naming: naming.url, config, secret: SECRET, log });
  client = await connectClient(fe.url);
  // Both replicas serving, as seen through the front end.
  // Generous: the suite may share a busy machine. A slow answer is retried, not fatal.
  const deadline = Date.now() + 30_000;
  for (;;) {
    let r: { ok: boolean; view: ClusterView } | undefined;
    try {
      r = (await client.timeout(3000).emitWithAck('cluster', {})) as { ok: boolean; view: ClusterView };
    } catch {
      r = undefined;
    }
    if (r?.ok && r.view.replicas.length === 2 && r.view.replicas.every((x) => x.phase === 'serving')) break;
    if (Date.now() > deadline) throw new Error(`replicas not serving: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

test.after(async () => {
  client?.close();
  await fe?.close();
  await Promise.all(rms.map((r) => r.close()));
  await naming?.close();
});

let seq = 0;
const rid = () => `it${++seq}` as RequestId;
let prev: VTS = V.zero();

async function query(q: object): Promise<ClientReply> {
  const r = (await client.timeout(5000).emitWithAck('query', { requestId: rid(), prev, query: q as never })) as ClientReply;
  if (r.ok) prev = V.merge(prev, r.ts);
  return r;
}
async function update(op: object, uid?: string): Promise<ClientReply> {
  const r = (await client.timeout(5000).emitWithAck('update', { requestId: rid(), prev, op: op as never, ...(uid ? { uid: uid as UpdateId } : {}) })) as ClientReply;
  if (r.ok) prev = V.merge(prev, r.ts);
  return r;
}

test('a rating written through the front end is logged at both replicas and read back (read your writes)', async () => {
  const w = await update({ kind: 'rate', userId: 7, movieId: 1, rating: 4.5, timestamp: 1_700_000_000 });
  assert.ok(w.ok && w.kind === 'update', JSON.stringify(w));
  if (!w.ok || w.kind !== 'update') return;
  assert.equal([...w.servedBy].sort(), rms.map((r) => r.id).sort());
  assert.is(w.warning, undefined);
  const r = await query({ kind: 'get', userId: 7, movieId: 1 });
  assert.ok(r.ok && r.kind === 'query', JSON.stringify(r));
  if (r.ok && r.kind === 'query') {
    assert.is((r.result as { rating: number }).rating, 4.5);
    assert.ok(V.leq(w.ts, r.ts));
  }
});

test('a retried update (same uid) is applied once', async () => {
  const op = { kind: 'rate', userId: 8, movieId: 1, rating: 2, timestamp: 1_700_000_001 };
  const a = await update(op, 'retry-uid-1');
  const b = await update(op, 'retry-uid-1');
  assert.ok(a.ok && b.ok, JSON.stringify([a, b]));
  const before = await query({ kind: 'avg', movieId: 1 });
  const c = await update({ ...op, rating: 2 }, 'retry-uid-1');
  assert.ok(c.ok);
  const after = await query({ kind: 'avg', movieId: 1 });
  assert.ok(before.ok && after.ok);
  if (before.ok && after.ok && before.kind === 'query' && after.kind === 'query') {
    assert.is((after.result as { count: number }).count, (before.result as { count: number }).count);
  }
});

test('errors from the replicas reach the client with the precise reason', async () => {
  const r = await update({ kind: 'rate', userId: 7, movieId: 2_000_000, rating: 3, timestamp: 1 });
  assert.not.ok(r.ok);
  if (!r.ok) assert.is(r.code, 'UNKNOWN_MOVIE');
});

test('the cluster view shows both replicas and this front end, with the front end prev', async () => {
  const r = (await client.timeout(3000).emitWithAck('cluster', {})) as { ok: true; view: ClusterView };
  assert.equal(
    r.view.replicas.map((x) => x.name),
    ['rm1', 'rm2'],
  );
  assert.equal(
    r.view.replicas.map((x) => x.id),
    rms.map((x) => x.id),
  );
  const me = r.view.frontends.find((f) => f.name === 'fe1');
  assert.ok(me);
  assert.ok(V.leq(prev, me.prev) || V.leq(me.prev, prev));
  assert.is(r.view.via, 'fe1');
});

test('watch with trace relays the replicas events (the secret is accepted) and shows the request path', async () => {
  const c = await connectClient(fe.url);
  try {
    const events: TraceEvent[] = [];
    c.on('trace', (e) => events.push(e));
    const w = (await c.timeout(3000).emitWithAck('watch', { trace: true })) as { ok: boolean };
    assert.ok(w.ok);
    await update({ kind: 'rate', userId: 9, movieId: 1, rating: 3, timestamp: 1_700_000_002 });
    await until(() => events.some((e) => e.kind === 'gossipSent' || e.kind === 'gossipReceived' || e.kind === 'applied'), 'a replica trace event', 5000);
    await until(() => events.some((e) => e.kind === 'reply'), 'the reply event', 5000);
    assert.ok(events.some((e) => e.kind === 'chose'));
    assert.not.ok(log.lines.some((l) => /subscription .* refused/.test(l)), 'subscription refused');
  } finally {
    c.close();
  }
});

test('setStatus through the front end changes the replica status, shown in the next cluster views', async () => {
  const c = await connectClient(fe.url, SECRET); // an operator: status changes need the cluster secret
  try {
    const views: ClusterView[] = [];
    c.on('cluster', (v) => views.push(v));
    await c.timeout(3000).emitWithAck('watch', { trace: false });
    const r = (await c.timeout(3000).emitWithAck('setStatus', { rm: 'rm2', status: 'OVERLOADED' })) as { ok: boolean; status?: string };
    assert.equal(r, { ok: true, status: 'OVERLOADED' });
    await until(() => views.some((v) => v.replicas.find((x) => x.name === 'rm2')?.status === 'OVERLOADED'), 'rm2 OVERLOADED in a view', 3000);
    const back = (await c.timeout(3000).emitWithAck('setStatus', { rm: 'rm2', status: 'ACTIVE' })) as { ok: boolean };
    assert.ok(back.ok);
    await until(() => views.at(-1)?.replicas.find((x) => x.name === 'rm2')?.status === 'ACTIVE', 'rm2 ACTIVE again', 3000);
  } finally {
    c.close();
  }
});

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * q)]!;
}
const median = (xs: number[]) => quantile(xs, 0.5);

test('the front end adds little latency to a query (client→FE→RM against client→RM)', async () => {
  const direct = connect(rms[0]!.url, { transports: ['websocket'], reconnection: false }) as ClientSocket<ReplicaEmit, ReplicaListen>;
  await connected(direct, rms[0]!.url);
  try {
    const q = { kind: 'avg', movieId: 1 } as never;
    const N = 300;
    const viaFe: number[] = [];
    const toRm: number[] = [];
    // Warm up both paths, then interleave so both see the same conditions.
    for (let i = 0; i < 20; i++) {
      await direct.timeout(3000).emitWithAck('query', { requestId: rid(), prev: V.zero(), query: q });
      await client.timeout(3000).emitWithAck('query', { requestId: rid(), prev: V.zero(), query: q });
    }
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      const d = await direct.timeout(3000).emitWithAck('query', { requestId: rid(), prev: V.zero(), query: q });
      toRm.push(performance.now() - t);
      t = performance.now();
      const f = (await client.timeout(3000).emitWithAck('query', { requestId: rid(), prev: V.zero(), query: q })) as ClientReply;
      viaFe.push(performance.now() - t);
      assert.ok(d.ok && f.ok);
    }
    const added = median(viaFe) - median(toRm);
    process.stderr.write(
      `front end latency over ${N} queries: via FE median ${median(viaFe).toFixed(3)} ms, direct median ${median(toRm).toFixed(3)} ms, added ${added.toFixed(3)} ms\n`,
    );
    // Medians swing with machine load; the 10th percentiles show what the front end itself costs.
    const addedFast = quantile(viaFe, 0.1) - quantile(toRm, 0.1);
    assert.ok(addedFast < 5, `the front end adds ${addedFast.toFixed(2)} ms at the 10th percentile (${added.toFixed(2)} ms at the median)`);
  } finally {
    direct.close();
  }
});

test('with one replica gone, updates are still acknowledged (single copy, with a warning) and queries answered', async () => {
  const gone = rms[1]!;
  await gone.close();
  rms = rms.slice(0, 1);
  const deadline = Date.now() + 5000;
  let w: ClientReply;
  for (;;) {
    w = await update({ kind: 'rate', userId: 10, movieId: 1, rating: 5, timestamp: 1_700_000_003 });
    if (!w.ok || w.kind !== 'update' || w.servedBy.length === 1 || Date.now() > deadline) break;
  }
  assert.ok(w.ok && w.kind === 'update', JSON.stringify(w));
  if (w.ok && w.kind === 'update') {
    assert.equal(w.servedBy, [rms[0]!.id]);
    assert.match(w.warning ?? '', /only .* logged this update/);
  }
  const r = await query({ kind: 'get', userId: 10, movieId: 1 });
  assert.ok(r.ok, JSON.stringify(r));
});

test.run();
