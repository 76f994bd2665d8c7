/**
 * NamingClient against real in-process naming servers: it registers and
 * stays registered (heartbeats, re-registration after the naming service
 * restarts or drops it), watches deliver full lists, failures come back as
 * OpError codes, and nothing a listener does breaks it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig, type Config } from '../../src/core/config.js';
import { OpError } from '../../src/core/ops.js';
import type { Member } from '../../src/core/protocol.js';
import type { Logger } from '../../src/core/sockets.js';
import { NamingClient } from '../../src/naming/client.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';

interface Lines extends Logger {
  readonly lines: string[];
}
function memoryLog(): Lines {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** Records what a callback was given; `until` waits (with a deadline) for a value satisfying a condition. */
function recorder<T>() {
  const seen: T[] = [];
  let waiters: { pred: (v: T) => boolean; resolve: (v: T) => void }[] = [];
  return {
    seen,
    push: (v: T) => {
      seen.push(v);
      const ready = waiters.filter((w) => w.pred(v));
      waiters = waiters.filter((w) => !w.pred(v));
      for (const w of ready) w.resolve(v);
    },
    /** The first value from now on (or the latest one already seen) satisfying `pred`. */
    until(pred: (v: T) => boolean, ms = 5000, what = 'condition'): Promise<T> {
      const last = seen[seen.length - 1];
      if (last !== undefined && pred(last)) return Promise.resolve(last);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(seen[seen.length - 1])}`)), ms);
        waiters.push({
          pred,
          resolve: (v) => {
            clearTimeout(t);
            resolve(v);
          },
        });
      });
    },
  };
}

const names = (ms: readonly Member[]) => ms.map((m) => m.name);
const rm = (name: string, meta: Record<string, unknown> = {}) => ({ kind: 'replica' as const, name, url: `http://127.0.0.1:9/${name}`, meta });

const servers = new Set<NamingHandle>();
const clients: NamingClient[] = [];
async function naming(o: { port?: number; secret?: string; config?: Config } = {}): Promise<NamingHandle> {
  const h = await startNaming({ port: o.port ?? 0, config: o.config ?? testConfig, log: memoryLog(), ...(o.secret ? { secret: o.secret } : {}) });
  servers.add(h);
  return h;
}
async function stop(h: NamingHandle) {
  servers.delete(h);
  await h.close();
}
function client(url: string, o: { secret?: string; config?: Config; connectTimeoutMs?: number; log?: Logger } = {}): NamingClient {
  const c = new NamingClient({ url, config: o.config ?? testConfig, log: o.log ?? memoryLog(), secret: o.secret, connectTimeoutMs: o.connectTimeoutMs });
  clients.push(c);
  return c;
}
async function rejection(p: Promise<unknown>): Promise<OpError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, OpError);
    return e as OpError;
  }
  throw new Error('expected a rejection');
}
/** A port nothing listens on (one a server just released). */
async function freePort(): Promise<number> {
  const h = await naming();
  await stop(h);
  return h.port;
}

const test = suite('naming client');
test.after.each(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const h of [...servers]) await stop(h);
});

test('register resolves with the members; lookup and list find them', async () => {
  const n = await naming();
  const a = client(n.url);
  assert.equal(names(await a.register(rm('rm1', { v: 1 }))), ['rm1']);
  const b = client(n.url);
  assert.equal(names(await b.register({ kind: 'frontend', name: 'fe1', url: 'http://127.0.0.1:9/fe1', meta: {} })), ['fe1', 'rm1']);
  const c = client(n.url);
  assert.equal((await c.lookup('rm1'))?.meta, { v: 1 });
  assert.is(await c.lookup('nobody'), null);
  assert.equal(names(await c.list('frontend')), ['fe1']);
  assert.equal(names(await c.list()), ['fe1', 'rm1']);
  assert.ok(c.connected);
  const ups = recorder<boolean>();
  c.onConnection(ups.push);
  await ups.until((u) => u, 1000, 'the current state for a late subscriber');
  assert.is((await rejection(c.lookup('not a name'))).code, 'BAD_REQUEST');
});

