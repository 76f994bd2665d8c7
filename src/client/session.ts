/**
 * A client session: one user talking to the service through some front end.
 *
 * - Front ends are found through the naming service (watch kind 'frontend');
 *   the session connects to `preferFrontend` if it is listed, else to a
 *   random one.
 * - The session carries its own timestamp `prev`, merged from every reply, and
 *   sends it with every request. Because it lives in the client, switching to
 *   another front end keeps read-your-writes and monotonic reads.
 * - If the front end dies (its connection drops) or a call gets no answer
 *   within config.feRequestTimeoutMs, the session moves to another front end
 *   and retries. Queries are simply asked again. Updates carry a uid chosen
 *   here (`<user>:<random>:<seq>`) and every retry sends the same uid, so
 *   replicas recognise a retry and an update is never applied twice, even when
 *   only its reply was lost.
 * - While the naming service is down the session keeps using the front end it
 *   has (and the list it last saw).
 *
 * - Forced and immediate updates (addMovie, forgetUser) are updates like the
 *   others here: the front end takes them to the primary; NO_PRIMARY comes
 *   back when none could sequence it in time.
 *
 * Events: 'frontend' (switched front end, or lost all), 'naming' (up/down),
 * 'cluster' and 'trace' (after `watch`; re-subscribed after every switch).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import type { Config } from '../core/config.js';
import { updateId, type RequestId, type UpdateId, type UserId } from '../core/ids.js';
import { OpError, type OpErrorCode, type Query, type Update } from '../core/ops.js';
import type { ClientReply, ClusterView, FrontendEmit, FrontendListen, Member, Reply, ReplicaStatus, TraceEvent } from '../core/protocol.js';
import type { Logger } from '../core/sockets.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import { NamingClient } from '../naming/client.js';

export interface SessionOptions {
  naming: string;
  user: UserId;
  secret?: string;
  config: Config;
  log?: Logger;
  preferFrontend?: string;
}

type FeSocket = Socket<FrontendEmit, FrontendListen>;

interface Conn {
  readonly name: string;
  readonly url: string;
  readonly socket: FeSocket;
  /** Resolves with a reason when this connection is lost or given up. */
  readonly lost: Promise<string>;
  drop(why: string): void;
  dropped: boolean;
}

const QUIET: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** Failures that are about the front end, not the request: another front end may do better. */
class FrontendFailure extends Error {
  constructor(
    readonly frontend: string,
    why: string,
  ) {
    super(why);
  }
}

export class Session {
  readonly user: UserId;
  /** The session timestamp: the merge of every timestamp a reply carried. */
  prev: VTS = V.zero();

  private readonly o: SessionOptions;
  private readonly log: Logger;
  private readonly naming: NamingClient;
  private readonly events = new EventEmitter();
  private readonly tag = randomBytes(6).toString('base64url');
  private seq = 0;
  private members: Member[] = [];
  private listed = false;
  private listWaiters: (() => void)[] = [];
  private conn: Conn | undefined;
  private opening: Promise<Conn> | undefined;
  /** Front ends that failed recently: name → time of failure (tried last). */
  private readonly suspects = new Map<string, number>();
  private watching: { trace: boolean } | undefined;
  private closed = false;
  private healTimer: NodeJS.Timeout | undefined;
  private namingUp: boolean | undefined;
  private prefer: string | undefined;

  private constructor(o: SessionOptions) {
    this.o = o;
    this.user = o.user;
    this.log = o.log ?? QUIET;
    this.prefer = o.preferFrontend;
    this.events.setMaxListeners(100);
    this.naming = new NamingClient({ url: o.naming, secret: o.secret, log: this.log, config: o.config });
  }

  /** Finds front ends through naming and connects to one. Rejects with OpError('UNAVAILABLE') if none can be reached in time. */
  static async connect(o: SessionOptions): Promise<Session> {
    const s = new Session(o);
    try {
      await s.start();
      return s;
    } catch (e) {
      await s.close();
      throw e;
    }
  }

  private async start(): Promise<void> {
    this.naming.onConnection((up) => {
      if (this.closed || up === this.namingUp) return;
      this.namingUp = up;
      this.log.info(`naming service ${up ? 'reachable' : 'unreachable'}`);
      this.events.emit('naming', up);
    });
    this.naming.watch('frontend', (list) => this.onMembers(list));
    const deadline = Date.now() + this.o.config.feRequestTimeoutMs;
    await this.waitForList(deadline);
    await this.ensure(deadline);
  }

  // ---- public API -----------------------------------------------------------

  /** Name of the front end in use (undefined while there is none). */
  frontend(): string | undefined {
    return this.conn && !this.conn.dropped ? this.conn.name : undefined;
  }

  /** Front ends the session knows of (from naming). */
  frontends(): readonly Member[] {
    return this.members;
  }

