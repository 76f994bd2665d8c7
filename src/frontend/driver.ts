/**
 * The front end process around the pure core (core.ts): it serves clients
 * over socket.io, keeps one connection per replica, feeds the core its
 * inputs (client requests, replica replies, the replica list from naming,
 * clock ticks) and carries out the effects it returns — the same loop as
 * the simulator's runFe/feEffect, over real sockets.
 *
 * It reaches the naming service through a `Directory` (NamingClient in
 * production, see server.ts), so it can be driven without one in tests.
 */
import http from 'node:http';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import type { Config } from '../core/config.js';
import type { ReplicaId, RequestId, UpdateId } from '../core/ids.js';
import { checkQueryShape, checkUpdateShape, OpError, type Query, type Update } from '../core/ops.js';
import type {
  ClientReply,
  ClusterView,
  FeTraceEvent,
  FrontendEmit,
  FrontendListen,
  Member,
  MemberKind,
  PrimaryInfo,
  ReplicaEmit,
  ReplicaListen,
  ReplicaStatus,
  TraceEvent,
} from '../core/protocol.js';
import { roleOf } from '../core/secret.js';
import { handle, type Logger } from '../core/sockets.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import { createFrontend, feStep, type FeEffect, type FeInput, type FeState } from './core.js';
import {
  clientQuerySchema,
  clientUpdateSchema,
  emptySchema,
  parseReplicaMeta,
  parseRmReply,
  parseStatusReply,
  rmTraceEventSchema,
  setStatusSchema,
  watchSchema,
} from './schemas.js';
import { throttle } from './throttle.js';
import { buildClusterView } from './view.js';

/** What the front end needs from the naming service (NamingClient provides it). */
export interface Directory {
  register(m: { kind: MemberKind; name: string; url: string; meta: Record<string, unknown> }): Promise<Member[]>;
  updateMeta(meta: Record<string, unknown>): void;
  watch(kind: MemberKind | undefined, onChange: (members: Member[]) => void): void;
  close(): Promise<void>;
}

export interface FrontendOptions {
  name: string;
  naming: string;
  host?: string;
  port?: number;
  advertise?: string;
  config: Config;
  secret?: string;
  log: Logger;
}

export interface FrontendHandle {
  readonly url: string;
  readonly name: string;
  close(): Promise<void>;
}

/** Client-facing knobs that are not in Config. */
const TICK_MS = 20;
/** Most FrontendMeta publications per second: one per 200 ms. */
const META_MIN_INTERVAL_MS = 200;
/** Most cluster views pushed to watchers per second: one per 100 ms. */
const VIEW_MIN_INTERVAL_MS = 100;
const WATCH_ROOM = 'watch';
const TRACE_ROOM = 'trace';

type FeSocket = Socket<FrontendListen, FrontendEmit>;
type ChoseTraceEvent = Extract<FeTraceEvent, { kind: 'chose' }>;
type RmSocket = ClientSocket<ReplicaEmit, ReplicaListen>;

interface RmConn {
  readonly name: string;
  readonly url: string;
  id: ReplicaId;
  readonly socket: RmSocket;
  /** Trace subscription asked for on the current connection. */
  subscribed: boolean;
}

interface ClientCall {
  readonly socketId: string;
  readonly requestId: RequestId;
  readonly resolve: (r: ClientReply) => void;
  readonly timer: NodeJS.Timeout;
}

