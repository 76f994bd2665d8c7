/**
 * Acceptance: what clients see when things go wrong, on a real cluster.
 * - a replica killed (SIGKILL) under load: every request still succeeds, no
 *   acknowledged update is lost, and the dead replica leaves naming within 2 s;
 * - a replica set OFFLINE is not chosen by the front ends, and requests still succeed;
 * - malformed payloads to every front-end endpoint get error replies, and
 *   every process stays up.
 */
import { io, type Socket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId, userId } from '../../src/core/ids.js';
import type { QueryResult } from '../../src/core/ops.js';
import type { ClientReply, TraceEvent } from '../../src/core/protocol.js';
import { runLine } from '../../src/client/commands.js';
import type { Session } from '../../src/client/session.js';
import { buildOnce, Cluster } from '../helpers/cluster.js';
import { connected } from '../../src/core/sockets.js';

buildOnce();

// ---------------------------------------------------------------------------

const crash = suite('a replica killed under load');
let c1: Cluster | undefined;
crash.before(async () => {
  c1 = await Cluster.start({ frontends: 2, replicas: 4 });
});
crash.after(async () => {
  await c1?.close();
});

crash('every request is answered, no acknowledged update is lost, and the dead replica leaves naming within 2 s', async () => {
  const c = c1!;
  const movies = await c.movieIds(8);
  const users = [401, 402, 403, 404];
  const sessions: Session[] = [];
  for (const [i, u] of users.entries()) sessions.push(await c.session(u, { preferFrontend: i % 2 === 0 ? 'fe1' : 'fe2' }));
  /** Last acknowledged rating per user and movie (null = deleted). */
  const last = new Map<string, number | null>();
  const failures: string[] = [];
  let requests = 0;
  const runFor = 5000;
  const t0 = Date.now();

  const client = async (s: Session, u: number, k: number) => {
    let i = 0;
    while (Date.now() - t0 < runFor) {
      const m = movies[(i * 3 + k) % movies.length]!;
      i++;
      requests++;
      if (i % 3 === 0) {
        const r = await s.query({ kind: 'get', userId: userId(u), movieId: movieId(m) });
        if (!r.ok) failures.push(`get ${u}/${m}: ${r.code} ${r.message}`);
        else if (r.kind === 'query') {
          // Read-your-writes holds throughout.
          const got = (r.result as Extract<QueryResult, { kind: 'get' }>).rating;
          const want = last.get(`${u}/${m}`);
          if (want !== undefined && got !== want) failures.push(`get ${u}/${m} gave ${got}, last acknowledged write was ${want}`);
        }
      } else {
        const del = i % 11 === 0;
        const stars = 0.5 + ((i + k) % 10) * 0.5;
        const r: ClientReply = await s.update(
          del ? { kind: 'delete', userId: userId(u), movieId: movieId(m), timestamp: Math.floor(Date.now() / 1000) } : { kind: 'rate', userId: userId(u), movieId: movieId(m), rating: stars, timestamp: Math.floor(Date.now() / 1000) },
        );
        if (!r.ok) failures.push(`update ${u}/${m}: ${r.code} ${r.message}`);
        else last.set(`${u}/${m}`, del ? null : stars);
      }
    }
  };

  const load = Promise.all(sessions.map((s, k) => client(s, users[k]!, k)));
  // Kill rm2 once the load is running, and time how long naming keeps listing it.
  await new Promise((r) => setTimeout(r, 1500));
  const killedAt = Date.now();
  await c.kill('rm2', 'SIGKILL');
  await c.waitForList((ms) => !ms.some((m) => m.name === 'rm2'), 2000);
  const goneAfter = Date.now() - killedAt;
  await load;

  assert.equal(failures, [], `${failures.length} of ${requests} requests failed`);
  assert.ok(requests > 50, `only ${requests} requests in ${runFor} ms`);
  assert.ok(goneAfter <= 2000, `rm2 left naming after ${goneAfter} ms`);

  // Every client's last write per movie, read back through its own session...
  for (const [k, s] of sessions.entries()) {
    for (const m of movies) {
      const want = last.get(`${users[k]}/${m}`);
      if (want === undefined) continue;
      const r = await s.query({ kind: 'get', userId: userId(users[k]!), movieId: movieId(m) });
      assert.ok(r.ok, JSON.stringify(r));
      assert.is((r as Extract<ClientReply, { kind: 'query' }>).result && ((r as Extract<ClientReply, { kind: 'query' }>).result as { rating: number | null }).rating, want, `user ${users[k]} movie ${m}`);
    }
  }
  // ...and, once the survivors agree, by a fresh session that knows nothing.
  const states = await c.waitForConvergence(10_000);
  assert.is(states.length, 3);
  const fresh = await c.session(users[0]!);
  for (const [key, want] of last) {
    const [u, m] = key.split('/').map(Number);
    const r = await fresh.query({ kind: 'get', userId: userId(u!), movieId: movieId(m!) });
    assert.ok(r.ok && r.kind === 'query');
    assert.is((r as Extract<ClientReply, { kind: 'query' }>).result && ((r as Extract<ClientReply, { kind: 'query' }>).result as { rating: number | null }).rating, want, `fresh read of ${key}`);
  }
});

