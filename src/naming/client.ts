/**
 * The naming service as seen by replicas, front ends and clients.
 *
 * One socket.io connection, kept open: it reconnects with backoff when the
 * naming service goes away, and after every reconnect it registers this
 * process again (same name and url, latest meta), subscribes every watch
 * again and hands each watcher the full fresh list. Nothing here throws into
 * an event loop: listener bodies are guarded, every request has a timeout,
 * and failures surface as rejected promises of the public methods (OpError)
 * or as log lines.
 */
import { io, type Socket } from 'socket.io-client';
import type { Config } from '../core/config.js';
import { OpError } from '../core/ops.js';
import type { Member, MemberKind, NamingEmit, NamingListen, Reply } from '../core/protocol.js';
import type { Logger } from '../core/sockets.js';

export interface NamingClientOptions {
  url: string;
  secret?: string | undefined;
  log: Logger;
  config: Config;
  /** How long register/lookup/list wait for the naming service to become reachable (default config.feRequestTimeoutMs). */
  connectTimeoutMs?: number | undefined;
  /** How long one request waits for its answer (default 2 × config.leaseMs). */
  requestTimeoutMs?: number | undefined;
  /**
   * After a reconnect, members the watcher knew that are missing from the
   * fresh list stay in it this long (default 2 × leaseMs + 2000) unless they
   * leave explicitly: a restarted naming service starts empty and fills up as
   * members reconnect, and a transient "everyone left" must not reach the
   * watchers. 0 delivers the fresh list as is.
   */
  reconnectGraceMs?: number | undefined;
}

type NamingSocket = Socket<NamingEmit, NamingListen>;

interface Registration {
  readonly kind: MemberKind;
  readonly name: string;
  readonly url: string;
  meta: Record<string, unknown>;
}

interface PendingRegister {
  readonly resolve: (members: Member[]) => void;
  readonly reject: (e: OpError) => void;
  readonly timer: NodeJS.Timeout;
  /** Until then NAME_TAKEN is retried: the holder may be this process's previous life, whose lease is still running. */
  readonly nameWaitUntil: number;
}

interface Watch {
  readonly kind: MemberKind | undefined;
  readonly onChange: (members: Member[]) => void;
  /** What the watcher was last told; null until the current connection delivered a full list. */
  members: Map<string, Member> | null;
  /** The list before the last disconnect, until the new connection delivers one. */
  previous: Map<string, Member> | null;
  /** Members kept from before a reconnect that the naming service has not listed since, with when they are dropped. */
  readonly ghosts: Map<string, number>;
}

const byName = (a: Member, b: Member) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function isMember(m: unknown): m is Member {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return (x.kind === 'frontend' || x.kind === 'replica') && typeof x.name === 'string' && typeof x.url === 'string' && typeof x.meta === 'object' && x.meta !== null;
}

export class NamingClient {
  private readonly socket: NamingSocket;
  private readonly url: string;
  private readonly log: Logger;
  private readonly config: Config;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly reconnectGraceMs: number;

  private closed = false;
  /** Counts connections; a reply from an older connection is ignored. */
  private connGen = 0;
  private up: boolean | undefined;
  private readonly connListeners: ((up: boolean) => void)[] = [];

  private reg: Registration | undefined;
  /** Changes whenever `reg` is replaced or dropped. */
  private regGen = 0;
  private metaVersion = 0;
  /** Which registration the naming service holds for which connection. */
  private registeredFor: { conn: number; reg: number } | undefined;
  private registering = false;
  private everRegistered = false;
  private pending: PendingRegister | undefined;
  private lastRegisterError = 'not connected';
  private nameTakenLogged = false;

  private readonly watches: Watch[] = [];

  private readonly heartbeat: NodeJS.Timeout;
  private heartbeatInFlight = false;
  /** When the naming service last answered anything on this connection (performance.now()). */
  private lastAnswerAt = performance.now();

  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sleepers and connection waiters, woken on connect and on close. */
  private readonly wakers = new Set<() => void>();