export async function startFrontendWith(o: FrontendOptions, directory: Directory): Promise<FrontendHandle> {
  const { config, log, name } = o;
  const host = o.host ?? '127.0.0.1';
  const rmCallMs = config.rmRequestTimeoutMs + 500;
  // The client gives up feRequestTimeoutMs after sending; answer a little before, so the answer arrives.
  const clientDeadlineMs = config.feRequestTimeoutMs - Math.min(250, config.feRequestTimeoutMs / 5);
  // Update ids this process makes must never repeat, not even after a restart under the same name.
  const incarnation = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  let uidSeq = 0;

  const core: FeState = createFrontend(
    name,
    { rmRequestTimeoutMs: config.rmRequestTimeoutMs, forcedRetryMs: config.forcedRetryMs, forcedDeadlineMs: config.forcedDeadlineMs },
    Date.now(),
    (Math.random() * 2 ** 32) >>> 0,
  );
  const calls = new Map<RequestId, ClientCall>();
  const conns = new Map<string, RmConn>();
  const byId = new Map<ReplicaId, RmConn>();
  let members: Member[] = [];
  let url = '';
  let closed = false;

  const httpServer = http.createServer();
  const io = new Server<FrontendListen, FrontendEmit>(httpServer, {
    maxHttpBufferSize: config.maxMessageBytes,
    serveClient: false,
    cors: { origin: false },
  });

  // ---- outputs to watchers ------------------------------------------------

  const roomSize = (room: string) => io.sockets.adapter.rooms.get(room)?.size ?? 0;
  const tracing = () => roomSize(TRACE_ROOM) > 0;
  const emitTrace = (ev: TraceEvent) => {
    io.to(TRACE_ROOM).emit('trace', ev);
  };

  const view = (): ClusterView => buildClusterView({ members, via: name, at: Date.now(), self: { url, prev: core.prev } });
  const viewPush = throttle(
    () => {
      if (roomSize(WATCH_ROOM) > 0) io.to(WATCH_ROOM).emit('cluster', view());
    },
    VIEW_MIN_INTERVAL_MS,
    (e) => log.error(`pushing the cluster view failed: ${String(e)}`),
  );
  const metaPush = throttle(
    () => directory.updateMeta({ prev: core.prev }),
    META_MIN_INTERVAL_MS,
    (e) => log.error(`publishing the front end meta failed: ${String(e)}`),
  );

  // ---- the core loop ------------------------------------------------------

  const run = (input: FeInput): void => {
    const before = core.prev;
    let effects: FeEffect[];
    try {
      effects = feStep(core, input);
    } catch (e) {
      log.error(`front end core failed on ${input.type}: ${(e as Error).stack ?? String(e)}`);
      return;
    }
    for (const e of effects) {
      try {
        effect(e);
      } catch (err) {
        log.error(`carrying out ${e.type} failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (before !== core.prev && !V.equals(before, core.prev)) {
      metaPush.schedule();
      viewPush.schedule();
    }
  };

  /** The client's own request id for an internal one (`<socket id>:<request id>`). */
  const clientRequestId = (internal: RequestId): RequestId => calls.get(internal)?.requestId ?? (internal.slice(internal.indexOf(':') + 1) as RequestId);

  const effect = (e: FeEffect): void => {
    switch (e.type) {
      case 'sendQuery':
        sendToReplica(e.rm, e.rmRequestId, 'query', { requestId: e.rmRequestId as RequestId, prev: e.prev, query: e.query });
        return;
      case 'sendUpdate':
        sendToReplica(e.rm, e.rmRequestId, 'update', {
          requestId: e.rmRequestId as RequestId,
          uid: e.uid,
          prev: e.prev,
          op: e.op,
          issuedAt: e.issuedAt,
          copies: [...e.copies],
        });
        return;
      case 'reply': {
        const call = calls.get(e.requestId);
        if (tracing()) {
          const ok = e.reply.ok;
          emitTrace({
            kind: 'reply',
            fe: name,
            requestId: clientRequestId(e.requestId),
            ok,
            ts: e.reply.ok ? e.reply.ts : undefined,
            feprev: core.prev,
            at: Date.now(),
          });
        }
        if (!call) return; // the client left, or the safety net already answered
        calls.delete(e.requestId);
        clearTimeout(call.timer);
        call.resolve(e.reply);
        return;
      }
      case 'chose':
        if (tracing()) {
          // A forced/immediate update also says it went to the primary, and on what grounds.
          const ev: ChoseTraceEvent = {
            kind: 'chose',
            fe: name,
            requestId: clientRequestId(e.requestId),
            chosen: e.chosen,
            retry: e.retry,
            at: Date.now(),
            ...(e.reason !== undefined ? { reason: e.reason } : {}),
            ...(e.term !== undefined ? { term: e.term } : {}),
          };
          emitTrace(ev);
        }
        return;
    }
  };

  function sendToReplica(rm: ReplicaId, rmRequestId: string, kind: 'query', req: Parameters<ReplicaListen['query']>[0]): void;
  function sendToReplica(rm: ReplicaId, rmRequestId: string, kind: 'update', req: Parameters<ReplicaListen['update']>[0]): void;
  function sendToReplica(rm: ReplicaId, rmRequestId: string, kind: 'query' | 'update', req: Parameters<ReplicaListen['query' | 'update']>[0]): void {
    const conn = byId.get(rm);
    // Not connected: the core's deadline moves the request to another replica.
    if (!conn || !conn.socket.connected) return;
    const call =
      kind === 'query'
        ? conn.socket.timeout(rmCallMs).emitWithAck('query', req as Parameters<ReplicaListen['query']>[0])
        : conn.socket.timeout(rmCallMs).emitWithAck('update', req as Parameters<ReplicaListen['update']>[0]);
    call.then(
      (raw: unknown) => onRmReply(rmRequestId, rm, kind, raw),
      () => {
        // Timed out or disconnected: the core's own deadline retries elsewhere.
      },
    );
  }

  const onRmReply = (rmRequestId: string, rm: ReplicaId, kind: 'query' | 'update', raw: unknown): void => {
    if (closed) return;
    const reply = parseRmReply(kind, raw);
    const internal = core.byRmRequest.get(rmRequestId);
    if (internal !== undefined && tracing()) {
      emitTrace({
        kind: 'rmReply',
        fe: name,
        requestId: clientRequestId(internal),
        rm,
        ok: reply.ok,
        ts: reply.ok ? ('valueTS' in reply ? reply.valueTS : reply.ts) : undefined,
        code: reply.ok ? undefined : reply.code,
        at: Date.now(),
      });
    }
    run({ type: 'rmReply', rmRequestId, rm, reply });
  };

  // ---- client requests ----------------------------------------------------

  const startCall = (socket: FeSocket, requestId: RequestId, input: (internal: RequestId) => FeInput, op: string, prev: VTS): Promise<ClientReply> => {
    if (closed) throw new OpError('UNAVAILABLE', `front end ${name} is shutting down`);
    const internal = `${socket.id}:${requestId}` as RequestId;
    if (calls.has(internal)) throw new OpError('BAD_REQUEST', `request id ${requestId} is already in use by a request in progress`);
    return new Promise<ClientReply>((resolve) => {
      const timer = setTimeout(() => {
        if (!calls.delete(internal)) return;
        const tried = core.pending.get(internal)?.tried ?? [];
        resolve({
          ok: false,
          code: 'TIMEOUT',
          message: `front end ${name} got no usable answer from the replicas within ${Math.round(clientDeadlineMs)} ms${tried.length ? ` (tried ${tried.join(', ')})` : ''}`,
          tried: [...tried],
        });
      }, clientDeadlineMs);
      calls.set(internal, { socketId: socket.id, requestId, resolve, timer });
      if (tracing()) emitTrace({ kind: 'request', fe: name, requestId, op, prev, at: Date.now() });
      run(input(internal));
    });
  };

  const peerOf = (socket: FeSocket) => () => `${socket.handshake.address} (${socket.id})`;

  io.on('connection', (socket: FeSocket) => {
    const peer = peerOf(socket);
    socket.on(
      'query',
      withTried(
        handle({
          event: 'query',
          schema: clientQuerySchema,
          log,
          peer,
          run: (req) => {
            const query = req.query as Query;
            checkQueryShape(query);
            return startCall(
              socket,
              req.requestId,
              (internal) => ({ type: 'clientQuery', from: socket.id, requestId: internal, prev: req.prev, query }),
              describeQuery(query),
              req.prev,
            );
          },
        }),
      ),
    );
    socket.on(
      'update',
      withTried(
        handle({
          event: 'update',
          schema: clientUpdateSchema,
          log,
          peer,
          run: (req) => {
            const op = req.op as Update;
            checkUpdateShape(op);
            const uid = req.uid ?? (`${name}.${incarnation}:${++uidSeq}` as UpdateId);
            return startCall(
              socket,
              req.requestId,
              (internal) => ({ type: 'clientUpdate', from: socket.id, requestId: internal, prev: req.prev, op, uid, issuedAt: Date.now() }),
              describeUpdate(op),
              req.prev,
            );
          },
        }),
      ),
    );
    socket.on('cluster', handle({ event: 'cluster', schema: emptySchema, log, peer, run: () => ({ ok: true as const, view: view() }) }));
    socket.on(
      'watch',
      handle({
        event: 'watch',
        schema: watchSchema,
        log,
        peer,
        run: async (req) => {
          await socket.join(WATCH_ROOM);
          if (req.trace) {
            await socket.join(TRACE_ROOM);
            subscribeAll();
          } else {
            await socket.leave(TRACE_ROOM);
          }
          return { ok: true as const, view: view() };
        },
      }),
    );
    // Changing a replica's status is an operator's act: it needs the cluster
    // secret (bin/main.sh hands it to the client it starts), queries do not.
    const role = roleOf(o.secret, socket.handshake.auth);
    socket.on(
      'setStatus',
      handle({
        event: 'setStatus',
        schema: setStatusSchema,
        log,
        peer,
        requires: 'member',
        role: () => role,
        run: async (req) => setReplicaStatus(req.rm, req.status),
      }),
    );
    socket.on('disconnect', () => {
      // Requests still running finish inside the core; their replies have nowhere to go.
      for (const [internal, call] of calls) {
        if (call.socketId !== socket.id) continue;
        clearTimeout(call.timer);
        calls.delete(internal);
      }
    });
  });

  const setReplicaStatus = async (rm: string, status: ReplicaStatus) => {
    const conn = conns.get(rm) ?? [...conns.values()].find((c) => c.id === rm);
    if (!conn) {
      const known = members
        .filter((m) => m.kind === 'replica')
        .map((m) => m.name)
        .sort();
      throw new OpError('BAD_REQUEST', `there is no replica named "${rm}"; known replicas: ${known.length ? known.join(', ') : 'none registered'}`);
    }
    if (!conn.socket.connected) throw new OpError('UNAVAILABLE', `replica ${conn.name} (${conn.url}) is not reachable from front end ${name}`);
    let raw: unknown;
    try {
      raw = await conn.socket.timeout(rmCallMs).emitWithAck('setStatus', { status });
    } catch {
      throw new OpError('TIMEOUT', `replica ${conn.name} did not answer within ${rmCallMs} ms`);
    }
    const r = parseStatusReply(raw);
    if (r.ok) log.info(`status of ${conn.name} set to ${r.status} by a client`);
    return r;
  };

  // ---- replicas -----------------------------------------------------------

  const subscribe = (c: RmConn): void => {
    if (c.subscribed || !c.socket.connected) return;
    c.subscribed = true;
    c.socket
      .timeout(rmCallMs)
      .emitWithAck('subscribe', {})
      .then(
        (r: unknown) => {
          if ((r as { ok?: unknown } | null)?.ok !== true) {
            c.subscribed = false;
            log.warn(`trace subscription at ${c.name} refused: ${(r as { message?: unknown } | null)?.message ?? 'malformed reply'}`);
          }
        },
        () => {
          c.subscribed = false;
        },
      );
  };
  const subscribeAll = () => {
    for (const c of conns.values()) subscribe(c);
  };

  const open = (memberName: string, memberUrl: string, id: ReplicaId): RmConn => {
    const socket = connect(memberUrl, {
      transports: ['websocket'],
      auth: { secret: o.secret },
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
    }) as RmSocket;
    const c: RmConn = { name: memberName, url: memberUrl, id, socket, subscribed: false };
    let everConnected = false;
    socket.on('connect', () => {
      c.subscribed = false;
      if (closed) return;
      if (everConnected) log.info(`connected to replica ${c.name} again`);
      everConnected = true;
      if (tracing()) subscribe(c);
      feedReplicas();
    });
    socket.on('disconnect', (reason) => {
      c.subscribed = false;
      if (closed || conns.get(c.name) !== c) return;
      log.warn(`lost the connection to replica ${c.name} (${reason}); not choosing it until it is back`);
      // A replica kept only for its live connection goes now.
      if (unlistedSince.has(c.name)) onMembers(members);
      else feedReplicas();
    });
    socket.on('connect_error', () => {
      // Expected while a replica restarts; socket.io retries by itself.
    });
    socket.on(
      'trace',
      handle({
        event: 'trace',
        schema: rmTraceEventSchema,
        log,
        peer: () => c.name,
        run: (ev) => {
          emitTrace(ev);
        },
      }),
    );
    return c;
  };

  /** Registered replicas with a readable meta, by name. */
  let live = new Map<string, { url: string; id: ReplicaId; status: ReplicaStatus; primary?: PrimaryInfo | undefined }>();

  /**
   * Tells the core which replicas it may choose. A replica still recovering
   * its state cannot serve, and one this front end has no connection to (not
   * yet, or no longer) cannot be reached: both count as OFFLINE.
   */
  const feedReplicas = (): void => {
    const list: { id: ReplicaId; status: ReplicaStatus; primary?: PrimaryInfo | undefined }[] = [];
    for (const [n, l] of live) list.push({ id: l.id, status: conns.get(n)?.socket.connected ? l.status : 'OFFLINE', primary: l.primary });
    run({ type: 'replicas', list });
  };

  /**
   * Replicas the naming service stopped listing while our connection to them
   * stays up, and since when. A stalled or restarted naming service expires
   * every lease at once while the replicas are fine: such a replica is kept
   * for a grace period (a dead one closes its connection and goes at once).
   */
  const unlistedSince = new Map<string, number>();
  const unlistedGraceMs = 3 * config.leaseMs;
  let recheck: NodeJS.Timeout | undefined;
  const onMembers = (list: Member[]): void => {
    if (closed) return;
    members = list;
    const previous = live;
    live = new Map();
    for (const m of list) {
      if (m.kind !== 'replica') continue;
      const meta = parseReplicaMeta(m.meta);
      if (!meta) continue;
      live.set(m.name, { url: m.url, id: meta.id, status: meta.phase === 'recovering' ? 'OFFLINE' : meta.status, primary: meta.primary });
    }
    const now = Date.now();
    for (const [n, c] of conns) {
      if (live.has(n)) {
        unlistedSince.delete(n);
        continue;
      }
      const before = previous.get(n);
      if (!before || before.url !== c.url || !c.socket.connected) {
        unlistedSince.delete(n);
        continue;
      }
      const since = unlistedSince.get(n) ?? now;
      if (now - since >= unlistedGraceMs) {
        unlistedSince.delete(n);
        continue;
      }
      if (!unlistedSince.has(n)) log.warn(`naming no longer lists replica ${n}, but its connection is up: keeping it for ${unlistedGraceMs} ms`);
      unlistedSince.set(n, since);
      live.set(n, before);
      if (!recheck) {
        recheck = setTimeout(() => {
          recheck = undefined;
          onMembers(members);
        }, unlistedGraceMs - (now - since) + 10);
        recheck.unref();
      }
    }
    for (const [n, c] of conns) {
      const l = live.get(n);
      if (!l || l.url !== c.url) {
        conns.delete(n);
        c.socket.close();
        log.info(`replica ${n} (${c.url}) left`);
      }
    }
    byId.clear();
    for (const [n, l] of live) {
      let c = conns.get(n);
      if (!c) {
        c = open(n, l.url, l.id);
        conns.set(n, c);
        log.info(`replica ${n} ${l.id} at ${l.url}`);
      }
      c.id = l.id;
      byId.set(l.id, c);
    }
    feedReplicas();
    viewPush.schedule();
  };

  const connectedOrDeadline = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const deadline = Date.now() + ms;
      const check = () => {
        if (closed || Date.now() >= deadline || [...conns.values()].every((c) => c.socket.connected)) {
          resolve();
          return;
        }
        setTimeout(check, 5);
      };
      check();
    });

  // ---- start --------------------------------------------------------------

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(o.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const addr = httpServer.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port ?? 0;
  url = o.advertise ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const ticker = setInterval(() => run({ type: 'tick', now: Date.now() }), TICK_MS);

  const shutdown = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(ticker);
    viewPush.cancel();
    metaPush.cancel();
    for (const [internal, call] of calls) {
      clearTimeout(call.timer);
      calls.delete(internal);
      call.resolve({ ok: false, code: 'UNAVAILABLE', message: `front end ${name} is shutting down; retry on another front end`, tried: [] });
    }
    for (const c of conns.values()) c.socket.close();
    conns.clear();
    byId.clear();
    try {
      await directory.close();
    } catch (e) {
      log.warn(`leaving the naming service failed: ${String(e)}`);
    }
    await io.close();
  };

  try {
    const first = await directory.register({ kind: 'frontend', name, url, meta: { prev: core.prev } });
    onMembers(first);
    directory.watch(undefined, onMembers);
    // Ready means able to serve: give the first connections to the replicas a moment.
    await connectedOrDeadline(config.rmRequestTimeoutMs);
  } catch (e) {
    await shutdown();
    throw e;
  }
  log.info(`front end ${name} serving at ${url}`);

  return {
    url,
    name,
    close: shutdown,
  };
}

/**
 * handle() answers a malformed request with {ok:false, code, message}; a
 * client reply also lists the replicas tried (none, here).
 */
function withTried(listener: (...args: unknown[]) => void): (...args: unknown[]) => void {
  return (...args: unknown[]) => {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (r: unknown) => {
        const x = r as { ok?: unknown; tried?: unknown } | null;
        (last as (r: unknown) => void)(x && x.ok === false && !Array.isArray(x.tried) ? { ...x, tried: [] } : r);
      };
    }
    listener(...args);
  };
}

export function describeQuery(q: Query): string {
  switch (q.kind) {
    case 'avg':
    case 'movie':
      return `${q.kind} movie ${q.movieId}`;
    case 'get':
      return `get user ${q.userId} movie ${q.movieId}`;
    case 'mine':
      return `mine user ${q.userId}`;
    case 'search':
      return `search "${q.words.slice(0, 40)}"${q.genre ? ` genre ${q.genre}` : ''}`;
  }
}

export function describeUpdate(u: Update): string {
  switch (u.kind) {
    case 'rate':
      return `rate user ${u.userId} movie ${u.movieId} ${u.rating}`;
    case 'delete':
      return `delete user ${u.userId} movie ${u.movieId}`;
    case 'addMovie':
      return `add-movie "${String(u.title).slice(0, 60)}"`;
    case 'forgetUser':
      return `forget-user ${u.userId}`;
  }
}
