/**
 * The naming service's socket.io driver: receives requests, feeds them to the
 * pure Registry (registry.ts), and sends its events to watchers. Everything
 * that decides something lives in the registry; this file only moves bytes
 * and time.
 *
 * A member is bound to the socket it registered on: when the socket
 * disconnects the member leaves at once; when its heartbeats stop (a hung
 * process, a half-open connection) its lease runs out and it leaves, and the
 * socket is closed so that a process that wakes up reconnects and registers
 * again.
 */
import { roleOf } from '../core/secret.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { Config } from '../core/config.js';
import type { MemberKind, NamingEmit, NamingListen, Reply } from '../core/protocol.js';
import { memberKindSchema, memberNameSchema, metaSchema, urlSchema } from '../core/schemas.js';
import { errorReply, handle, type Logger, type Role } from '../core/sockets.js';
import { OpError } from '../core/ops.js';
import { Registry, type RegistryEvent, type RegistryResult } from './registry.js';

// ---- request schemas (naming only) -----------------------------------------

export const registerRequestSchema = z.object({ kind: memberKindSchema, name: memberNameSchema, url: urlSchema, meta: metaSchema });
export const updateRequestSchema = z.object({ meta: metaSchema });
export const heartbeatRequestSchema = z.object({});
export const lookupRequestSchema = z.object({ name: memberNameSchema });
export const listRequestSchema = z.object({ kind: memberKindSchema.optional() });
export const watchRequestSchema = listRequestSchema;

const EVENTS: ReadonlySet<string> = new Set<keyof NamingListen>(['register', 'update', 'heartbeat', 'lookup', 'list', 'watch']);

export interface NamingOptions {
  host?: string | undefined;
  port?: number | undefined;
  /** The URL others should use (default http://<host>:<bound port>). */
  advertise?: string | undefined;
  /** Cluster secret: when set, register and update need it in the handshake `auth.secret`. */
  secret?: string | undefined;
  config: Config;
  log: Logger;
}

