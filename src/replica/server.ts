/**
 * The replica manager process: a socket.io server around the driver
 * (driver.ts), which runs the pure replica core on a sql.js store.
 *
 * Start-up, in order:
 * 1. Load the data file (its bytes stay in memory: installing a peer's
 *    snapshot re-opens a fresh database from them).
 * 2. Listen.
 * 3. Pick a fresh incarnation id `<name>.<epoch>` (a restarted replica has
 *    lost its memory and must not reuse counters of its previous life) and
 *    register with the naming service, kind 'replica', meta = ReplicaMeta.
 * 4. Create the core: peers = the incarnation ids of the other registered
 *    replicas; fresh (serve at once from the data file) when there are none,
 *    otherwise recover first from a peer's snapshot.
 * 5. Watch the replicas: joins and leaves become peerJoined / peerLeft
 *    inputs, and one socket.io connection is kept per live peer.
 *
 * Before all that, with a state folder, the primary's durable state (term,
 * vote, forced log) is read from `<state-dir>/<name>.primary.json`
 * (durable.ts); a corrupt file stops the start with an error naming it.
 *
 * Then: a tick every TICK_MS, meta published to naming on change (at most
 * ten times a second; a change of lastGossipAt alone at most once a second;
 * a change of the primary's role, term or leader at once, or as soon as the
 * ten-a-second limit allows), status changes as status.ts describes.
 *
 * Events (src/core/protocol.ts ReplicaListen), each through `handle()`:
 * query, update (clients: front ends); peer, introspect, setStatus,
 * subscribe (cluster members: need the secret when one is configured).
 */
import { randomBytes } from 'node:crypto';
import { roleOf } from '../core/secret.js';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { z } from 'zod';
import type { Config } from '../core/config.js';
import { makeReplicaId, type ReplicaId } from '../core/ids.js';
import { OpError } from '../core/ops.js';
import type { Introspection, Member, PrimaryInfo, ReplicaEmit, ReplicaListen, ReplicaMeta, ReplicaStatus, RmTraceEvent } from '../core/protocol.js';
import {
  memberNameSchema,
  peerMessageSchema,
  querySchema,
  replicaIdSchema,
  requestIdSchema,
  statusSchema,
  updateIdSchema,
  updateSchema,
  vtsSchema,
} from '../core/schemas.js';
import { errorReply, handle, type Logger, type Role } from '../core/sockets.js';
import * as V from '../core/vts.js';
import { NamingClient } from '../naming/client.js';
import { sqlJs } from '../data/schema.js';
import type { Durable } from './core/primary.js';
import type { PeerMessage } from './core/types.js';
import { durableFile, openDurable, type DurableStore } from './durable.js';
import { ReplicaDriver } from './driver.js';
import { StatusController } from './status.js';
import { SqliteStore } from './store/sqlite-store.js';

export interface ReplicaOptions {
  name: string;
  /** URL of the naming service. */
  naming: string;
  /** The data file every replica starts from (e.g. data/data.sqlite). */
  dataFile: string;
  host?: string;
  port?: number;
  advertise?: string;
  config: Config;
  secret?: string;
  log: Logger;
  /** Random status changes; default config.randomStatus. */
  randomStatus?: boolean;
  /**
   * Names of the replicas that elect the primary; the same list on every
   * replica, this one's own name included for it to take part. Empty or
   * absent: forced and immediate updates are refused (NO_PRIMARY).
   */
  voters?: readonly string[];
  /**
   * Folder for the primary's durable state (`<name>.primary.json`), created
   * if missing. Absent: the state lives in memory only, and a restart may
   * forget a vote (unsafe; meant for throw-away runs).
   */
  stateDir?: string;
  /**
   * Called when the replica's state is broken (the core threw): the replica
   * has stopped serving. Default: exit the process with code 70.
   */
  onFatal?: (err: Error) => void;
}

