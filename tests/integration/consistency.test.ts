/**
 * Acceptance: the guarantees a client sees, on a real cluster of processes.
 * - read-your-writes holds across front ends (the session carries its timestamp);
 * - a replica started later catches up and answers correctly, and after
 *   quiescence every replica holds the same value.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId, userId } from '../../src/core/ids.js';
import type { QueryResult } from '../../src/core/ops.js';
import type { ClientReply, ClusterView } from '../../src/core/protocol.js';
import type { Session } from '../../src/client/session.js';
import { runLine } from '../../src/client/commands.js';
import { buildOnce, Cluster } from '../helpers/cluster.js';

buildOnce();

function result<K extends QueryResult['kind']>(r: ClientReply, kind: K): Extract<QueryResult, { kind: K }> {
  assert.ok(r.ok, `request failed: ${JSON.stringify(r)}`);
  if (!r.ok || r.kind !== 'query') throw new Error('not a query reply');
  const q = r.result as QueryResult;
  assert.is(q.kind, kind);
  return q as Extract<QueryResult, { kind: K }>;
}

/** Waits until the session's front end reports the cluster in a state `pred` accepts (asking it again on every check). */
async function waitForView(s: Session, pred: (v: ClusterView) => boolean, timeoutMs = 5000): Promise<ClusterView> {
  const deadline = Date.now() + timeoutMs;
  let v = await s.cluster();
  while (!pred(v)) {
    if (Date.now() > deadline) throw new Error(`cluster view not as expected within ${timeoutMs} ms: ${JSON.stringify(v.replicas.map((r) => [r.name, r.status, r.phase]))}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 200);
      s.on('cluster', () => {
        clearTimeout(t);
        resolve();
      });
    });
    v = await s.cluster();
  }
  return v;
}

// ---------------------------------------------------------------------------

const ryw = suite('read-your-writes across front ends');
let c1: Cluster | undefined;
ryw.before(async () => {
  c1 = await Cluster.start({ frontends: 2, replicas: 3 });
});
ryw.after(async () => {
  await c1?.close();
});

ryw('a rating written through fe1 is read through fe2 at once, by a session sharing the timestamp', async () => {
  const c = c1!;
  const ids = await c.movieIds(10);
  const writer = await c.session(301, { preferFrontend: 'fe1' });
  const reader = await c.session(301, { preferFrontend: 'fe2' });
  assert.is(writer.frontend(), 'fe1');
  assert.is(reader.frontend(), 'fe2');
  for (let i = 0; i < 30; i++) {
    const m = movieId(ids[i % 10]!);
    const stars = 0.5 + ((i * 7) % 10) * 0.5;
    const w = await writer.update({ kind: i % 5 === 4 ? 'delete' : 'rate', userId: userId(301), movieId: m, rating: stars, timestamp: 1_700_000_000 + i } as never);
    assert.ok(w.ok, JSON.stringify(w));
    reader.prev = writer.prev;
    const g = result(await reader.query({ kind: 'get', userId: userId(301), movieId: m }), 'get');
    assert.is(g.rating, i % 5 === 4 ? null : stars, `write ${i} to movie ${m} not visible through fe2`);
    // And the other way round: the reader's view is at least as new as the writer's.
    writer.prev = reader.prev;
  }
  assert.is(reader.frontend(), 'fe2', 'the reader stayed on fe2');
});

ryw('one session switching front ends between a write and a read sees its write', async () => {
  const c = c1!;
  const ids = await c.movieIds(40);
  const s = await c.session(302, { preferFrontend: 'fe1' });
  for (let i = 0; i < 20; i++) {
    const m = ids[20 + i]!;
    const fe = i % 2 === 0 ? 'fe1' : 'fe2';
    const other = fe === 'fe1' ? 'fe2' : 'fe1';
    await s.useFrontend(fe);
    const r = await runLine(s, `rate ${m} ${1 + (i % 4)}`);
    assert.is(r.kind, 'rated', JSON.stringify(r));
    await s.useFrontend(other);
    assert.is(s.frontend(), other);
    const g = await runLine(s, `get ${m}`);
    assert.ok(g.kind === 'get' && g.rating === 1 + (i % 4), `read via ${other} after write via ${fe}: ${JSON.stringify(g)}`);
  }
});

// ---------------------------------------------------------------------------

const late = suite('a replica started later');
let c2: Cluster | undefined;
late.before(async () => {
  c2 = await Cluster.start({ frontends: 1, replicas: 3 });
});
late.after(async () => {
  await c2?.close();
});

late('catches up, answers correctly on its own, and all replicas converge to the same valueTS and digest', async () => {
  const c = c2!;
  const ids = await c.movieIds(125);
  // An operator's session: it takes replicas offline, which needs the cluster secret.
  const s = await c.session(303, { secret: c.secret });
  const expected = new Map<number, number | null>();
  for (let i = 0; i < 40; i++) {
    const m = ids[100 + (i % 25)]!;
    const stars = 0.5 + (i % 10) * 0.5;
    const del = i % 7 === 6;
    const r = await runLine(s, del ? `delete ${m}` : `rate ${m} ${stars}`);
    assert.ok(r.kind === 'rated' || r.kind === 'deleted', JSON.stringify(r));
    expected.set(m, del ? null : stars);
  }
  await c.addReplica('rm4');
  await c.waitForMembers({ replicas: 4, names: ['rm4'] });
  // Make rm4 the only replica a front end may choose, then read everything back through it.
  for (const rm of ['rm1', 'rm2', 'rm3']) assert.equal(await runLine(s, `set ${rm} offline`), { kind: 'statusSet', rm, status: 'OFFLINE' });
  await waitForView(s, (v) => v.replicas.filter((r) => r.status === 'OFFLINE').length === 3 && v.replicas.some((r) => r.name === 'rm4' && r.status === 'ACTIVE'));
  const reader = await c.session(303);
  reader.prev = s.prev;
  for (const [m, stars] of expected) {
    const r = await reader.query({ kind: 'get', userId: userId(303), movieId: movieId(m) });
    assert.is(result(r, 'get').rating, stars, `movie ${m} through rm4`);
    assert.ok(r.ok && r.servedBy.every((id) => id.startsWith('rm4.')), `served by ${r.ok ? r.servedBy.join(',') : '-'}`);
  }
  for (const rm of ['rm1', 'rm2', 'rm3']) assert.is((await runLine(s, `set ${rm} active`)).kind, 'statusSet');
  const states = await c.waitForConvergence(10_000);
  assert.is(states.length, 4);
  const d = states[0]!.digest;
  for (const st of states) {
    assert.is(st.digest, d, `${st.name} digest`);
    assert.equal(st.valueTS, states[0]!.valueTS, `${st.name} valueTS`);
  }
});

ryw.run();
late.run();