test('a registered client stays registered past its lease (heartbeats)', async () => {
  const n = await naming();
  const a = client(n.url);
  await a.register(rm('rm1'));
  const w = client(n.url);
  const lists = recorder<Member[]>();
  w.watch(undefined, lists.push);
  await lists.until((l) => names(l).includes('rm1'));
  // Observe for three lease periods (the time passing is the point here): any expiry would show as a list without rm1.
  await new Promise((r) => setTimeout(r, testConfig.leaseMs * 3 + 100));
  assert.ok(lists.seen.every((l) => names(l).includes('rm1')), 'rm1 never left');
  assert.is((await w.lookup('rm1'))?.name, 'rm1');
});

test('watch delivers the full list at once and on every join, update and leave', async () => {
  const n = await naming();
  const w = client(n.url);
  const replicas = recorder<Member[]>();
  const all = recorder<Member[]>();
  w.watch('replica', replicas.push);
  w.watch(undefined, all.push);
  await replicas.until((l) => l.length === 0, 3000, 'the initial empty list');
  await all.until((l) => l.length === 0, 3000, 'the initial empty list');

  const r1 = client(n.url);
  await r1.register(rm('rm1', { v: 1 }));
  await replicas.until((l) => names(l).join() === 'rm1');
  const f1 = client(n.url);
  await f1.register({ kind: 'frontend', name: 'fe1', url: 'http://127.0.0.1:9/fe1', meta: {} });
  await all.until((l) => names(l).join() === 'fe1,rm1');

  r1.updateMeta({ v: 2 });
  const upd = await replicas.until((l) => l[0]?.meta.v === 2, 3000, 'the updated meta');
  assert.equal(names(upd), ['rm1']);

  await r1.close();
  await replicas.until((l) => l.length === 0, 3000, 'rm1 to leave');
  await all.until((l) => names(l).join() === 'fe1');
  assert.ok(replicas.seen.every((l) => l.every((m) => m.kind === 'replica')), 'the replica watch never saw a front end');
  // A late watcher gets the current list straight away.
  const late = recorder<Member[]>();
  w.watch('frontend', late.push);
  assert.equal(names(await late.until(() => true)), ['fe1']);
});

