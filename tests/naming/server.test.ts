/**
 * The naming service over real sockets (in-process via startNaming, on port
 * 0): registration, lookup, watching, members leaving when their connection
 * goes or their heartbeats stop, name ownership, the cluster secret, and
 * malformed payloads.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { io, type Socket } from 'socket.io-client';
import { testConfig, type Config } from '../../src/core/config.js';
import { connected, type Logger } from '../../src/core/sockets.js';
import type { Member } from '../../src/core/protocol.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';

// ---- helpers ---------------------------------------------------------------

interface Lines extends Logger {
  readonly lines: string[];
}
function memoryLog(): Lines {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

const opened: Socket[] = [];
/** A plain socket.io client, connected (no reconnection: what a test does to it is what happens). */
async function raw(url: string, secret?: string): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], reconnection: false, auth: secret === undefined ? {} : { secret }, forceNew: true });
  opened.push(s);
  await connected(s, url, 3000);
  return s;
}

/** Replies are checked field by field; malformed requests make their shape vary. */
type AnyReply = any;
function call(s: Socket, event: string, ...args: unknown[]): Promise<AnyReply> {
  return s.timeout(3000).emitWithAck(event, ...args);
}

/** Resolves with the first `event` on `s` whose member satisfies `pred`, and when it arrived. */
function nextEvent(s: Socket, event: 'joined' | 'left' | 'updated', pred: (m: Member) => boolean, ms = 5000): Promise<{ member: Member; at: number }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      s.off(event, on);
      reject(new Error(`no ${event} event within ${ms} ms`));
    }, ms);
    const on = (m: Member) => {
      if (!pred(m)) return;
      clearTimeout(t);
      s.off(event, on);
      resolve({ member: m, at: performance.now() });
    };
    s.on(event, on);
  });
}

const member = (name: string, kind: 'replica' | 'frontend' = 'replica', meta: Record<string, unknown> = {}) => ({ kind, name, url: `http://127.0.0.1:9/${name}`, meta });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const servers: NamingHandle[] = [];
async function naming(o: { secret?: string; config?: Config; log?: Logger } = {}): Promise<NamingHandle & { log: Lines }> {
  const log = (o.log as Lines | undefined) ?? memoryLog();
  const h = await startNaming({ port: 0, config: o.config ?? testConfig, log, ...(o.secret ? { secret: o.secret } : {}) });
  servers.push(h);
  return { url: h.url, port: h.port, close: h.close, log };
}

async function cleanup() {
  for (const s of opened.splice(0)) s.disconnect();
  for (const h of servers.splice(0)) await h.close();
}

// ---- tests -----------------------------------------------------------------

const test = suite('naming server');
test.after.each(cleanup);

test('register, then look up by name and list by kind', async () => {
  const n = await naming();
  const a = await raw(n.url);
  const b = await raw(n.url);
  const r1 = await call(a, 'register', member('rm1', 'replica', { status: 'ACTIVE' }));
  assert.ok(r1.ok, JSON.stringify(r1));
  assert.is(r1.member.name, 'rm1');
  assert.ok(typeof r1.member.since === 'number' && Math.abs(r1.member.since - Date.now()) < 5000);
  const r2 = await call(b, 'register', member('fe1', 'frontend'));
  assert.equal(r2.members.map((m: Member) => m.name), ['fe1', 'rm1'], 'the register reply carries every member');

  const c = await raw(n.url);
  const found = await call(c, 'lookup', { name: 'rm1' });
  assert.equal(found, { ok: true, member: { ...member('rm1', 'replica', { status: 'ACTIVE' }), since: r1.member.since } });
  assert.equal(await call(c, 'lookup', { name: 'nobody' }), { ok: true, member: null });
  assert.equal((await call(c, 'list', { kind: 'frontend' })).members.map((m: Member) => m.name), ['fe1']);
  assert.equal((await call(c, 'list', { kind: 'replica' })).members.map((m: Member) => m.name), ['rm1']);
  assert.equal((await call(c, 'list', {})).members.map((m: Member) => m.name), ['fe1', 'rm1']);
  assert.ok((await call(a, 'heartbeat', {})).ok);
  assert.is((await call(c, 'heartbeat', {})).code, 'EXPIRED', 'a heartbeat from a connection without a member says so');
});

