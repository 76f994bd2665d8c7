/**
 * The client session against a real naming service and scripted front ends
 * (in this process): it carries its timestamp across front ends, moves on
 * when a front end dies or stays silent, retries updates with the same uid,
 * and keeps working while naming is down.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configFor, type Config } from '../../src/core/config.js';
import { movieId, userId, type ReplicaId, type UpdateId } from '../../src/core/ids.js';
import type { ClientReply, ClusterView, FrontendEmit, FrontendListen } from '../../src/core/protocol.js';
import type { Logger } from '../../src/core/sockets.js';
import type { VTS } from '../../src/core/vts.js';
import { Session } from '../../src/client/session.js';
import { NamingClient } from '../../src/naming/client.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';

const quiet: Logger = { info() {}, warn() {}, error() {} };
const config: Config = configFor('test', { feRequestTimeoutMs: 500, heartbeatMs: 100, leaseMs: 600 });

type Mode = 'answer' | 'silent';

/** A scripted front end: answers (or not) and records what it was sent. */
class FakeFrontend {
  mode: Mode = 'answer';
  readonly queries: { requestId: string; prev: VTS }[] = [];
  readonly updates: { requestId: string; prev: VTS; uid?: string | undefined; op: unknown }[] = [];
  watches = 0;
  counter = 0;
  url = '';
  private http!: HttpServer;
  private io!: Server<FrontendListen, FrontendEmit>;
  private naming!: NamingClient;

  constructor(readonly name: string) {}

  async start(namingUrl: string): Promise<void> {
    this.http = createServer();
    this.io = new Server(this.http, { serveClient: false, cors: { origin: false } });
    this.io.on('connection', (sock) => {
      sock.on('query', (req, ack) => {
        this.queries.push({ requestId: req.requestId, prev: req.prev });
        if (this.mode === 'silent') return;
        const ts = this.tick(req.prev);
        ack({ ok: true, kind: 'query', result: { kind: 'avg', movieId: 1, title: 'T', average: 4, count: 1 }, ts, servedBy: [`${this.name}-rm.1` as ReplicaId], valueTS: ts });
      });
      sock.on('update', (req, ack) => {
        this.updates.push({ requestId: req.requestId, prev: req.prev, uid: req.uid, op: req.op });
        if (this.mode === 'silent') return;
        const ts = this.tick(req.prev);
        ack({ ok: true, kind: 'update', uid: (req.uid ?? 'fe-made') as UpdateId, ts, servedBy: [], copies: {} });
      });
      sock.on('cluster', (_req, ack) => ack({ ok: true, view: this.view() }));
      sock.on('watch', (_req, ack) => {
        this.watches++;
        ack({ ok: true, view: this.view() });
      });
      sock.on('setStatus', (req, ack) => ack({ ok: true, status: req.status }));
    });
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
    this.naming = new NamingClient({ url: namingUrl, log: quiet, config });
    await this.naming.register({ kind: 'frontend', name: this.name, url: this.url, meta: {} });
  }

  /** Each answer advances this front end's own entry, so timestamps show where a session has been. */
  private tick(prev: VTS): VTS {
    return { ...prev, [`${this.name}-rm.1`]: Math.max(prev[`${this.name}-rm.1` as ReplicaId] ?? 0, ++this.counter) } as VTS;
  }

  private view(): ClusterView {
    return { replicas: [], frontends: [], via: this.name, at: Date.now() };
  }

  /** Goes away abruptly: client connections drop first, then it leaves naming. */
  async crash(): Promise<void> {
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    await this.naming.close();
  }

  /** Sends a cluster event to every connected client. */
  push(): void {
    this.io.emit('cluster', this.view());
  }

  async stop(): Promise<void> {
    await this.naming.close().catch(() => {});
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }
}

let naming: NamingHandle;
let fes: FakeFrontend[] = [];
const sessions: Session[] = [];

async function setup(n = 2): Promise<void> {
  naming = await startNaming({ port: 0, config, log: quiet });
  fes = [];
  for (let i = 1; i <= n; i++) {
    const fe = new FakeFrontend(`fe${i}`);
    await fe.start(naming.url);
    fes.push(fe);
  }
}

async function teardown(): Promise<void> {
  for (const s of sessions.splice(0)) await s.close();
  for (const fe of fes) await fe.stop();
  await naming?.close();
}

async function connect(prefer?: string): Promise<Session> {
  const s = await Session.connect({ naming: naming.url, user: userId(5), config, ...(prefer ? { preferFrontend: prefer } : {}) });
  sessions.push(s);
  return s;
}

const fe = (name: string) => fes.find((f) => f.name === name)!;
const avg = { kind: 'avg', movieId: movieId(1) } as const;
const rate = { kind: 'rate', userId: userId(5), movieId: movieId(1), rating: 4, timestamp: 1 } as const;

const session = suite('Session');
session.before.each(() => setup());
session.after.each(() => teardown());

session('connects to the preferred front end and merges every reply into prev', async () => {
  const s = await connect('fe2');
  assert.is(s.frontend(), 'fe2');
  const r = await s.query(avg);
  assert.ok(r.ok);
  assert.equal(s.prev, { 'fe2-rm.1': 1 });
  await s.update(rate);
  assert.equal(s.prev, { 'fe2-rm.1': 2 });
  assert.equal(fe('fe2').updates[0]!.prev, { 'fe2-rm.1': 1 }, 'the session sends its prev');
});