  /** Switches to the named front end now (and prefers it from now on). */
  async useFrontend(name: string): Promise<void> {
    this.prefer = name;
    if (this.conn?.name === name && !this.conn.dropped) return;
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new OpError('UNAVAILABLE', `there is no front end named ${name}; known: ${this.members.map((x) => x.name).join(', ') || 'none'}`);
    this.suspects.delete(name);
    const old = this.conn;
    if (old) {
      this.conn = undefined;
      old.drop(`switching to ${name} on request`);
    }
    await this.ensure(Date.now() + this.o.config.feRequestTimeoutMs);
  }

  async query(q: Query): Promise<ClientReply> {
    const base = this.nextId('q');
    return this.request('query', (attempt) => ({ requestId: `${base}.${attempt}` as RequestId, prev: this.prev, query: q }));
  }

  /** Sends an update; retries (on another front end if needed) with the same uid. */
  async update(op: Update): Promise<ClientReply> {
    const uid: UpdateId = updateId(this.nextId('u'));
    // Every attempt carries the same prev, so all copies of this update depend on the same past.
    const prev = this.prev;
    return this.request('update', (attempt) => ({ requestId: `${uid}.${attempt}` as RequestId, prev, op, uid }));
  }

  /**
   * Adds a movie: a forced update, sequenced by the primary, which gives it
   * the next movie id (the reply's `result`). Retried like any update, with
   * the same uid, so it is never added twice; a title that exists already is
   * answered with the existing movie (`existed`).
   */
  async addMovie(title: string, genres: readonly string[] = []): Promise<ClientReply> {
    return this.update({ kind: 'addMovie', title, genres: [...genres] });
  }

  /** Removes every rating of `userId` on every replica: an immediate update (ordered after every update before it). */
  async forgetUser(userId: UserId): Promise<ClientReply> {
    return this.update({ kind: 'forgetUser', userId });
  }

  /** The cluster as a front end sees it. Throws OpError when no front end answers. */
  async cluster(): Promise<ClusterView> {
    const r = await this.call('cluster', (sock, ms) => sock.timeout(ms).emitWithAck('cluster', {}) as Promise<Reply<{ view: ClusterView }>>);
    if (!r.ok) throw new OpError(r.code, r.message);
    return r.view;
  }

  async setStatus(rm: string, status: ReplicaStatus): Promise<Reply<{ status: ReplicaStatus }>> {
    try {
      return await this.call('setStatus', (sock, ms) => sock.timeout(ms).emitWithAck('setStatus', { rm, status }) as Promise<Reply<{ status: ReplicaStatus }>>);
    } catch (e) {
      if (e instanceof OpError) return { ok: false, code: e.code, message: e.message };
      throw e;
    }
  }

  /** Starts receiving 'cluster' (and, if `trace`, 'trace') events; kept across front-end switches. */
  watch(trace: boolean): void {
    this.watching = { trace };
    const c = this.conn;
    if (c && !c.dropped && c.socket.connected) this.subscribe(c);
    else this.heal();
  }

  on(ev: 'cluster', cb: (v: ClusterView) => void): this;
  on(ev: 'trace', cb: (e: TraceEvent) => void): this;
  on(ev: 'frontend', cb: (name: string | undefined, why: string) => void): this;
  on(ev: 'naming', cb: (up: boolean) => void): this;
  on(ev: string, cb: (...args: never[]) => void): this {
    this.events.on(ev, cb as (...args: unknown[]) => void);
    return this;
  }