  constructor(o: NamingClientOptions) {
    this.url = o.url;
    this.log = o.log;
    this.config = o.config;
    this.connectTimeoutMs = o.connectTimeoutMs ?? o.config.feRequestTimeoutMs;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 2 * o.config.leaseMs;
    this.reconnectGraceMs = o.reconnectGraceMs ?? 2 * o.config.leaseMs + 2000;
    this.socket = io(o.url, {
      transports: ['websocket'],
      // A connection of its own: the naming service ties membership to it.
      forceNew: true,
      auth: o.secret ? { secret: o.secret } : {},
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 2000,
      randomizationFactor: 0.5,
      timeout: this.connectTimeoutMs,
    });
    this.socket.on('connect', () => this.guard('connect', () => this.onConnect()));
    this.socket.on('disconnect', (reason) => this.guard('disconnect', () => this.onDisconnect(reason)));
    this.socket.on('connect_error', (err) => this.guard('connect_error', () => this.onConnectError(err)));
    this.socket.on('joined', (m) => this.guard('joined', () => this.onMemberEvent('joined', m)));
    this.socket.on('updated', (m) => this.guard('updated', () => this.onMemberEvent('updated', m)));
    this.socket.on('left', (m) => this.guard('left', () => this.onMemberEvent('left', m)));
    this.heartbeat = setInterval(() => this.guard('heartbeat', () => this.heartbeatTick()), o.config.heartbeatMs);
  }