test('watchers receive joined, updated and left events, filtered by kind', async () => {
  const n = await naming();
  const all = await raw(n.url);
  const replicas = await raw(n.url);
  assert.equal(await call(all, 'watch', {}), { ok: true, members: [] });
  assert.equal(await call(replicas, 'watch', { kind: 'replica' }), { ok: true, members: [] });
  const seenByReplicaWatcher: string[] = [];
  for (const ev of ['joined', 'updated', 'left']) replicas.on(ev, (m: Member) => seenByReplicaWatcher.push(`${ev} ${m.name}`));

  const fe = await raw(n.url);
  const joinedFe = nextEvent(all, 'joined', (m) => m.name === 'fe1');
  await call(fe, 'register', member('fe1', 'frontend'));
  await joinedFe;

  const rm = await raw(n.url);
  const joined = nextEvent(all, 'joined', (m) => m.name === 'rm1');
  await call(rm, 'register', member('rm1', 'replica', { v: 1 }));
  assert.equal((await joined).member.meta, { v: 1 });

  const updated = nextEvent(all, 'updated', (m) => m.name === 'rm1');
  assert.ok((await call(rm, 'update', { meta: { v: 2 } })).ok);
  assert.equal((await updated).member.meta, { v: 2 });

  const reRegistered = nextEvent(all, 'updated', (m) => m.name === 'rm1');
  await call(rm, 'register', member('rm1', 'replica', { v: 3 }));
  assert.equal((await reRegistered).member.meta, { v: 3 }, 're-registering from the same socket is an update');

  const left = nextEvent(all, 'left', (m) => m.name === 'rm1');
  rm.disconnect();
  await left;
  // The replica-only watcher saw the replica's life and nothing of the front end.
  const lastForReplica = nextEvent(replicas, 'joined', (m) => m.name === 'rm2');
  await call(await raw(n.url), 'register', member('rm2'));
  await lastForReplica;
  assert.equal(seenByReplicaWatcher, ['joined rm1', 'updated rm1', 'updated rm1', 'left rm1', 'joined rm2']);
  assert.equal((await call(all, 'watch', {})).members.map((m: Member) => m.name), ['fe1', 'rm2'], 'the watch reply is the current list');
});

test('a member whose socket disconnects leaves at once', async () => {
  const n = await naming();
  const watcher = await raw(n.url);
  await call(watcher, 'watch', {});
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const m = await raw(n.url);
    await call(m, 'register', member(`rm${i}`));
    const left = nextEvent(watcher, 'left', (x) => x.name === `rm${i}`, 1000);
    const t0 = performance.now();
    m.disconnect();
    times.push((await left).at - t0);
    assert.is((await call(watcher, 'lookup', { name: `rm${i}` })).member, null);
  }
  console.log(`  disconnect → left: median ${median(times).toFixed(1)} ms (runs: ${times.map((t) => t.toFixed(1)).join(', ')})`);
  assert.ok(median(times) < 200);
});

test('a member whose heartbeats stop disappears within 2 s (lease), and its socket is closed', async () => {
  // The default profile: the figure that matters in production.
  const { defaultConfig } = await import('../../src/core/config.js');
  const n = await naming({ config: { ...defaultConfig } });
  const watcher = await raw(n.url);
  await call(watcher, 'watch', {});
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const hung = await raw(n.url);
    const closed = new Promise<string>((resolve) => hung.once('disconnect', (reason) => resolve(reason)));
    const left = nextEvent(watcher, 'left', (x) => x.name === `hung${i}`, 3000);
    const t0 = performance.now();
    const r = await call(hung, 'register', member(`hung${i}`));
    assert.ok(r.ok);
    // ...and never a heartbeat: the connection stays open but the member is silent.
    times.push((await left).at - t0);
    assert.is(await closed, 'io server disconnect', 'the server drops the silent connection');
  }
  console.log(
    `  silent member → left (leaseMs ${defaultConfig.leaseMs}): median ${median(times).toFixed(0)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`,
  );
  assert.ok(Math.max(...times) < 2000, `took ${Math.max(...times)} ms`);
  assert.ok(Math.min(...times) >= defaultConfig.leaseMs - 50, 'not before the lease ran out');
});

test('heartbeats keep a member alive past its lease', async () => {
  const n = await naming();
  const m = await raw(n.url);
  await call(m, 'register', member('steady'));
  const t0 = performance.now();
  while (performance.now() - t0 < testConfig.leaseMs * 2) {
    assert.ok((await call(m, 'heartbeat', {})).ok);
    await new Promise((r) => setTimeout(r, testConfig.heartbeatMs));
  }
  assert.is((await call(m, 'lookup', { name: 'steady' })).member?.name, 'steady');
});

test('a second member cannot take a live member\'s name: NAME_TAKEN; after it left the name is free', async () => {
  const n = await naming();
  const a = await raw(n.url);
  const b = await raw(n.url);
  assert.ok((await call(a, 'register', member('rm1'))).ok);
  const taken = await call(b, 'register', { ...member('rm1'), url: 'http://127.0.0.1:10/other' });
  assert.is(taken.ok, false);
  assert.is(taken.code, 'NAME_TAKEN');
  assert.is((await call(b, 'lookup', { name: 'rm1' })).member.url, member('rm1').url, 'the holder is untouched');
  const watcher = await raw(n.url);
  await call(watcher, 'watch', {});
  const left = nextEvent(watcher, 'left', (m) => m.name === 'rm1');
  a.disconnect();
  await left;
  assert.ok((await call(b, 'register', member('rm1'))).ok, 'restarts reuse names');
});