  off(ev: 'cluster' | 'trace' | 'frontend' | 'naming', cb: (...args: never[]) => void): this {
    this.events.off(ev, cb as (...args: unknown[]) => void);
    return this;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.healTimer) clearTimeout(this.healTimer);
    for (const w of this.listWaiters.splice(0)) w();
    const c = this.conn;
    this.conn = undefined;
    c?.drop('session closed');
    await this.naming.close().catch(() => {});
    this.events.removeAllListeners();
  }

  // ---- requests -------------------------------------------------------------

  private nextId(kind: string): string {
    return `${this.user}:${this.tag}:${kind}${++this.seq}`;
  }

  /** A query or update with retries; failures come back as `{ok: false}` replies, never as exceptions. */
  private async request<E extends 'query' | 'update'>(event: E, payload: (attempt: number) => Parameters<FrontendListen[E]>[0]): Promise<ClientReply> {
    let attempt = 0;
    try {
      // One event at a time keeps socket.io's typing simple: both take (request, ack).
      const emit = (sock: FeSocket, ms: number): Promise<unknown> =>
        event === 'query'
          ? sock.timeout(ms).emitWithAck('query', payload(++attempt) as Parameters<FrontendListen['query']>[0])
          : sock.timeout(ms).emitWithAck('update', payload(++attempt) as Parameters<FrontendListen['update']>[0]);
      const reply = await this.call(event, emit);
      return this.absorb(reply);
    } catch (e) {
      const code: OpErrorCode = e instanceof OpError ? e.code : 'INTERNAL';
      return { ok: false, code, message: e instanceof Error ? e.message : String(e), tried: [] };
    }
  }

  /** Checks a reply's shape and merges its timestamp into `prev`. */
  private absorb(raw: unknown): ClientReply {
    const r = raw as ClientReply | null;
    if (!r || typeof r !== 'object' || typeof r.ok !== 'boolean') {
      return { ok: false, code: 'INTERNAL', message: 'the front end sent a malformed reply', tried: [] };
    }
    if (!r.ok) {
      return { ok: false, code: r.code, message: String(r.message ?? r.code), tried: Array.isArray(r.tried) ? r.tried : [] };
    }
    try {
      this.prev = V.merge(this.prev, V.parse(r.ts));
    } catch {
      return { ok: false, code: 'INTERNAL', message: 'the front end sent a reply without a valid timestamp', tried: [] };
    }
    return r;
  }

  /**
   * Runs `send` on the current front end; if the front end fails (connection
   * lost, no answer in time) moves to another and runs it again, up to three
   * front ends or twice the request timeout overall. Throws OpError('UNAVAILABLE') when no front end answered.
   */
  private async call<R>(what: string, send: (sock: FeSocket, timeoutMs: number) => Promise<R>): Promise<R> {
    const ms = this.o.config.feRequestTimeoutMs;
    const deadline = Date.now() + 2 * ms;
    const failures: string[] = [];
    for (let round = 0; round < 3; round++) {
      if (this.closed) throw new OpError('UNAVAILABLE', 'the session is closed');
      let c: Conn;
      try {
        c = await this.ensure(Math.max(deadline, Date.now() + 500));
      } catch (e) {
        failures.push((e as Error).message);
        break;
      }
      try {
        return await Promise.race([
          send(c.socket, ms).catch((e: unknown) => {
            throw new FrontendFailure(c.name, /timed? ?out/i.test(String((e as Error)?.message)) ? `no answer within ${ms} ms` : String((e as Error)?.message ?? e));
          }),
          c.lost.then((why) => {
            throw new FrontendFailure(c.name, why);
          }),
        ]);
      } catch (e) {
        if (!(e instanceof FrontendFailure)) throw e;
        failures.push(`${e.frontend}: ${e.message}`);
        this.log.warn(`${what} via ${e.frontend} failed (${e.message}); trying another front end`);
        this.fail(c, e.message);
      }
      if (Date.now() >= deadline) break;
    }
    throw new OpError('UNAVAILABLE', `no front end answered the ${what} (${failures.join('; ') || 'none reachable'})`);
  }

  // ---- front ends -------------------------------------------------------------

  private onMembers(list: Member[]): void {
    if (this.closed) return;
    this.members = list.filter((m) => m.kind === 'frontend');
    this.listed = true;
    for (const w of this.listWaiters.splice(0)) w();
    // A front end that leaves the list is not dropped here: while its connection works it can
    // still serve (naming may be shutting down, or cut off from it); a dead one is noticed by
    // its connection dropping or by a timeout.
    if ((!this.conn || this.conn.dropped) && this.members.length > 0) this.heal();
  }

  /** Waits until naming has told us at least one front end (or the deadline). */
  private async waitForList(deadline: number): Promise<void> {
    while (!this.closed && (!this.listed || this.members.length === 0)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new OpError('UNAVAILABLE', this.listed ? 'no front end is registered with the naming service' : `the naming service at ${this.o.naming} did not answer within ${this.o.config.feRequestTimeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.listWaiters.push(done);
      });
    }
  }

  /** Front ends to try, best first: the preferred one, then healthy ones at random, then those that failed (oldest failure first). */
  private candidates(): Member[] {
    const now = Date.now();
    const quarantine = 2 * this.o.config.leaseMs;
    const healthy: Member[] = [];
    const suspect: Member[] = [];
    for (const m of this.members) {
      const at = this.suspects.get(m.name);
      if (at !== undefined && now - at < quarantine) suspect.push(m);
      else healthy.push(m);
    }
    for (let i = healthy.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [healthy[i], healthy[j]] = [healthy[j]!, healthy[i]!];
    }
    const p = healthy.findIndex((m) => m.name === this.prefer);
    if (p > 0) healthy.unshift(...healthy.splice(p, 1));
    suspect.sort((a, b) => (this.suspects.get(a.name) ?? 0) - (this.suspects.get(b.name) ?? 0));
    return [...healthy, ...suspect];
  }

  /** The current connection, or a new one to the best reachable front end. */
  private ensure(deadline: number): Promise<Conn> {
    const c = this.conn;
    if (c && !c.dropped) return Promise.resolve(c);
    if (!this.opening) {
      this.opening = this.open(deadline).finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  private async open(deadline: number): Promise<Conn> {
    if (this.members.length === 0 && !this.closed) {
      await this.waitForList(deadline).catch(() => {});
    }
    const tried: string[] = [];
    for (const m of this.candidates()) {
      if (this.closed) break;
      const left = deadline - Date.now();
      if (left <= 0 && tried.length > 0) break;
      const perFe = Math.max(300, Math.min(left, 2000));
      try {
        const c = await this.connectTo(m, perFe);
        const before = this.lastAnnounced;
        this.conn = c;
        this.suspects.delete(m.name);
        if (before !== c.name) {
          this.lastAnnounced = c.name;
          const why = before === undefined ? 'connected' : tried.length > 0 ? `switched from ${before} (${tried.join('; ')})` : `switched from ${before}`;
          this.log.info(`using front end ${c.name} at ${c.url} (${why})`);
          this.events.emit('frontend', c.name, why);
        }
        if (this.watching) this.subscribe(c);
        return c;
      } catch (e) {
        tried.push(`${m.name}: ${(e as Error).message}`);
        this.suspects.set(m.name, Date.now());
      }
    }
    const why = this.members.length === 0 ? 'no front end is registered with the naming service' : `no front end reachable (${tried.join('; ')})`;
    if (this.lastAnnounced !== undefined) {
      this.lastAnnounced = undefined;
      this.events.emit('frontend', undefined, why);
    }
    this.heal(500);
    throw new OpError('UNAVAILABLE', why);
  }

  private lastAnnounced: string | undefined;

  private connectTo(m: Member, timeoutMs: number): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const socket: FeSocket = io(m.url, {
        transports: ['websocket'],
        auth: this.o.secret ? { secret: this.o.secret } : {},
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 1000,
        timeout: timeoutMs,
      });
      let lostResolve!: (why: string) => void;
      const lost = new Promise<string>((r) => (lostResolve = r));
      const conn: Conn = {
        name: m.name,
        url: m.url,
        socket,
        lost,
        dropped: false,
        drop: (why: string) => {
          if (conn.dropped) return;
          conn.dropped = true;
          lostResolve(why);
          socket.removeAllListeners();
          socket.io.removeAllListeners();
          socket.disconnect();
        },
      };
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        conn.drop('connect timeout');
        reject(new Error(`no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.on('connect_error', (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.drop('cannot connect');
        reject(new Error(`cannot connect (${e.message})`));
      });
      socket.on('connect', () => {
        if (settled) {
          // Reconnected after a blip: socket.io gives a new server-side socket, so re-subscribe.
          if (this.watching && this.conn === conn) this.subscribe(conn);
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(conn);
      });
      socket.on('disconnect', (reason) => {
        if (!settled || conn.dropped) return;
        // The front end went away (crash, shutdown) or the link broke: move on rather than wait for it.
        this.fail(conn, `connection lost (${reason})`);
      });
      socket.on('cluster', (v) => {
        if (this.conn === conn) this.events.emit('cluster', v);
      });
      socket.on('trace', (ev) => {
        if (this.conn === conn && this.watching?.trace) this.events.emit('trace', ev);
      });
    });
  }

  /** Gives up on a connection and, in the background, moves to another front end. */
  private fail(c: Conn, why: string): void {
    this.suspects.set(c.name, Date.now());
    c.drop(why);
    if (this.conn === c) {
      this.conn = undefined;
      this.log.warn(`front end ${c.name}: ${why}`);
      this.heal();
    }
  }

  /** Reconnects in the background (so watchers keep getting events), retrying until it works or the session closes. */
  private heal(delayMs = 0): void {
    if (this.closed || this.healTimer || (this.conn && !this.conn.dropped)) return;
    this.healTimer = setTimeout(() => {
      this.healTimer = undefined;
      if (this.closed || (this.conn && !this.conn.dropped)) return;
      this.ensure(Date.now() + this.o.config.feRequestTimeoutMs).catch(() => this.heal(Math.min(2000, Math.max(200, delayMs * 2))));
    }, delayMs);
    this.healTimer.unref();
  }

  private subscribe(c: Conn): void {
    const w = this.watching;
    if (!w) return;
    c.socket
      .timeout(this.o.config.feRequestTimeoutMs)
      .emitWithAck('watch', { trace: w.trace })
      .then(
        (r) => {
          if (r.ok && this.conn === c) this.events.emit('cluster', r.view);
          else if (!r.ok) this.log.warn(`watch refused by ${c.name}: ${r.message}`);
        },
        () => {
          /* the connection failure is handled by the disconnect path */
        },
      );
  }
}