  /** true while connected to the naming service. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /**
   * Registers this process and keeps it registered (see the file comment).
   * Resolves with the member list after the first success; rejects with
   * OpError NAME_TAKEN (a live member holds the name), UNAUTHORIZED (wrong or
   * missing cluster secret), UNAVAILABLE (no answer within connectTimeoutMs),
   * or BAD_REQUEST (an invalid name, url or meta).
   */
  register(m: { kind: MemberKind; name: string; url: string; meta: Record<string, unknown> }): Promise<Member[]> {
    if (this.closed) return Promise.reject(new OpError('UNAVAILABLE', 'the naming client is closed'));
    if (this.pending) this.failRegistration(new OpError('UNAVAILABLE', 'superseded by a newer registration'));
    this.reg = { kind: m.kind, name: m.name, url: m.url, meta: { ...m.meta } };
    this.regGen++;
    this.metaVersion++;
    this.lastRegisterError = this.socket.connected ? 'no answer yet' : 'not connected';
    this.nameTakenLogged = false;
    const promise = new Promise<Member[]>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.guard('register deadline', () =>
            this.failRegistration(
              new OpError('UNAVAILABLE', `could not register ${m.name} with the naming service at ${this.url} within ${this.connectTimeoutMs} ms (${this.lastRegisterError})`),
            ),
          ),
        this.connectTimeoutMs,
      );
      this.pending = { resolve, reject, timer, nameWaitUntil: performance.now() + this.config.leaseMs + this.config.heartbeatMs };
    });
    void this.registerLoop();
    return promise;
  }

  /** Replaces this member's meta (fire-and-forget; remembered for re-registration). */
  updateMeta(meta: Record<string, unknown>): void {
    if (this.closed) return;
    if (!this.reg) {
      this.log.warn('naming: updateMeta before register; ignored');
      return;
    }
    this.reg.meta = { ...meta };
    this.metaVersion++;
    if (this.isRegistered()) this.sendUpdate();
    // Otherwise the registration in progress carries the latest meta.
  }

  /**
   * Calls onChange with the full list of members of `kind` (all kinds if
   * undefined), sorted by name: once subscribed, on every join, leave and
   * update, and again after every reconnect. After a reconnect, members
   * missing from the fresh list are kept for reconnectGraceMs (they are
   * probably re-registering with a restarted naming service) and dropped
   * then if they have not come back.
   */
  watch(kind: MemberKind | undefined, onChange: (members: Member[]) => void): void {
    if (this.closed) return;
    const w: Watch = { kind, onChange, members: null, previous: null, ghosts: new Map() };
    this.watches.push(w);
    if (this.socket.connected) void this.subscribe(w, this.connGen);
  }

  async lookup(name: string): Promise<Member | null> {
    await this.waitConnected();
    let r: Reply<{ member: Member | null }>;
    try {
      r = await this.socket.timeout(this.requestTimeoutMs).emitWithAck('lookup', { name });
    } catch {
      throw this.noAnswer('lookup');
    }
    this.answered();
    if (!r.ok) throw new OpError(r.code, r.message);
    return r.member;
  }

  async list(kind?: MemberKind): Promise<Member[]> {
    await this.waitConnected();
    let r: Reply<{ members: Member[] }>;
    try {
      r = await this.socket.timeout(this.requestTimeoutMs).emitWithAck('list', kind === undefined ? {} : { kind });
    } catch {
      throw this.noAnswer('list');
    }
    this.answered();
    if (!r.ok) throw new OpError(r.code, r.message);
    return r.members;
  }

  /**
   * cb(true) on connecting to the naming service, cb(false) on losing it or
   * failing to reach it. If the state is already known, cb hears it right
   * after subscribing (asynchronously).
   */
  onConnection(cb: (up: boolean) => void): void {
    if (this.closed) return;
    this.connListeners.push(cb);
    if (this.up === undefined) return;
    queueMicrotask(() =>
      this.guard('onConnection listener', () => {
        if (!this.closed && this.up !== undefined) cb(this.up);
      }),
    );
  }

  /** Leaves the naming service (closing the connection deregisters this member at once). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.pending) this.failRegistration(new OpError('UNAVAILABLE', 'the naming client was closed'));
    this.wakeAll();
    this.socket.disconnect();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // ---- connection ------------------------------------------------------------

  private onConnect(): void {
    this.connGen++;
    this.registeredFor = undefined;
    this.lastAnswerAt = performance.now();
    this.log.info(`naming: connected to ${this.url}`);
    this.setUp(true);
    for (const w of this.watches) {
      if (w.members) w.previous = w.members;
      w.members = null;
      void this.subscribe(w, this.connGen);
    }
    if (this.reg) void this.registerLoop();
    this.wakeAll();
  }

  private onDisconnect(reason: string): void {
    this.registeredFor = undefined;
    if (this.closed) return;
    this.log.warn(`naming: disconnected from ${this.url} (${reason})`);
    this.lastRegisterError = `disconnected (${reason})`;
    this.setUp(false);
    // socket.io reconnects by itself except after the server closed the
    // connection on purpose (e.g. our lease expired) or we dropped it.
    if (reason === 'io server disconnect') this.reconnectSoon();
  }

  private onConnectError(err: Error): void {
    if (this.closed) return;
    if (this.up !== false) this.log.warn(`naming: cannot reach ${this.url}: ${err.message}; retrying`);
    this.lastRegisterError = `cannot reach it: ${err.message}`;
    this.setUp(false);
    // A refused handshake leaves reconnection to us.
    if (!this.socket.active) this.reconnectSoon();
  }

  private reconnectSoon(): void {
    this.after(200 + Math.random() * 300, () => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    });
  }

  /** Drops a connection that stopped answering and opens a fresh one. */
  private dropConnection(why: string): void {
    this.log.warn(`naming: ${why}; reconnecting`);
    this.registeredFor = undefined;
    this.socket.disconnect();
    this.reconnectSoon();
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    for (const cb of this.connListeners) {
      try {
        cb(up);
      } catch (e) {
        this.log.error(`naming: onConnection listener failed: ${(e as Error).message}`);
      }
    }
  }

  private async waitConnected(): Promise<void> {
    if (this.closed) throw new OpError('UNAVAILABLE', 'the naming client is closed');
    if (this.socket.connected) return;
    const deadline = performance.now() + this.connectTimeoutMs;
    while (!this.socket.connected) {
      const left = deadline - performance.now();
      if (this.closed) throw new OpError('UNAVAILABLE', 'the naming client is closed');
      if (left <= 0) throw new OpError('UNAVAILABLE', `the naming service at ${this.url} is unreachable (${this.lastRegisterError})`);
      await this.sleep(left);
    }
  }

  // ---- registration ------------------------------------------------------------

  private isRegistered(): boolean {
    return this.registeredFor !== undefined && this.registeredFor.conn === this.connGen && this.registeredFor.reg === this.regGen && this.socket.connected;
  }

  /** Registers on the current connection until it succeeds, the registration is dropped, or the connection goes. One at a time. */
  private async registerLoop(): Promise<void> {
    if (this.registering) return;
    this.registering = true;
    let delay = 100;
    try {
      while (!this.closed && this.reg && this.socket.connected && !this.isRegistered()) {
        const reg = this.reg;
        const regGen = this.regGen;
        const conn = this.connGen;
        const version = this.metaVersion;
        let reply: Reply<{ member: Member; members: Member[] }> | undefined;
        try {
          reply = await this.socket.timeout(this.requestTimeoutMs).emitWithAck('register', { kind: reg.kind, name: reg.name, url: reg.url, meta: reg.meta });
        } catch {
          this.lastRegisterError = `no answer within ${this.requestTimeoutMs} ms`;
        }
        if (this.closed) return;
        if (conn !== this.connGen) continue; // that connection is gone, and the registration with it
        if (reply) this.answered();
        if (reply?.ok) {
          if (regGen !== this.regGen) {
            // Registered something the caller has since replaced or given up.
            if (!this.reg) this.dropConnection('a registration that was given up succeeded late');
            continue;
          }
          this.registeredFor = { conn, reg: regGen };
          this.nameTakenLogged = false;
          this.log.info(`naming: ${this.everRegistered ? 'registered again' : 'registered'} as ${reg.kind} ${reg.name} at ${reg.url}`);
          this.everRegistered = true;
          if (this.metaVersion !== version) this.sendUpdate();
          const p = this.pending;
          if (p) {
            this.pending = undefined;
            clearTimeout(p.timer);
            p.resolve(reply.members);
          }
          return;
        }
        if (reply && !reply.ok && regGen === this.regGen) {
          this.lastRegisterError = `${reply.code}: ${reply.message}`;
          if (reply.code === 'NAME_TAKEN') {
            if (this.pending && performance.now() >= this.pending.nameWaitUntil) {
              this.failRegistration(new OpError('NAME_TAKEN', reply.message));
              return;
            }
            if (!this.pending && !this.nameTakenLogged) {
              this.nameTakenLogged = true;
              this.log.warn(`naming: cannot register again: ${reply.message}; retrying`);
            }
          } else if (reply.code !== 'TIMEOUT' && reply.code !== 'UNAVAILABLE' && reply.code !== 'INTERNAL') {
            // UNAUTHORIZED, BAD_REQUEST, TOO_LARGE: retrying will not help the caller now.
            if (this.pending) {
              this.failRegistration(new OpError(reply.code, reply.message));
              return;
            }
            this.log.error(`naming: registering again was refused: ${reply.code}: ${reply.message}`);
            delay = Math.max(delay, 1000);
          }
        }
        await this.sleep(delay * (0.75 + Math.random() * 0.5));
        // Waiting out a possibly stale holder's lease: keep checking at heartbeat pace.
        const nameWait = reply !== undefined && !reply.ok && reply.code === 'NAME_TAKEN' && this.pending !== undefined;
        delay = Math.min(delay * 2, nameWait ? this.config.heartbeatMs : 2000);
      }
    } finally {
      this.registering = false;
    }
  }

  private failRegistration(e: OpError): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    const held = this.registeredFor !== undefined && this.registeredFor.conn === this.connGen;
    this.reg = undefined;
    this.regGen++;
    // A connection still holding an older registration would keep it alive by heartbeats; let it go.
    if (held && !this.closed) this.dropConnection('registration given up');
  }

  private sendUpdate(): void {
    const reg = this.reg;
    if (!reg) return;
    const conn = this.connGen;
    this.socket
      .timeout(this.requestTimeoutMs)
      .emitWithAck('update', { meta: reg.meta })
      .then(
        (r) =>
          this.guard('update reply', () => {
            if (conn !== this.connGen || this.closed) return;
            this.answered();
            if (r.ok) return;
            if (r.code === 'EXPIRED') {
              this.log.warn(`naming: update refused (${r.message}); registering again`);
              this.registeredFor = undefined;
              void this.registerLoop();
            } else {
              this.log.error(`naming: update refused: ${r.code}: ${r.message}`);
            }
          }),
        () => {
          // No answer: the connection is slow or gone. A new connection re-registers with the latest meta.
        },
      );
  }

  /** Drops the members kept over a reconnect that never came back. */
  private expireGhosts(): void {
    const now = performance.now();
    for (const w of this.watches) {
      if (!w.members || w.ghosts.size === 0) continue;
      let changed = false;
      for (const [name, until] of w.ghosts) {
        if (until > now) continue;
        w.ghosts.delete(name);
        changed = w.members.delete(name) || changed;
      }
      if (changed) this.deliver(w);
    }
  }

  private heartbeatTick(): void {
    this.expireGhosts();
    if (this.closed || !this.socket.connected || this.registeredFor?.conn !== this.connGen) return;
    const silent = performance.now() - this.lastAnswerAt;
    if (silent > 2 * this.config.leaseMs + this.config.heartbeatMs) {
      this.dropConnection(`the naming service has not answered for ${Math.round(silent)} ms`);
      return;
    }
    if (this.heartbeatInFlight) return;
    this.heartbeatInFlight = true;
    const conn = this.connGen;
    this.socket
      .timeout(this.config.leaseMs)
      .emitWithAck('heartbeat', {})
      .then(
        (r) =>
          this.guard('heartbeat reply', () => {
            if (conn !== this.connGen || this.closed) return;
            this.answered();
            if (r.ok) return;
            if (r.code === 'EXPIRED') {
              this.log.warn(`naming: lease lost (${r.message}); registering again`);
              this.registeredFor = undefined;
              void this.registerLoop();
            } else {
              this.log.warn(`naming: heartbeat refused: ${r.code}: ${r.message}`);
            }
          }),
        () => {},
      )
      .finally(() => {
        this.heartbeatInFlight = false;
      });
  }

  private answered(): void {
    this.lastAnswerAt = performance.now();
  }

  private noAnswer(what: string): OpError {
    return new OpError('UNAVAILABLE', `the naming service at ${this.url} did not answer ${what} within ${this.requestTimeoutMs} ms`);
  }

  // ---- watches -------------------------------------------------------------------

  private async subscribe(w: Watch, conn: number): Promise<void> {
    let delay = 100;
    while (!this.closed && conn === this.connGen && this.socket.connected) {
      // The list is taken in the acknowledgement callback itself, not after an
      // await: the service sends it before any later joined/left event, and
      // an event decoded in the same turn would otherwise run first and be
      // dropped (the watch has no list yet), losing a member for good.
      const r = await new Promise<Reply<{ members: Member[] }> | undefined>((resolve) => {
        this.socket.timeout(this.requestTimeoutMs).emit('watch', w.kind === undefined ? {} : { kind: w.kind }, (err: Error | null, reply: Reply<{ members: Member[] }>) => {
          if (!err && reply?.ok && !this.closed && conn === this.connGen) this.guard('watch list', () => this.takeList(w, reply.members));
          resolve(err ? undefined : reply);
        });
      });
      if (this.closed || conn !== this.connGen) return; // the next connection subscribes again
      if (r?.ok) return;
      if (r && !r.ok) {
        this.answered();
        this.log.warn(`naming: watch refused: ${r.code}: ${r.message}`);
        if (r.code === 'BAD_REQUEST') return;
      }
      await this.sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }

  private takeList(w: Watch, members: readonly Member[]): void {
    this.answered();
    const fresh = new Map(members.filter(isMember).map((m) => [m.name, m]));
    const now = performance.now();
    if (w.previous && this.reconnectGraceMs > 0) {
      for (const [name, m] of w.previous) {
        if (fresh.has(name)) w.ghosts.delete(name);
        else {
          fresh.set(name, m);
          if (!w.ghosts.has(name)) w.ghosts.set(name, now + this.reconnectGraceMs);
        }
      }
    } else w.ghosts.clear();
    w.previous = null;
    w.members = fresh;
    this.deliver(w);
  }

  private onMemberEvent(type: 'joined' | 'updated' | 'left', m: unknown): void {
    if (!isMember(m)) {
      this.log.warn(`naming: ignoring a malformed ${type} event`);
      return;
    }
    for (const w of this.watches) {
      if (!w.members || (w.kind !== undefined && w.kind !== m.kind)) continue;
      w.ghosts.delete(m.name);
      if (type === 'left') {
        if (!w.members.delete(m.name)) continue;
      } else {
        w.members.set(m.name, m);
      }
      this.deliver(w);
    }
  }

  private deliver(w: Watch): void {
    if (!w.members) return;
    const list = [...w.members.values()].sort(byName);
    try {
      w.onChange(list);
    } catch (e) {
      this.log.error(`naming: watch listener failed: ${(e as Error).message}`);
    }
  }

  // ---- plumbing --------------------------------------------------------------------

  /** Runs a listener body; nothing it throws reaches the event loop. */
  private guard(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log.error(`naming: ${what} failed: ${(e as Error).stack ?? String(e)}`);
    }
  }

  private after(ms: number, f: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.guard('timer', f);
    }, ms);
    this.timers.add(t);
  }

  /** Waits `ms`, or less if the connection comes up or the client closes. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.timers.add(t);
      this.wakers.add(done);
    });
  }

  private wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }
}