test('with a cluster secret, register and update need it; lookup, list and watch stay open', async () => {
  const n = await naming({ secret: 's3cret' });
  const none = await raw(n.url);
  const wrong = await raw(n.url, 's3cre');
  const right = await raw(n.url, 's3cret');
  for (const s of [none, wrong]) {
    const r = await call(s, 'register', member('rm1'));
    assert.is(r.code, 'UNAUTHORIZED');
    assert.is((await call(s, 'update', { meta: {} })).code, 'UNAUTHORIZED');
  }
  assert.ok((await call(right, 'register', member('rm1'))).ok);
  assert.ok((await call(right, 'update', { meta: { v: 1 } })).ok);
  assert.is((await call(none, 'lookup', { name: 'rm1' })).member.name, 'rm1');
  assert.is((await call(none, 'list', {})).members.length, 1);
  assert.is((await call(none, 'watch', { kind: 'replica' })).members.length, 1);
  assert.ok(n.log.lines.some((l) => l.includes('register') && l.includes('refused')), 'refusals are logged');
  assert.not.ok(n.log.lines.some((l) => l.includes('s3cret')), 'the secret is never logged');
});

test('without a secret everything is open (a client presenting one is fine too)', async () => {
  const n = await naming();
  const s = await raw(n.url, 'anything');
  assert.ok((await call(s, 'register', member('rm1'))).ok);
  assert.ok((await call(s, 'update', { meta: { a: 1 } })).ok);
});

test('malformed payloads to every event get error replies and the server stays up', async () => {
  const n = await naming();
  const s = await raw(n.url);
  const bad: [string, unknown][] = [
    ['register', 42],
    ['register', 'rm1'],
    ['register', null],
    ['register', {}],
    ['register', { ...member('rm1'), kind: 'wizard' }],
    ['register', { ...member('rm1'), name: '' }],
    ['register', { ...member('rm1'), name: 'has space' }],
    ['register', { ...member('rm1'), name: 'x'.repeat(65) }],
    ['register', { ...member('rm1'), url: 'ftp://nope' }],
    ['register', { ...member('rm1'), url: 42 }],
    ['register', { ...member('rm1'), meta: 'not an object' }],
    ['register', { ...member('rm1'), meta: { big: 'x'.repeat(20_000) } }],
    ['register', { ...member('rm1'), meta: [1, 2] }],
    ['update', 7],
    ['update', {}],
    ['update', { meta: null }],
    ['heartbeat', 3],
    ['heartbeat', 'beat'],
    ['lookup', {}],
    ['lookup', { name: 5 }],
    ['lookup', [1]],
    ['list', { kind: 'wizard' }],
    ['list', 'replica'],
    ['watch', { kind: 5 }],
    ['watch', true],
  ];
  for (const [event, payload] of bad) {
    const r = await call(s, event, payload);
    assert.is(r.ok, false, `${event} ${JSON.stringify(payload)?.slice(0, 60)}`);
    assert.is(r.code, 'BAD_REQUEST', `${event} ${JSON.stringify(payload)?.slice(0, 60)}: ${r.code}`);
    assert.type(r.message, 'string');
  }
  assert.is(n.log.lines.filter((l) => l.includes('invalid payload')).length, bad.length, 'one log line each');
  // No ack, no payload, extra arguments, unknown events: no crash, no registration.
  s.emit('register');
  s.emit('register', { nonsense: true });
  s.emit('heartbeat');
  s.emit('lookup', { name: 'rm1' }, 'extra', 3);
  assert.is((await call(s, 'no-such-event', {})).code, 'BAD_REQUEST');
  assert.is((await call(s, 'list')).ok, true, 'a missing payload for list means all kinds');
  // An oversized message closes that one connection only.
  const big = await raw(n.url);
  const dropped = new Promise<string>((resolve) => big.once('disconnect', resolve));
  big.emit('register', { ...member('big'), meta: { x: 'y'.repeat(testConfig.maxMessageBytes + 10) } });
  await dropped;
  const after = await raw(n.url);
  assert.ok((await call(after, 'register', member('rm1'))).ok, 'the server still serves');
  assert.equal((await call(s, 'list', {})).members.map((m: Member) => m.name), ['rm1']);
});

test('closing the server closes every connection without telling watchers that members left', async () => {
  const n = await naming();
  const watcher = await raw(n.url);
  await call(watcher, 'watch', {});
  const lefts: string[] = [];
  watcher.on('left', (m: Member) => lefts.push(m.name));
  const m = await raw(n.url);
  await call(m, 'register', member('rm1'));
  const gone = new Promise<string>((resolve) => m.once('disconnect', resolve));
  const watcherGone = new Promise<string>((resolve) => watcher.once('disconnect', resolve));
  await n.close();
  await gone;
  await watcherGone;
  assert.equal(lefts, [], 'the service went away, not the member');
});

test.run();