session('switching front ends keeps the session timestamp (read-your-writes)', async () => {
  const s = await connect('fe1');
  await s.update(rate);
  await s.useFrontend('fe2');
  assert.is(s.frontend(), 'fe2');
  await s.query(avg);
  assert.equal(fe('fe2').queries[0]!.prev, { 'fe1-rm.1': 1 }, 'fe2 is told what the session saw through fe1');
  assert.equal(s.prev, { 'fe1-rm.1': 1, 'fe2-rm.1': 1 });
});

session('a silent front end is left for another after the timeout; the query is asked again there', async () => {
  const s = await connect('fe1');
  fe('fe1').mode = 'silent';
  const switched: (string | undefined)[] = [];
  s.on('frontend', (name) => switched.push(name));
  const t0 = Date.now();
  const r = await s.query(avg);
  assert.ok(r.ok, JSON.stringify(r));
  assert.is(s.frontend(), 'fe2');
  assert.ok(Date.now() - t0 >= config.feRequestTimeoutMs);
  assert.is(fe('fe1').queries.length, 1);
  assert.is(fe('fe2').queries.length, 1);
  assert.equal(switched, ['fe2']);
});

session('an update whose reply was lost is retried on another front end with the same uid', async () => {
  const s = await connect('fe1');
  fe('fe1').mode = 'silent';
  const r = await s.update(rate);
  assert.ok(r.ok && r.kind === 'update', JSON.stringify(r));
  const first = fe('fe1').updates[0]!;
  const retry = fe('fe2').updates[0]!;
  assert.ok(first.uid && first.uid.startsWith('5:'), `client-made uid ${first.uid}`);
  assert.is(retry.uid, first.uid, 'same uid on retry');
  assert.is.not(retry.requestId, first.requestId, 'a new request id');
  assert.equal(retry.prev, first.prev, 'the same prev (nothing new was learnt)');
  if (r.ok && r.kind === 'update') assert.is(r.uid, first.uid);
  const r2 = await s.update(rate);
  assert.ok(r2.ok && r2.kind === 'update' && r2.uid !== first.uid, 'each update gets its own uid');
});

session('addMovie and forgetUser are updates like the others: a lost reply is retried elsewhere with the same uid and prev', async () => {
  const s = await connect('fe1');
  await s.query({ kind: 'avg', movieId: movieId(1) });
  fe('fe1').mode = 'silent';
  const r = await s.addMovie('Heat 2 (2026)', ['Action']);
  assert.ok(r.ok && r.kind === 'update', JSON.stringify(r));
  const first = fe('fe1').updates[0]!;
  const retry = fe('fe2').updates[0]!;
  assert.equal(first.op, { kind: 'addMovie', title: 'Heat 2 (2026)', genres: ['Action'] });
  assert.equal(retry.op, first.op);
  assert.is(retry.uid, first.uid);
  assert.equal(retry.prev, first.prev);
  assert.ok(Object.keys(first.prev).length > 0, 'the prev carries what the session saw');
  const f = await s.forgetUser(userId(42));
  assert.ok(f.ok);
  assert.equal(fe('fe2').updates[1]!.op, { kind: 'forgetUser', userId: 42 });
});

session('a front end that dies mid-request is left at once, and the request completes elsewhere', async () => {
  const s = await connect('fe1');
  fe('fe1').mode = 'silent';
  const why: string[] = [];
  s.on('frontend', (name, w) => why.push(`${name}: ${w}`));
  const t0 = Date.now();
  const pending = s.update(rate);
  await new Promise((r) => setTimeout(r, 50));
  await fe('fe1').crash();
  const r = await pending;
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(Date.now() - t0 < config.feRequestTimeoutMs, `took ${Date.now() - t0} ms: the disconnect, not the timeout, moved it`);
  assert.is(s.frontend(), 'fe2');
  assert.is(fe('fe2').updates[0]!.uid, fe('fe1').updates[0]!.uid);
  assert.match(why.join('\n'), /fe2: switched from fe1/);
});

session('with every front end gone, a request fails with UNAVAILABLE naming what was tried', async () => {
  const s = await connect('fe1');
  for (const f of fes) f.mode = 'silent';
  const r: ClientReply = await s.query(avg);
  assert.is(r.ok, false);
  if (!r.ok) {
    assert.is(r.code, 'UNAVAILABLE');
    assert.match(r.message, /fe1: no answer within 500 ms/);
    assert.match(r.message, /fe2: no answer within 500 ms/);
  }
});

session('watch receives cluster events and is renewed on the next front end after a switch', async () => {
  const s = await connect('fe1');
  const views: string[] = [];
  s.on('cluster', (v) => views.push(v.via));
  s.watch(false);
  await until(() => views.includes('fe1'));
  assert.is(fe('fe1').watches, 1);
  await fe('fe1').crash();
  await until(() => views.includes('fe2'));
  assert.is(fe('fe2').watches, 1);
  fe('fe2').push();
  await until(() => views.filter((v) => v === 'fe2').length >= 2);
});

session('while naming is down the session keeps its front end, and says so', async () => {
  const s = await connect('fe1');
  const ups: boolean[] = [];
  s.on('naming', (up) => ups.push(up));
  await naming.close();
  await until(() => ups.includes(false));
  const r = await s.query(avg);
  assert.ok(r.ok);
  assert.is(s.frontend(), 'fe1');
});

session('connect fails clearly when no front end is registered', async () => {
  await teardown();
  naming = await startNaming({ port: 0, config, log: quiet });
  fes = [];
  try {
    await Session.connect({ naming: naming.url, user: userId(5), config });
    assert.unreachable('connected without front ends');
  } catch (e) {
    assert.match((e as Error).message, /no front end is registered/);
  }
});

/** Resolves once `cond()` holds, checking on every macrotask turn; fails after 3 s. */
async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

session.run();