export interface ReplicaHandle {
  readonly url: string;
  readonly id: ReplicaId;
  readonly name: string;
  /** Milliseconds from start to loaded data / to ready (listening, registered, core created). */
  readonly timings: { readonly loadMs: number; readonly readyMs: number };
  close(): Promise<void>;
}

/** The core runs on this clock. */
export const TICK_MS = 10;
const META_MS = 100;
const META_GOSSIP_ONLY_MS = 1000;
/** Messages queued for a peer whose connection has never been up yet. */
const MAX_QUEUED_BEFORE_CONNECT = 20;
/** Longest replica name: `<name>.<epoch>` must stay a valid replica id (64 characters). */
export const MAX_REPLICA_NAME = 48;
/** Most voters a cluster may name (every election and commit talks to all of them). */
export const MAX_VOTERS = 64;

/** Why a voter list is not acceptable, or undefined if it is. */
export function checkVoters(voters: readonly string[]): string | undefined {
  if (voters.length > MAX_VOTERS) return `at most ${MAX_VOTERS} voters, got ${voters.length}`;
  const seen = new Set<string>();
  for (const v of voters) {
    if (!memberNameSchema.safeParse(v).success || v.length > MAX_REPLICA_NAME) return `voter "${v}": names use 1 to ${MAX_REPLICA_NAME} letters, digits and . _ : -`;
    if (seen.has(v)) return `voter "${v}" is named twice`;
    seen.add(v);
  }
  return undefined;
}

/** The replica's part in sequencing forced updates, as published in its meta. */
export function primaryInfoOf(d: ReplicaDriver | undefined, voting: boolean): PrimaryInfo {
  const p = d?.state.primary;
  if (!p || !voting) return { role: 'none', term: p?.term ?? 0, leader: p?.leader ?? null, commit: p?.commit ?? 0 };
  return { role: p.role, term: p.term, leader: p.leader, commit: p.commit };
}

// ---- request schemas (replica only) ----------------------------------------

const timestamp = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const rmQueryRequestSchema = z.object({ requestId: requestIdSchema, prev: vtsSchema, query: querySchema });
export const rmUpdateRequestSchema = z.object({
  requestId: requestIdSchema,
  uid: updateIdSchema,
  prev: vtsSchema,
  op: updateSchema,
  issuedAt: timestamp,
  copies: z.array(replicaIdSchema).max(64),
});
export const peerRequestSchema = z.object({ from: replicaIdSchema, msg: peerMessageSchema });
export const emptyRequestSchema = z.object({});
export const setStatusRequestSchema = z.object({ status: statusSchema });

/** What a replica publishes: ReplicaMeta with its part in sequencing forced updates. */
type PublishedMeta = ReplicaMeta & { readonly primary: PrimaryInfo };

interface SocketData {
  role: Role;
}
type RmSocket = Socket<ReplicaListen, ReplicaEmit, Record<string, never>, SocketData>;
type PeerSocket = ClientSocket<ReplicaEmit, ReplicaListen>;