test('a member that joins right after the watch list is answered is not lost (both arrive in one turn)', async () => {
  // A scripted naming service: it answers `watch` and announces a join in the same turn, so the
  // client decodes the list and the event back to back, before any awaited continuation runs.
  const { Server } = await import('socket.io');
  const { createServer } = await import('node:http');
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  const member = (name: string) => ({ kind: 'replica' as const, name, url: `http://127.0.0.1:9/${name}`, meta: {}, since: 1 });
  io.on('connection', (socket) => {
    socket.on('watch', (_req: unknown, ack: (r: unknown) => void) => {
      ack({ ok: true, members: [member('rm1')] });
      socket.emit('joined', member('rm2'));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (http.address() as { port: number }).port;
    const c = client(`http://127.0.0.1:${port}`);
    const seen = recorder<string[]>();
    c.watch('replica', (ms) => seen.push(names(ms)));
    const got = await seen.until((n) => n.includes('rm2'), 3000, 'rm2 in the watched list');
    assert.equal(got, ['rm1', 'rm2']);
  } finally {
    await new Promise<void>((r) => io.close(() => r()));
  }
});

test('close() removes the member at once', async () => {
  const n = await naming();
  const w = client(n.url);
  const lists = recorder<Member[]>();
  w.watch(undefined, lists.push);
  const a = client(n.url);
  await a.register(rm('rm1'));
  await lists.until((l) => l.length === 1);
  const t0 = performance.now();
  await a.close();
  await lists.until((l) => l.length === 0, 500, 'rm1 to leave');
  console.log(`  close() → left: ${(performance.now() - t0).toFixed(1)} ms`);
  const again = client(n.url);
  assert.equal(names(await again.register(rm('rm1'))), ['rm1'], 'the name is free for a restart');
});

test('a live member\'s name cannot be taken: register rejects with NAME_TAKEN', async () => {
  const n = await naming();
  await client(n.url).register(rm('rm1'));
  const t0 = performance.now();
  const e = await rejection(client(n.url).register(rm('rm1')));
  assert.is(e.code, 'NAME_TAKEN');
  // It waits out one lease first (the holder could be its own hung previous life).
  const waited = performance.now() - t0;
  assert.ok(waited >= testConfig.leaseMs && waited < testConfig.leaseMs + 1500, `waited ${waited} ms`);
});

test('a restart takes over a name whose previous holder hung (its lease runs out)', async () => {
  const n = await naming();
  const { io } = await import('socket.io-client');
  const hung = io(n.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    const r = await hung.timeout(2000).emitWithAck('register', rm('rm1'));
    assert.ok(r.ok);
    const t0 = performance.now();
    const members = await client(n.url).register(rm('rm1', { life: 2 }));
    assert.equal(members.find((m: Member) => m.name === 'rm1')?.meta, { life: 2 });
    console.log(`  took over a hung holder's name after ${(performance.now() - t0).toFixed(0)} ms (leaseMs ${testConfig.leaseMs})`);
  } finally {
    hung.disconnect();
  }
});

test('with a cluster secret: a wrong or missing secret is UNAUTHORIZED; the right one registers; lookups need none', async () => {
  const n = await naming({ secret: 'shh' });
  assert.is((await rejection(client(n.url).register(rm('rm1')))).code, 'UNAUTHORIZED');
  assert.is((await rejection(client(n.url, { secret: 'nope' }).register(rm('rm1')))).code, 'UNAUTHORIZED');
  const good = client(n.url, { secret: 'shh' });
  await good.register(rm('rm1'));
  good.updateMeta({ v: 1 });
  const open = client(n.url);
  const lists = recorder<Member[]>();
  open.watch('replica', lists.push);
  await lists.until((l) => l[0]?.meta.v === 1, 3000, 'the update');
  assert.is((await open.lookup('rm1'))?.name, 'rm1');
});

test('without a reachable naming service: register, lookup and list reject with UNAVAILABLE; onConnection(false)', async () => {
  const port = await freePort();
  const c = client(`http://127.0.0.1:${port}`, { connectTimeoutMs: 400 });
  const ups = recorder<boolean>();
  c.onConnection(ups.push);
  await ups.until((u) => u === false, 3000, 'onConnection(false)');
  assert.not.ok(c.connected);
  const e = await rejection(c.register(rm('rm1')));
  assert.is(e.code, 'UNAVAILABLE');
  assert.match(e.message, String(port));
  assert.is((await rejection(c.lookup('rm1'))).code, 'UNAVAILABLE');
  assert.is((await rejection(c.list())).code, 'UNAVAILABLE');
});

test('register waits for a naming service that starts a little later', async () => {
  const port = await freePort();
  const c = client(`http://127.0.0.1:${port}`);
  const registered = c.register(rm('rm1'));
  await new Promise((r) => setTimeout(r, 300)); // the service is genuinely not there yet
  await naming({ port });
  assert.equal(names(await registered), ['rm1']);
});

test('after the naming server is closed and started again on the same port, the client re-registers with its latest meta and watches re-deliver', async () => {
  let n = await naming();
  const port = n.port;
  const member = client(n.url);
  await member.register(rm('rm1', { v: 1 }));
  const ups = recorder<boolean>();
  member.onConnection(ups.push);
  const doomed = client(n.url);
  await doomed.register(rm('rm2'));
  const watcher = client(n.url);
  const lists = recorder<Member[]>();
  watcher.watch(undefined, lists.push);
  await lists.until((l) => names(l).join() === 'rm1,rm2');

  await stop(n);
  await ups.until((u) => u === false, 3000, 'onConnection(false)');
  member.updateMeta({ v: 2 }); // while the naming service is down
  await doomed.close(); // and this one dies meanwhile: it will not come back
  const t0 = performance.now();
  n = await naming({ port });
  const back = await lists.until((l) => l.find((m) => m.name === 'rm1')?.meta.v === 2, 5000, 'rm1 with v=2 after the restart');
  console.log(`  re-registered ${(performance.now() - t0).toFixed(0)} ms after the naming service came back`);
  assert.is(back[0]?.url, rm('rm1').url);
  await ups.until((u) => u === true, 1000, 'onConnection(true)');
  const fresh = client(n.url);
  assert.equal((await fresh.lookup('rm1'))?.meta, { v: 2 });
  // The member that did not come back is dropped once the grace period is over.
  const graceMs = 2 * testConfig.leaseMs + 2000;
  await lists.until((l) => names(l).join() === 'rm1', graceMs + 2000, 'rm2 to be dropped');
  const dropped = performance.now() - t0;
  assert.ok(dropped >= graceMs - 100, `dropped after ${dropped} ms`);
  assert.ok(lists.seen.every((l) => names(l).includes('rm1')), JSON.stringify(lists.seen.map(names)));
  // And again: restarts do not wear it out.
  await stop(n);
  n = await naming({ port });
  await lists.until((l) => names(l).join() === 'rm1' && l[0]?.since !== back[0]?.since, 5000, 'rm1 registered with the third instance');
});

test('with reconnectGraceMs 0 a watcher gets exactly the restarted service\'s list', async () => {
  let n = await naming();
  const port = n.port;
  const watcher = new NamingClient({ url: n.url, config: testConfig, log: memoryLog(), reconnectGraceMs: 0 });
  clients.push(watcher);
  const lists = recorder<Member[]>();
  watcher.watch('replica', lists.push);
  const m = client(n.url);
  await m.register(rm('rm1'));
  await lists.until((l) => l.length === 1);
  await m.close();
  await lists.until((l) => l.length === 0);
  const other = client(n.url);
  await other.register(rm('rm2'));
  await lists.until((l) => names(l).join() === 'rm2');
  await stop(n);
  await other.close();
  n = await naming({ port });
  await lists.until((l) => l.length === 0, 5000, 'the empty list of the new instance');
});

test('a client whose lease ran out (no heartbeats in time) is dropped, then registers again by itself', async () => {
  const n = await naming();
  const watcher = client(n.url);
  const lists = recorder<Member[]>();
  watcher.watch('replica', lists.push);
  // This member heartbeats far less often than the service's lease requires.
  const log = memoryLog();
  const slow = client(n.url, { config: { ...testConfig, heartbeatMs: 5 * testConfig.leaseMs }, log });
  await slow.register(rm('slow'));
  await lists.until((l) => names(l).includes('slow'));
  await lists.until((l) => !names(l).includes('slow'), 3000, 'slow to expire');
  await lists.until((l) => names(l).includes('slow'), 3000, 'slow to register again');
  assert.is((await slow.lookup('slow'))?.name, 'slow'); // its register reply arrived before this one
  assert.ok(log.lines.some((l) => l.includes('registered again')), log.lines.join('\n'));
});

test('listeners that throw do not break the client', async () => {
  const n = await naming();
  const log = memoryLog();
  const c = client(n.url, { log });
  c.onConnection(() => {
    throw new Error('listener bug');
  });
  c.watch(undefined, () => {
    throw new Error('watcher bug');
  });
  const ok = recorder<Member[]>();
  c.watch(undefined, ok.push);
  await client(n.url).register(rm('rm1'));
  await ok.until((l) => l.length === 1);
  assert.ok(log.lines.some((l) => l.includes('watcher bug')));
  assert.is((await c.lookup('rm1'))?.name, 'rm1');
});

test('calls after close reject with UNAVAILABLE and close is idempotent', async () => {
  const n = await naming();
  const c = client(n.url);
  await c.close();
  await c.close();
  assert.is((await rejection(c.register(rm('rm1')))).code, 'UNAVAILABLE');
  assert.is((await rejection(c.lookup('rm1'))).code, 'UNAVAILABLE');
  c.updateMeta({});
  c.watch(undefined, () => {});
});

test.run();
