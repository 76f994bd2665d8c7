/**
 * The fault-injecting proxy, over a real socket.io server and client on
 * loopback: it forwards faithfully, delays in order, drops whole socket.io
 * messages without breaking the connection, holds and releases a partition,
 * cuts connections, and follows a component to a new port.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rngFromState } from '../../src/core/rng.js';
import { FaultProxy, WsSplitter } from '../../chaos/proxy.js';

interface Echo {
  readonly http: HttpServer;
  readonly io: Server;
  port: number;
  received: number;
}

async function startEcho(): Promise<Echo> {
  const http = createServer();
  const server = new Server(http, { serveClient: false, cors: { origin: false }, maxHttpBufferSize: 8 * 1024 * 1024 });
  const e: Echo = { http, io: server, port: 0, received: 0 };
  server.on('connection', (s) => {
    s.on('echo', (x: unknown, ack: (r: unknown) => void) => {
      e.received++;
      ack(x);
    });
    s.on('note', () => {
      e.received++;
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  e.port = (http.address() as AddressInfo).port;
  return e;
}

async function stopEcho(e: Echo): Promise<void> {
  await new Promise<void>((r) => e.io.close(() => r()));
}

function connect(url: string): Socket {
  return io(url, { transports: ['websocket'], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 200 });
}

async function connected(s: Socket, ms = 3000): Promise<void> {
  if (s.connected) return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no connection in time')), ms);
    s.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const test = suite('fault proxy');

test('forwards socket.io traffic unchanged, large messages included', async () => {
  const echo = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: echo.port, rng: rngFromState(1) });
  const s = connect(proxy.url);
  try {
    await connected(s);
    const small = await s.timeout(2000).emitWithAck('echo', { hello: 'world', n: [1, 2, 3] });
    assert.equal(small, { hello: 'world', n: [1, 2, 3] });
    const big = 'x'.repeat(300_000);
    const back = await s.timeout(4000).emitWithAck('echo', big);
    assert.is(back, big);
    assert.ok(proxy.stats.messages >= 4, 'events and acks are recognised as messages');
    assert.is(proxy.stats.dropped, 0);
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(echo);
  }
});

test('a delay applies to each message and never reorders them', async () => {
  const echo = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: echo.port, rng: rngFromState(2) });
  const s = connect(proxy.url);
  try {
    await connected(s);
    proxy.set({ delayMs: 100, jitterMs: 50 });
    const t0 = Date.now();
    await s.timeout(3000).emitWithAck('echo', 1);
    const rtt = Date.now() - t0;
    assert.ok(rtt >= 190, `round trip ${rtt} ms should include two delays of at least 100 ms`);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.timeout(5000).emitWithAck('echo', i).then((x: number) => order.push(x))));
    assert.equal(order, Array.from({ length: 20 }, (_, i) => i), 'replies come back in the order sent');
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(echo);
  }
});

test('dropping loses whole messages but keeps the connection', async () => {
  const echo = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: echo.port, rng: rngFromState(3) });
  const s = connect(proxy.url);
  let disconnects = 0;
  s.on('disconnect', () => disconnects++);
  try {
    await connected(s);
    proxy.set({ dropRate: 0.5 });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => s.timeout(800).emitWithAck('echo', i)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    // Each call survives with probability 0.25 (request and ack both kept).
    assert.ok(ok.length > 20 && ok.length < 100, `${ok.length} of 200 calls answered`);
    for (const r of ok) assert.type((r as PromiseFulfilledResult<number>).value, 'number');
    assert.ok(proxy.stats.dropped > 100, `${proxy.stats.dropped} dropped`);
    proxy.clear();
    assert.is(await s.timeout(1000).emitWithAck('echo', 'after'), 'after');
    assert.is(disconnects, 0, 'the connection never broke');
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(echo);
  }
});

test('a hold delivers nothing until lifted, then everything in order', async () => {
  const echo = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: echo.port, rng: rngFromState(4) });
  const s = connect(proxy.url);
  try {
    await connected(s);
    proxy.set({ hold: true });
    const before = echo.received;
    for (let i = 0; i < 5; i++) s.emit('note', i);
    const answer = s.timeout(5000).emitWithAck('echo', 'held');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(echo.received, before, 'nothing reached the server during the hold');
    // A new connection during the hold gets no answer either.
    const late = connect(proxy.url);
    await new Promise((r) => setTimeout(r, 300));
    assert.not.ok(late.connected, 'a new connection is not served during the hold');
    proxy.set({ hold: false });
    assert.is(await answer, 'held');
    assert.is(echo.received, before + 6);
    await connected(late);
    late.close();
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(echo);
  }
});

test('reset cuts the connection and the client reconnects through the proxy', async () => {
  const echo = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: echo.port, rng: rngFromState(5) });
  const s = connect(proxy.url);
  try {
    await connected(s);
    const lost = new Promise<void>((r) => s.once('disconnect', () => r()));
    assert.ok(proxy.reset() >= 1);
    await lost;
    await connected(s);
    assert.is(await s.timeout(1000).emitWithAck('echo', 'again'), 'again');
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(echo);
  }
});

test('after setTarget new connections reach the component on its new port', async () => {
  const a = await startEcho();
  const b = await startEcho();
  const proxy = await FaultProxy.start({ targetPort: a.port, rng: rngFromState(6) });
  const s = connect(proxy.url);
  try {
    await connected(s);
    await s.timeout(1000).emitWithAck('echo', 1);
    assert.is(a.received, 1);
    await stopEcho(a); // the component dies
    proxy.setTarget(b.port);
    await until(() => s.connected && b.io.sockets.sockets.size > 0, 5000, 'reconnection to the new port');
    assert.is(await s.timeout(1000).emitWithAck('echo', 2), 2);
    assert.is(b.received, 1);
  } finally {
    s.close();
    await proxy.close();
    await stopEcho(b);
  }
});

test('the splitter recognises masked and unmasked socket.io frames, fragmented ones included', () => {
  const frame = (payload: string, opts: { mask?: boolean; fin?: boolean; opcode?: number } = {}) => {
    const p = Buffer.from(payload);
    const head = [((opts.fin ?? true) ? 0x80 : 0) | (opts.opcode ?? 1), (opts.mask ? 0x80 : 0) | p.length];
    const mask = Buffer.from([1, 2, 3, 4]);
    const body = opts.mask ? Buffer.from(p.map((b, i) => b ^ mask[i % 4]!)) : p;
    return Buffer.concat([Buffer.from(head), opts.mask ? mask : Buffer.alloc(0), body]);
  };
  const sp = new WsSplitter();
  const head = Buffer.from('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  const stream = Buffer.concat([
    head,
    frame('40', { mask: true }),
    frame('42["x",1]', { mask: true }),
    frame('2', { mask: true }),
    frame('431[1]', { mask: true }),
    frame('42["y",', { mask: true, fin: false }),
    frame('2]', { mask: true, opcode: 0 }),
  ]);
  // Fed byte by byte: units must come out whole.
  const units = [];
  for (const b of stream) units.push(...sp.push(Buffer.from([b])));
  assert.equal(
    units.map((u) => u.message),
    [false, false, true, false, true, true, true],
  );
  assert.is(Buffer.concat(units.map((u) => u.data)).equals(stream), true, 'bytes pass unchanged');
});

test.run();