export interface NamingHandle {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface SocketData {
  role: Role;
}

type NamingSocket = Socket<NamingListen, NamingEmit, Record<string, never>, SocketData>;

const roomOf = (kind: MemberKind | undefined) => `watch:${kind ?? 'all'}`;

export async function startNaming(o: NamingOptions): Promise<NamingHandle> {
  const { config, log } = o;
  const host = o.host ?? '127.0.0.1';
  const secret = o.secret ? o.secret : undefined;
  const registry = new Registry({ leaseMs: config.leaseMs });

  const http = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('hearsay naming service: socket.io only\n');
  });
  const io = new Server<NamingListen, NamingEmit, Record<string, never>, SocketData>(http, {
    maxHttpBufferSize: config.maxMessageBytes,
    serveClient: false,
    cors: { origin: false },
    // Lets members notice a hung naming service within seconds; members are
    // judged by their leases, not by these pings.
    pingInterval: 2000,
    pingTimeout: 3000,
  });

  /** Set while shutting down: members are not leaving, the service is, so watchers are told nothing. */
  let shuttingDown = false;

  /** Sends the registry's events to the watchers and closes the sockets of expired members. */
  const publish = (events: readonly RegistryEvent[]) => {
    if (shuttingDown) return;
    for (const ev of events) {
      const m = ev.member;
      const rooms = [roomOf(undefined), roomOf(m.kind)];
      if (ev.type === 'left') {
        log.info(`${m.kind} ${m.name} left (${ev.reason})`);
        io.to(rooms).emit('left', m);
        if (ev.reason === 'expired') {
          const s = io.sockets.sockets.get(ev.owner);
          if (s) s.disconnect(true);
        }
      } else {
        if (ev.type === 'joined') log.info(`${m.kind} ${m.name} joined at ${m.url}`);
        io.to(rooms).emit(ev.type, m);
      }
    }
  };

  /** Turns a registry result into a reply, publishing its events either way. */
  const settle = <T extends object>(r: RegistryResult<unknown>, ok: () => T): Reply<T> => {
    publish(r.events);
    if (!r.ok) throw new OpError(r.code, r.message);
    return { ok: true, ...ok() } as Reply<T>;
  };

  // Leases: a sweep every `sweepMs`. If the sweep itself ran late (this
  // process was stalled), the members' heartbeats are still queued unread, so
  // every lease is extended by the stall instead of expiring everyone.
  const sweepMs = Math.max(10, Math.min(50, Math.floor(config.leaseMs / 10)));
  let lastSweep = performance.now();
  const sweep = setInterval(() => {
    try {
      const now = performance.now();
      const late = now - lastSweep - sweepMs;
      lastSweep = now;
      if (late > Math.max(200, config.heartbeatMs)) {
        log.warn(`the naming service stalled for ${Math.round(late)} ms; extending every lease by as much`);
        registry.postpone(late);
        return;
      }
      publish(registry.expire(now));
    } catch (e) {
      log.error(`lease sweep failed: ${(e as Error).message}`);
    }
  }, sweepMs);

  io.on('connection', (socket: NamingSocket) => {
    socket.data.role = roleOf(secret, socket.handshake.auth);
    const peer = () => {
      const m = registry.memberOf(socket.id);
      return `${socket.handshake.address}${m ? ` (${m.kind} ${m.name})` : ''}`;
    };
    const role = () => socket.data.role;
    const common = { log, peer, role };

    socket.on(
      'register',
      handle({
        ...common,
        event: 'register',
        schema: registerRequestSchema,
        requires: 'member',
        run: (req) => {
          const r = registry.register(socket.id, req, performance.now(), Date.now());
          return settle(r, () => ({ member: r.ok ? r.value : null, members: registry.list() }));
        },
      }),
    );
    socket.on(
      'update',
      handle({
        ...common,
        event: 'update',
        schema: updateRequestSchema,
        requires: 'member',
        run: (req) => settle(registry.update(socket.id, req.meta, performance.now()), () => ({})),
      }),
    );
    socket.on(
      'heartbeat',
      handle({
        ...common,
        event: 'heartbeat',
        schema: heartbeatRequestSchema,
        run: () => settle(registry.heartbeat(socket.id, performance.now()), () => ({})),
      }),
    );
    socket.on(
      'lookup',
      handle({
        ...common,
        event: 'lookup',
        schema: lookupRequestSchema,
        run: (req) => {
          publish(registry.expire(performance.now()));
          return { ok: true, member: registry.lookup(req.name) };
        },
      }),
    );
    socket.on(
      'list',
      handle({
        ...common,
        event: 'list',
        schema: listRequestSchema,
        run: (req) => {
          publish(registry.expire(performance.now()));
          return { ok: true, members: registry.list(req.kind) };
        },
      }),
    );
    socket.on(
      'watch',
      handle({
        ...common,
        event: 'watch',
        schema: watchRequestSchema,
        run: (req) => {
          publish(registry.expire(performance.now()));
          // Joining and answering in the same turn: every event after this
          // list reaches the watcher after the list itself.
          void socket.join(roomOf(req.kind));
          return { ok: true, members: registry.list(req.kind) };
        },
      }),
    );
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && EVENTS.has(event)) return;
      try {
        log.warn(`unknown event ${JSON.stringify(event)?.slice(0, 80)} from ${peer()}`);
        const ack = args[args.length - 1];
        if (typeof ack === 'function') ack(errorReply('BAD_REQUEST', `unknown event ${String(event).slice(0, 80)}`));
      } catch (e) {
        log.error(`answering an unknown event failed: ${(e as Error).message}`);
      }
    });
    socket.on('disconnect', (reason) => {
      try {
        publish(registry.disconnect(socket.id));
      } catch (e) {
        log.error(`disconnect of ${socket.id} (${reason}) failed: ${(e as Error).message}`);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    http.once('error', onError);
    http.listen(o.port ?? 0, host, () => {
      http.off('error', onError);
      resolve();
    });
  }).catch((e: unknown) => {
    clearInterval(sweep);
    void io.close();
    throw e;
  });
  http.on('error', (e) => log.error(`http server: ${e.message}`));

  const port = (http.address() as AddressInfo).port;
  const url = o.advertise ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info(`listening on ${host}:${port}${secret ? ' (cluster secret required to register)' : ''}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        shuttingDown = true;
        clearInterval(sweep);
        io.close(() => resolve());
      });
      return closing;
    },
  };
}
