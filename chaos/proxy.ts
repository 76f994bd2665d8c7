/**
 * A fault-injecting TCP proxy that sits in front of one component.
 *
 * The component is started with `--advertise <proxy url>`, so every peer
 * that finds it through the naming service connects through the proxy, and
 * the proxy can delay, hold, drop and cut what flows to and from it.
 *
 * TCP never loses bytes on a live connection, so "message loss" is modelled
 * where it is meaningful: the proxy follows the WebSocket framing (RFC 6455)
 * of socket.io's websocket transport and drops whole frames that carry a
 * socket.io EVENT or ACK (engine.io packet "4", socket.io packet "2" or "3").
 * The byte stream stays well-formed, the connection stays up, and exactly
 * one application message disappears, as a datagram network would lose it.
 * Engine.io heartbeats, handshakes and socket.io CONNECT/DISCONNECT packets
 * are never dropped (losing them is a connection failure, modelled by
 * `reset`).
 *
 * Faults:
 * - `delayMs` + up to `jitterMs`: added to every chunk in both directions,
 *   order preserved (a later chunk never overtakes an earlier one);
 * - `dropRate`: probability that one socket.io message is dropped;
 * - `hold`: a partition. Nothing is forwarded in either direction and new
 *   connections are accepted but get no answer; when the hold is lifted the
 *   held bytes are delivered in order, as TCP retransmission would after a
 *   short partition (socket.io's own timeouts decide what survives it);
 * - `reset()`: every open connection is cut with a TCP reset on both sides.
 *
 * Drop decisions come from the seeded generator given at start; which frame
 * a decision falls on depends on process timing, so only the sequence of
 * decisions is reproducible.
 */
import net from 'node:net';
import type { Rng } from '../src/core/rng.js';

export interface ProxyFaults {
  delayMs: number;
  jitterMs: number;
  dropRate: number;
  hold: boolean;
}

export const NO_FAULTS: Readonly<ProxyFaults> = Object.freeze({ delayMs: 0, jitterMs: 0, dropRate: 0, hold: false });

export interface ProxyStats {
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded (both directions). */
  bytes: number;
  /** socket.io messages seen (EVENT/ACK frames, both directions). */
  messages: number;
  /** socket.io messages dropped. */
  dropped: number;
  /** Connections cut by reset(). */
  resets: number;
}

export interface ProxyOptions {
  /** Where to forward (the component's real port on 127.0.0.1 unless targetHost is given). */
  readonly targetPort: number;
  readonly targetHost?: string | undefined;
  /** Where to listen (default 127.0.0.1, port 0 = any free port). */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly rng: Rng;
  /** A name for log lines. */
  readonly name?: string | undefined;
}

type Item = { readonly at: number; readonly data: Buffer } | { readonly at: number; readonly end: true };

/** One direction of one connection: a delay queue in front of the receiving socket. */
class Pipe {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private ended = false;
  readonly splitter = new WsSplitter();

  constructor(
    private readonly out: net.Socket,
    private readonly proxy: FaultProxy,
  ) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    for (const unit of this.splitter.push(chunk)) {
      if (unit.message) {
        this.proxy.stats.messages++;
        if (this.proxy.decideDrop()) {
          this.proxy.stats.dropped++;
          continue;
        }
      }
      this.enqueue({ at: this.releaseAt(), data: unit.data });
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.enqueue({ at: this.releaseAt(), end: true });
  }

  private releaseAt(): number {
    const f = this.proxy.faults;
    const extra = f.delayMs + (f.jitterMs > 0 ? this.proxy.random() * f.jitterMs : 0);
    // Never overtake what is already queued.
    this.lastAt = Math.max(this.lastAt, Date.now() + extra);
    return this.lastAt;
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    this.pump();
  }

  /** Writes everything due; schedules itself for the rest. Does nothing while the proxy holds. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.proxy.faults.hold) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const item = this.queue.shift()!;
      if (this.out.destroyed) {
        this.queue.length = 0;
        return;
      }
      if ('end' in item) {
        this.out.end();
        // A peer that never closes its side must not keep the connection open.
        setTimeout(() => this.out.destroy(), 1000).unref();
      } else {
        this.proxy.stats.bytes += item.data.length;
        this.out.write(item.data);
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, this.queue[0]!.at - now));
      this.timer.unref();
    }
  }

  /** Held items keep their order; after a hold they are all due at once. */
  release(): void {
    const now = Date.now();
    this.lastAt = Math.min(this.lastAt, now);
    this.pump();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export interface Unit {
  readonly data: Buffer;
  /** True for a frame carrying a socket.io EVENT or ACK (the only frames that may be dropped). */
  readonly message: boolean;
}

/**
 * Splits one direction of a connection into units: the HTTP head as one
 * unit, then (after a WebSocket upgrade) one unit per WebSocket frame;
 * anything else passes through as it comes.
 */
export class WsSplitter {
  private mode: 'head' | 'ws' | 'raw' = 'head';
  private buf: Buffer = Buffer.alloc(0);
  /** Whether the data message in progress (FIN not yet seen) is droppable. */
  private fragmentMessage: boolean | undefined;

  push(chunk: Buffer): Unit[] {
    if (this.mode === 'raw') return [{ data: chunk, message: false }];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Unit[] = [];
    if (this.mode === 'head') {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > 64 * 1024) {
          // Not HTTP as we know it: stop looking.
          this.mode = 'raw';
          out.push({ data: this.buf, message: false });
          this.buf = Buffer.alloc(0);
        }
        return out;
      }
      const head = this.buf.subarray(0, end + 4);
      const text = head.toString('latin1');
      const firstLine = text.slice(0, text.indexOf('\r\n'));
      const upgrade = /^upgrade:\s*websocket\s*$/im.test(text);
      // A request asking to upgrade, or the server's 101 answer.
      this.mode = upgrade && (/^GET /.test(firstLine) || /^HTTP\/1\.1 101/.test(firstLine)) ? 'ws' : 'raw';
      out.push({ data: head, message: false });
      this.buf = this.buf.subarray(end + 4);
      if (this.mode === 'raw') {
        if (this.buf.length > 0) out.push({ data: this.buf, message: false });
        this.buf = Buffer.alloc(0);
        return out;
      }
    }
    // WebSocket frames.
    for (;;) {
      const f = frameLength(this.buf);
      if (f === undefined || this.buf.length < f.total) break;
      const frame = this.buf.subarray(0, f.total);
      this.buf = this.buf.subarray(f.total);
      out.push({ data: frame, message: this.classify(frame, f) });
    }
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }

  private classify(frame: Buffer, f: FrameInfo): boolean {
    const fin = (frame[0]! & 0x80) !== 0;
    const opcode = frame[0]! & 0x0f;
    if (opcode >= 8) return false; // control frames: ping, pong, close
    if (opcode === 0) {
      // Continuation: same decision as the message's first frame.
      const m = this.fragmentMessage ?? false;
      if (fin) this.fragmentMessage = undefined;
      return m;
    }
    let message = false;
    if (opcode === 1 && f.payloadLength >= 2) {
      const p0 = frame[f.payloadOffset]! ^ (f.mask ? f.mask[0]! : 0);
      const p1 = frame[f.payloadOffset + 1]! ^ (f.mask ? f.mask[1]! : 0);
      // engine.io "4" (message) carrying socket.io "2" (EVENT) or "3" (ACK).
      message = p0 === 0x34 && (p1 === 0x32 || p1 === 0x33);
    }
    if (!fin) this.fragmentMessage = message;
    return message;
  }
}

interface FrameInfo {
  readonly total: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  readonly mask: Buffer | undefined;
}

/** The length of the frame at the start of buf, or undefined if its header is incomplete. */
function frameLength(buf: Buffer): FrameInfo | undefined {
  if (buf.length < 2) return undefined;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  let mask: Buffer | undefined;
  if (masked) {
    if (buf.length < off + 4) return undefined;
    mask = buf.subarray(off, off + 4);
    off += 4;
  }
  return { total: off + len, payloadOffset: off, payloadLength: len, mask };
}

interface Conn {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly c2s: Pipe;
  readonly s2c: Pipe;
}

export class FaultProxy {
  readonly stats: ProxyStats = { connections: 0, open: 0, bytes: 0, messages: 0, dropped: 0, resets: 0 };
  faults: ProxyFaults = { ...NO_FAULTS };
  private readonly conns = new Set<Conn>();
  private targetPort: number;
  private readonly targetHost: string;
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    private readonly rng: Rng,
    readonly name: string,
    o: ProxyOptions,
  ) {
    this.targetPort = o.targetPort;
    this.targetHost = o.targetHost ?? '127.0.0.1';
  }

  static async start(o: ProxyOptions): Promise<FaultProxy> {
    const server = net.createServer();
    const proxy = new FaultProxy(server, o.rng, o.name ?? 'proxy', o);
    server.on('connection', (client) => proxy.accept(client));
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as net.AddressInfo).address;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Where new connections go from now on (a restarted component listens on a new port). */
  setTarget(port: number): void {
    this.targetPort = port;
  }

  get target(): number {
    return this.targetPort;
  }

  /** Changes the faults; lifting a hold delivers what was held, in order. */
  set(f: Partial<ProxyFaults>): void {
    const wasHeld = this.faults.hold;
    this.faults = { ...this.faults, ...f };
    if (wasHeld && !this.faults.hold) {
      for (const c of this.conns) {
        c.c2s.release();
        c.s2c.release();
      }
    }
  }

  /** No faults at all (held bytes are delivered). */
  clear(): void {
    this.set({ ...NO_FAULTS });
  }

  /** Cuts every open connection with a TCP reset on both sides. */
  reset(): number {
    let n = 0;
    for (const c of [...this.conns]) {
      this.kill(c);
      n++;
    }
    this.stats.resets += n;
    return n;
  }

  decideDrop(): boolean {
    return this.faults.dropRate > 0 && this.rng.next() < this.faults.dropRate;
  }

  random(): number {
    return this.rng.next();
  }

  private accept(client: net.Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    this.stats.connections++;
    client.setNoDelay(true);
    const upstream = net.connect({ port: this.targetPort, host: this.targetHost });
    upstream.setNoDelay(true);
    const conn: Conn = { client, upstream, c2s: new Pipe(upstream, this), s2c: new Pipe(client, this) };
    this.conns.add(conn);
    this.stats.open = this.conns.size;
    client.on('data', (d: Buffer) => conn.c2s.push(d));
    upstream.on('data', (d: Buffer) => conn.s2c.push(d));
    // An orderly close travels through the queue like data (a partition delays it too).
    client.on('end', () => conn.c2s.end());
    upstream.on('end', () => conn.s2c.end());
    // A failure (reset, refused: the component is down) is passed on at once.
    client.on('error', () => this.kill(conn));
    upstream.on('error', () => this.kill(conn));
    const closed = () => {
      if (client.destroyed && upstream.destroyed) this.forget(conn);
    };
    client.on('close', closed);
    upstream.on('close', closed);
  }

  private kill(c: Conn): void {
    c.c2s.stop();
    c.s2c.stop();
    for (const s of [c.client, c.upstream]) {
      if (s.destroyed) continue;
      if (typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
    this.forget(c);
  }

  private forget(c: Conn): void {
    if (this.conns.delete(c)) this.stats.open = this.conns.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns]) this.kill(c);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