/** A fresh epoch per process start: time (base 36) and a few random characters. */
export function newEpoch(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startReplica(o: ReplicaOptions): Promise<ReplicaHandle> {
  const t0 = performance.now();
  const { config, log, name } = o;
  const host = o.host ?? '127.0.0.1';
  const secret = o.secret ? o.secret : undefined;
  const randomStatus = o.randomStatus ?? config.randomStatus;
  if (!memberNameSchema.safeParse(name).success || name.length > MAX_REPLICA_NAME) {
    throw new Error(`invalid replica name "${name}": use 1 to ${MAX_REPLICA_NAME} letters, digits and . _ : -`);
  }
  const id = makeReplicaId(name, newEpoch());
  const voters = [...(o.voters ?? [])];
  const badVoters = checkVoters(voters);
  if (badVoters) throw new Error(`invalid voter list: ${badVoters}`);
  const voting = voters.includes(name);

  // 0. The primary's durable state (before anything else: a corrupt file stops the start).
  let durable: Durable | undefined;
  let persist: ((d: Durable) => void) | undefined;
  let durableStore: DurableStore | undefined;
  if (o.stateDir !== undefined) {
    const file = durableFile(o.stateDir, name);
    try {
      mkdirSync(o.stateDir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create the state folder ${o.stateDir}: ${(e as Error).message}`, { cause: e });
    }
    const ds = openDurable(file);
    for (const w of ds.warnings) log.warn(w);
    durable = ds.state;
    if (durable) log.info(`primary state from ${file}: term ${durable.term}, voted for ${durable.votedFor ?? 'nobody'}, forced log of ${durable.log.length} entries`);
    // Appends what changed since the last save (durable.ts); the file is opened at the first save.
    persist = (d) => ds.save(d);
    durableStore = ds;
  }
  if (voters.length > 0 && !voting) log.info(`not among the voters (${voters.join(', ')}): this replica neither votes nor holds the forced log; it gets forced updates by gossip`);
  if (voters.length > 0 && o.stateDir === undefined) {
    log.warn('voters given without --state-dir: the primary\'s term, vote and log live in memory only, and a restart could forget a vote');
  }

  // 1. The data file.
  const SQL = await sqlJs();
  let bytes: Buffer;
  try {
    bytes = await readFile(o.dataFile);
  } catch (e) {
    throw new Error(`cannot read data file ${o.dataFile}: ${(e as Error).message}`, { cause: e });
  }
  const openStore = (): SqliteStore => {
    // A plain Uint8Array view, so sql.js copies the bytes instead of writing into ours.
    const db = new SQL.Database(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    try {
      return new SqliteStore(db);
    } catch (e) {
      db.close();
      throw e;
    }
  };
  let store: SqliteStore;
  try {
    store = openStore();
  } catch (e) {
    throw new Error(`cannot load data file ${o.dataFile}: ${(e as Error).message}`, { cause: e });
  }
  const loadMs = performance.now() - t0;
  log.info(`loaded ${o.dataFile}: ${store.movieCount()} movies, ${store.ratingCount()} ratings in ${loadMs.toFixed(0)} ms`);

  // 2. Listen.
  let driver: ReplicaDriver | undefined;
  let status: StatusController | undefined;
  let closing = false;
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const server = new Server<ReplicaListen, ReplicaEmit, Record<string, never>, SocketData>(http, {
    maxHttpBufferSize: config.maxMessageBytes,
    serveClient: false,
    cors: { origin: false },
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const url = o.advertise ?? `http://${host}:${port}`;

  const notReady = () => errorReply('UNAVAILABLE', `${name} is starting up`);
  const trace = (ev: RmTraceEvent) => server.to('trace').emit('trace', ev);

  server.on('connection', (socket: RmSocket) => {
    socket.data.role = roleOf(secret, socket.handshake.auth);
    const peer = () => `${socket.handshake.address} (${socket.id})`;
    const member = secret === undefined ? undefined : ('member' as const);
    const role = () => socket.data.role;
    const common = { log, peer, role };

    socket.on(
      'query',
      handle({
        ...common,
        event: 'query',
        schema: rmQueryRequestSchema,
        run: (req) => (driver ? new Promise((resolve) => driver!.query(socket.id, req, resolve)) : notReady()),
      }),
    );
    socket.on(
      'update',
      handle({
        ...common,
        event: 'update',
        schema: rmUpdateRequestSchema,
        run: (req) => (driver ? new Promise((resolve) => driver!.update(socket.id, req, resolve)) : notReady()),
      }),
    );
    socket.on(
      'peer',
      handle({
        ...common,
        event: 'peer',
        schema: peerRequestSchema,
        requires: member,
        run: (req) => {
          if (!driver) return notReady();
          const dropped = driver.peer(req.from, req.msg as PeerMessage);
          return dropped === undefined ? { ok: true } : errorReply(dropped === 'offline' ? 'OFFLINE' : 'BAD_REQUEST', `message dropped: ${dropped}`);
        },
      }),
    );
    socket.on(
      'introspect',
      handle({
        ...common,
        event: 'introspect',
        schema: emptyRequestSchema,
        requires: member,
        run: () => (driver ? { ok: true as const, state: introspect(driver) } : notReady()),
      }),
    );
    socket.on(
      'setStatus',
      handle({
        ...common,
        event: 'setStatus',
        schema: setStatusRequestSchema,
        requires: member,
        run: (req) => {
          if (!status) return notReady();
          log.info(`status set to ${req.status} by ${peer()}`);
          status.command(req.status);
          return { ok: true as const, status: status.status };
        },
      }),
    );
    socket.on(
      'subscribe',
      handle({
        ...common,
        event: 'subscribe',
        schema: emptyRequestSchema,
        requires: member,
        run: async () => {
          await socket.join('trace');
          return { ok: true as const };
        },
      }),
    );
    socket.on('disconnect', () => driver?.dropClient(socket.id));
  });

  // 3. Register with naming.
  const naming = new NamingClient({ url: o.naming, secret, log, config });
  const metaOf = (d: ReplicaDriver | undefined): PublishedMeta => ({
    id,
    status: status?.status ?? 'ACTIVE',
    phase: d?.state.phase ?? 'recovering',
    valueTS: d?.state.valueTS ?? V.zero(),
    replicaTS: d?.state.replicaTS ?? V.zero(),
    logLength: d?.state.log.size ?? 0,
    executed: d?.state.executed.size ?? 0,
    lastGossipAt: d?.lastGossipAt ?? null,
    primary: primaryInfoOf(d, voting),
  });
  let members: Member[];
  try {
    members = await registerWithRetry(naming, { kind: 'replica', name, url, meta: { ...metaOf(undefined) } }, config, log);
  } catch (e) {
    await naming.close().catch(() => undefined);
    await new Promise<void>((r) => server.close(() => r()));
    store.close();
    throw e;
  }

  // 4. The core.
  const peerIds = (list: readonly Member[]): Map<ReplicaId, string> => {
    const out = new Map<ReplicaId, string>();
    for (const m of list) {
      if (m.kind !== 'replica') continue;
      const pid = replicaIdSchema.safeParse(m.meta.id);
      if (!pid.success) {
        log.warn(`replica ${m.name} publishes no valid incarnation id; ignored`);
        continue;
      }
      if (pid.data !== id) out.set(pid.data, m.url);
    }
    return out;
  };
  const initial = peerIds(members);
  const fresh = initial.size === 0;

  /**
   * One connection per live peer. Messages to a peer whose connection is down
   * are dropped (gossip recovers them), except while a new connection is
   * being opened for the first time: a few are queued then, so the first
   * snapshot request of a recovering replica is not lost to a race.
   */
  const peers = new Map<ReplicaId, { url: string; socket: PeerSocket; everConnected: boolean; queued: number }>();
  /** Peers that publish status OFFLINE: they drop every peer message, so none is sent (it would only be re-sent each round). */
  const offlinePeers = new Set<ReplicaId>();
  const sendPeer = (to: ReplicaId, msg: PeerMessage): void => {
    const conn = peers.get(to);
    if (!conn || offlinePeers.has(to)) return;
    if (!conn.socket.connected) {
      if (conn.everConnected || conn.queued >= MAX_QUEUED_BEFORE_CONNECT) return; // gossip recovers what is lost
      conn.queued++;
      conn.socket.emit('peer', { from: id, msg });
      return;
    }
    if (msg.type === 'snapshot' || (msg.type === 'gossip' && msg.records.length > 500)) {
      const size = Buffer.byteLength(JSON.stringify(msg));
      if (size > config.maxMessageBytes) {
        log.error(`not sending a ${msg.type} of ${size} bytes to ${to}: above the ${config.maxMessageBytes}-byte message limit`);
        return;
      }
    }
    // Not `volatile`: that drops a packet whenever the transport is busy writing
    // the previous one, e.g. the `replicate` that follows a gossip in one step.
    conn.socket.emit('peer', { from: id, msg });
  };
  const connectPeer = (pid: ReplicaId, purl: string) => {
    const old = peers.get(pid);
    if (old && old.url === purl) return;
    old?.socket.close();
    const socket: PeerSocket = connect(purl, { transports: ['websocket'], auth: secret ? { secret } : {}, reconnection: true });
    const conn = { url: purl, socket, everConnected: false, queued: 0 };
    let warned = false;
    socket.on('connect', () => {
      conn.everConnected = true;
      warned = false;
    });
    socket.on('connect_error', (err) => {
      if (!warned) log.warn(`cannot reach peer ${pid} at ${purl}: ${err.message}; retrying`);
      warned = true;
    });
    peers.set(pid, conn);
  };

  const onFatal =
    o.onFatal ??
    ((err: Error) => {
      log.error(`${id} stops: its state can no longer be trusted (${err.message})`);
      process.exit(70);
    });
  driver = new ReplicaDriver({
    id,
    config,
    seed: randomBytes(4).readUInt32LE(0),
    now: Date.now(),
    peers: [...initial.keys()],
    fresh,
    store,
    freshStore: openStore,
    log,
    send: sendPeer,
    trace,
    changed: () => {
      status?.load(driver?.inflight ?? 0);
      primaryChanged();
    },
    onFatal: (err) => onFatal(err),
    voters,
    durable,
    persist,
  });
  const d = driver;
  for (const [pid, purl] of initial) connectPeer(pid, purl);

  status = new StatusController({
    config,
    random: randomStatus,
    rand: Math.random,
    onChange: (s: ReplicaStatus, why: string) => {
      log.info(`status ${s} (${why})`);
      d.setOffline(s === 'OFFLINE');
      trace({ kind: 'status', rm: id, status: s, at: Date.now() });
      publishMeta(true);
    },
  });

  // Meta: on change, at most every META_MS (lastGossipAt alone: every META_GOSSIP_ONLY_MS).
  let lastMeta = metaOf(undefined);
  let lastMetaAt = 0;
  let metaTimer: NodeJS.Timeout | undefined;
  const publishMeta = (urgent = false) => {
    if (closing) return;
    const now = Date.now();
    const meta = metaOf(d);
    const core = (m: PublishedMeta) => JSON.stringify({ ...m, lastGossipAt: null });
    const changed = core(meta) !== core(lastMeta);
    const gossipOnly = !changed && meta.lastGossipAt !== lastMeta.lastGossipAt;
    if (!changed && !gossipOnly) return;
    if (gossipOnly && now - lastMetaAt < META_GOSSIP_ONLY_MS) return;
    if (now - lastMetaAt < META_MS) {
      if (urgent && !metaTimer) {
        metaTimer = setTimeout(() => {
          metaTimer = undefined;
          publishMeta();
        }, META_MS - (now - lastMetaAt));
        metaTimer.unref();
      }
      return;
    }
    lastMeta = meta;
    lastMetaAt = now;
    naming.updateMeta({ ...meta });
  };
  /** Front ends look for the primary in the meta: a new role, term or leader goes out without waiting for the next round. */
  let lastPrimaryKey = '';
  function primaryChanged(): void {
    if (!driver) return;
    const { role, term, leader } = primaryInfoOf(driver, voting);
    const key = `${role} ${term} ${leader ?? ''}`;
    if (key === lastPrimaryKey) return;
    lastPrimaryKey = key;
    publishMeta(true);
  }
  const metaInterval = setInterval(() => publishMeta(), META_MS);
  metaInterval.unref();

  /**
   * The tick runs after the I/O of its event-loop turn (setImmediate): when
   * this process was stalled (a slow disk write, a long GC), the messages
   * that arrived meanwhile — the primary's heartbeats among them — reach the
   * core before the clock does, so the stall alone does not start an election.
   */
  let tickQueued = false;
  const ticker = setInterval(() => {
    if (tickQueued || closing) return;
    tickQueued = true;
    setImmediate(() => {
      tickQueued = false;
      if (!closing) d.tick(Date.now());
    });
  }, TICK_MS);
  ticker.unref();

  // 5. Watch the other replicas.
  const known = new Set<ReplicaId>(initial.keys());
  naming.watch('replica', (list) => {
    if (closing) return;
    offlinePeers.clear();
    for (const m of list) if (m.kind === 'replica' && m.meta.status === 'OFFLINE' && typeof m.meta.id === 'string') offlinePeers.add(m.meta.id as ReplicaId);
    const now = peerIds(list);
    for (const [pid, purl] of now) {
      connectPeer(pid, purl);
      if (!known.has(pid)) {
        known.add(pid);
        log.info(`peer ${pid} joined at ${purl}`);
        d.peerJoined(pid);
      }
    }
    for (const pid of [...known]) {
      if (now.has(pid)) continue;
      known.delete(pid);
      peers.get(pid)?.socket.close();
      peers.delete(pid);
      log.info(`peer ${pid} left`);
      d.peerLeft(pid);
    }
  });
  naming.onConnection((up) => (up ? log.info('naming service reachable') : log.warn('naming service unreachable; keeping the last known peers')));

  /** The store digest reads every rating (~60 ms for 100,000): computed again only after the store changed. */
  let digestCache: { version: number; digest: string } | undefined;
  function introspect(dr: ReplicaDriver): Introspection {
    const s = dr.state;
    if (digestCache?.version !== dr.storeVersion) digestCache = { version: dr.storeVersion, digest: dr.store.digest() };
    return {
      id,
      name,
      url,
      status: status?.status ?? 'ACTIVE',
      phase: s.phase,
      valueTS: s.valueTS,
      prefixTS: s.prefixTS,
      replicaTS: s.replicaTS,
      logLength: s.log.size,
      executed: s.executed.size,
      table: Object.fromEntries([...s.table].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      members: [...s.members].sort(),
      retired: [...s.retired].sort(),
      lastGossipAt: dr.lastGossipAt,
      held: s.held.size,
      counters: { ...dr.counters, inflight: dr.inflight, peersConnected: [...peers.values()].filter((p) => p.socket.connected).length },
      digest: digestCache.digest,
      ratings: dr.store.ratingCount(),
      primary: { ...primaryInfoOf(dr, voting), voters: s.primary.voters, logLength: s.primary.log.length },
    };
  }

  const readyMs = performance.now() - t0;
  log.info(`${id} ${fresh ? 'serving from the data file' : `recovering from ${initial.size} peer(s)`}; ready at ${url} in ${readyMs.toFixed(0)} ms`);
  publishMeta(true);

  return {
    url,
    id,
    name,
    timings: { loadMs, readyMs },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(ticker);
      clearInterval(metaInterval);
      if (metaTimer) clearTimeout(metaTimer);
      status?.close();
      d.failAll('UNAVAILABLE', `${name} is shutting down`);
      for (const p of peers.values()) p.socket.close();
      peers.clear();
      await naming.close().catch((e: unknown) => log.warn(`leaving the naming service: ${(e as Error).message}`));
      server.disconnectSockets(true);
      await new Promise<void>((r) => server.close(() => r()));
      if (d.store instanceof SqliteStore) d.store.close();
      durableStore?.close();
    },
  };
}

/**
 * Registers, retrying while the name is still held by this replica's previous
 * incarnation (its lease has not run out yet) or the naming service is not up.
 */
async function registerWithRetry(
  naming: NamingClient,
  m: { kind: 'replica'; name: string; url: string; meta: Record<string, unknown> },
  config: Config,
  log: Logger,
): Promise<Member[]> {
  const deadline = Date.now() + 2 * config.leaseMs + 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await naming.register(m);
    } catch (e) {
      const code = e instanceof OpError ? e.code : undefined;
      const retry = (code === 'NAME_TAKEN' || code === 'UNAVAILABLE' || code === 'TIMEOUT') && Date.now() < deadline;
      if (!retry) throw e;
      if (attempt === 1) log.warn(`registering as ${m.name}: ${(e as Error).message}; retrying`);
      await sleep(Math.min(250 * attempt, 1000));
    }
  }
}