// ---------------------------------------------------------------------------

const offline = suite('OFFLINE replicas');
let c2: Cluster | undefined;
offline.before(async () => {
  c2 = await Cluster.start({ frontends: 2, replicas: 3 });
});
offline.after(async () => {
  await c2?.close();
});

offline('a replica set offline with the client\'s set command is never chosen, and requests still succeed', async () => {
  const c = c2!;
  const movies = await c.movieIds(10);
  // An operator's session: changing a status needs the cluster secret.
  const s = await c.session(410, { preferFrontend: 'fe1', secret: c.secret });
  const other = await c.session(411, { preferFrontend: 'fe2' });
  assert.equal(await runLine(s, 'set rm1 offline'), { kind: 'statusSet', rm: 'rm1', status: 'OFFLINE' });
  // Both front ends learn it through naming; wait until each reports it.
  for (const x of [s, other]) {
    const deadline = Date.now() + 5000;
    while (!(await x.cluster()).replicas.some((r) => r.name === 'rm1' && r.status === 'OFFLINE')) {
      assert.ok(Date.now() < deadline, `${x.frontend()} never saw rm1 OFFLINE`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const before = await c.introspect('rm1');
  const chose: TraceEvent[] = [];
  s.on('trace', (e) => {
    if (e.kind === 'chose') chose.push(e);
  });
  other.on('trace', (e) => {
    if (e.kind === 'chose') chose.push(e);
  });
  s.watch(true);
  other.watch(true);
  await new Promise((r) => setTimeout(r, 200)); // let the watch subscriptions land before the load
  for (let i = 0; i < 40; i++) {
    for (const [x, u] of [
      [s, 410],
      [other, 411],
    ] as const) {
      const m = movies[i % movies.length]!;
      const r = await runLine(x, i % 2 === 0 ? `rate ${m} ${1 + (i % 4)}` : `avg ${m}`);
      assert.ok(r.kind === 'rated' || r.kind === 'avg', `user ${u}: ${JSON.stringify(r)}`);
      assert.ok(!('served' in r) || !r.served?.servedBy.some((id) => id.startsWith('rm1.')), `served by rm1: ${JSON.stringify(r)}`);
    }
  }
  const after = await c.introspect('rm1');
  assert.is(after.counters.queries ?? 0, before.counters.queries ?? 0, 'rm1 got queries while OFFLINE');
  assert.is(after.counters.updates ?? 0, before.counters.updates ?? 0, 'rm1 got updates while OFFLINE');
  assert.ok(chose.length > 0, 'trace shows the replica choices');
  for (const e of chose) if (e.kind === 'chose') assert.not.ok(e.chosen.some((x) => x.rm.startsWith('rm1.')), `chose rm1: ${JSON.stringify(e)}`);
  assert.equal(await runLine(s, 'set rm1 active'), { kind: 'statusSet', rm: 'rm1', status: 'ACTIVE' });
});

offline('malformed payloads to every front-end endpoint get error replies, and every process stays up', async () => {
  const c = c2!;
  const fe = c.proc('fe1');
  const sock: Socket = io(fe.url, { transports: ['websocket'], reconnection: false });
  try {
    await connected(sock, fe.url);
    // Valid apart from an own "__proto__" key, which must not reach any object's prototype: any reply will do.
    const protoKey: unknown = JSON.parse('{"requestId":"r","prev":{"__proto__":{"x":1}},"query":{"kind":"avg","movieId":1},"__proto__":{"polluted":1}}');
    const bad: unknown[] = [
      undefined,
      null,
      42,
      'text',
      [],
      [1, 2, 3],
      {},
      { requestId: 5 },
      { requestId: 'r', prev: 'x', query: { kind: 'avg', movieId: 1 } },
      { requestId: 'r', prev: { a: -1 }, query: { kind: 'avg', movieId: 1 } },
      { requestId: 'r', prev: {}, query: { kind: 'nope' } },
      { requestId: 'r', prev: {}, query: { kind: 'avg', movieId: 'one' } },
      { requestId: 'r', prev: {}, query: { kind: 'avg', movieId: 1e300 } },
      { requestId: 'r', prev: {}, query: { kind: 'search', words: 'x'.repeat(100_000) } },
      { requestId: 'r', prev: {}, op: { kind: 'rate', userId: 1, movieId: 1, rating: 'five', timestamp: 0 } },
      { requestId: 'r', prev: {}, op: { kind: 'rate', userId: -1, movieId: 1, rating: 4, timestamp: 0 } },
      { requestId: 'r', prev: {}, op: { kind: 'delete', userId: 1, movieId: 1 }, uid: 7 },
      { requestId: 'x'.repeat(10_000), prev: {}, query: { kind: 'avg', movieId: 1 } },
      { rm: 5, status: 'OFFLINE' },
      { rm: 'rm1', status: 'ASLEEP' },
      { rm: 'nobody', status: 'OFFLINE' },
      { trace: 'yes' },
      { __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } },
      protoKey,
    ];
    const events = ['query', 'update', 'cluster', 'watch', 'setStatus'];
    let replies = 0;
    for (const ev of events) {
      for (const payload of bad) {
        let r: unknown;
        try {
          r = await sock.timeout(3000).emitWithAck(ev, payload);
        } catch (e) {
          assert.unreachable(`${ev}(${JSON.stringify(payload)?.slice(0, 80)}) got no reply: ${(e as Error).message}`);
        }
        replies++;
        assert.type(r, 'object', `${ev} reply`);
        const ok = (r as { ok?: unknown }).ok;
        assert.type(ok, 'boolean', `${ev}(${JSON.stringify(payload)?.slice(0, 80)}) reply ${JSON.stringify(r)?.slice(0, 200)}`);
        // Only cluster/watch take (and ignore) any object; everything else must be refused with a reason.
        if (ev !== 'cluster' && ev !== 'watch' && ok === false) assert.type((r as { message?: unknown }).message, 'string');
        if ((ev === 'query' || ev === 'update') && payload !== protoKey && payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
          assert.is(ok, false, `${ev}(${JSON.stringify(payload)?.slice(0, 120)}) was accepted`);
        }
      }
      // Without an acknowledgement callback, and with extra arguments.
      sock.emit(ev, { junk: true });
      sock.emit(ev, 1, 2, 3, 4);
    }
    sock.emit('no-such-event', { x: 1 }, () => {});
    assert.is(replies, events.length * bad.length);
  } finally {
    sock.disconnect();
  }
  // Everyone is still up and serving.
  for (const p of c.all()) assert.not.ok(p.dead, `${p.name} died:\n${p.logTail(20)}`);
  const s = await c.session(412, { preferFrontend: 'fe1' });
  const r = await runLine(s, 'avg 1');
  assert.is(r.kind, 'avg', JSON.stringify(r));
});

crash.run();
offline.run();
