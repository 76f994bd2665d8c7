/**
 * Test doubles for driving a front end without the real naming service and
 * replicas: an in-memory directory, and a replica server on port 0 that
 * speaks ReplicaListen with scripted behaviour and records what it receives.
 * `actElection` makes a set of fake replicas play an elected primary (or an
 * election still going on) for forced and immediate updates.
 */
import http from 'node:http';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import type { MovieId, ReplicaId } from '../../src/core/ids.js';
import { orderingOf, type ApplyOutcome } from '../../src/core/ops.js';
import type {
  FrontendEmit,
  FrontendListen,
  Member,
  MemberKind,
  ReplicaEmit,
  ReplicaListen,
  PrimaryInfo,
  ReplicaMeta,
  ReplicaStatus,
  RmTraceEvent,
} from '../../src/core/protocol.js';
import { connected, type Logger } from '../../src/core/sockets.js';
import type { VTS } from '../../src/core/vts.js';
import type { Directory } from '../../src/frontend/driver.js';

export const quietLog: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** A logger that keeps its lines (to check what was logged). */
export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

// ---------------------------------------------------------------------------
// Naming

export class FakeNaming {
  readonly members = new Map<string, Member>();
  private readonly dirs = new Set<FakeDirectory>();

  directory(): FakeDirectory {
    const d = new FakeDirectory(this);
    this.dirs.add(d);
    return d;
  }

  list(): Member[] {
    return [...this.members.values()];
  }

  set(m: Omit<Member, 'since'> & { since?: number }): void {
    this.members.set(m.name, { since: Date.now(), ...m });
    this.notify();
  }

  remove(name: string): void {
    if (this.members.delete(name)) this.notify();
  }

  notify(): void {
    for (const d of this.dirs) d.changed();
  }

  detach(d: FakeDirectory): void {
    this.dirs.delete(d);
  }
}

export class FakeDirectory implements Directory {
  name: string | undefined;
  readonly metas: Record<string, unknown>[] = [];
  private readonly watchers: ((m: Member[]) => void)[] = [];
  closed = false;

  constructor(private readonly naming: FakeNaming) {}

  async register(m: { kind: MemberKind; name: string; url: string; meta: Record<string, unknown> }): Promise<Member[]> {
    this.name = m.name;
    this.naming.set({ kind: m.kind, name: m.name, url: m.url, meta: m.meta });
    return this.naming.list();
  }

  updateMeta(meta: Record<string, unknown>): void {
    this.metas.push(meta);
    const me = this.name === undefined ? undefined : this.naming.members.get(this.name);
    if (me) this.naming.set({ ...me, meta });
  }

  watch(_kind: MemberKind | undefined, onChange: (members: Member[]) => void): void {
    this.watchers.push(onChange);
    onChange(this.naming.list());
  }

  changed(): void {
    for (const w of this.watchers) w(this.naming.list());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.naming.detach(this);
    if (this.name !== undefined) this.naming.remove(this.name);
  }
}

// ---------------------------------------------------------------------------
// Replica

type QueryReq = Parameters<ReplicaListen['query']>[0];
type UpdateReq = Parameters<ReplicaListen['update']>[0];

/** What the fake does with a request: answer (after an optional delay) or stay silent. */
export type Behaviour<Req> = (req: Req) => { reply: unknown; delayMs?: number } | 'silent';

export interface FakeReplica {
  readonly name: string;
  readonly id: ReplicaId;
  readonly url: string;
  readonly queries: QueryReq[];
  readonly updates: UpdateReq[];
  /** Status changes asked through setStatus. */
  readonly statusCalls: ReplicaStatus[];
  onQuery: Behaviour<QueryReq>;
  onUpdate: Behaviour<UpdateReq>;
  /** Sockets that asked for trace events, and whether they gave a secret. */
  subscribers: number;
  lastAuth: unknown;
  meta(over?: Partial<FakeMeta>): FakeMeta;
  member(over?: Partial<FakeMeta>): Omit<Member, 'since'>;
  trace(ev: RmTraceEvent): void;
  close(): Promise<void>;
}

/** A replica's naming meta (with its part in the election, when set). */
export type FakeMeta = ReplicaMeta;

let counter = 0;

export async function startFakeReplica(name: string, opts: { secret?: string } = {}): Promise<FakeReplica> {
  const id = `${name}.e${++counter}` as ReplicaId;
  const httpServer = http.createServer();
  const io = new Server<ReplicaListen, ReplicaEmit>(httpServer, { serveClient: false, cors: { origin: false } });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const addr = httpServer.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  let n = 0;
  const fake: FakeReplica = {
    name,
    id,
    url,
    queries: [],
    updates: [],
    statusCalls: [],
    subscribers: 0,
    lastAuth: undefined,
    onQuery: () => ({ reply: { ok: true, valueTS: { [id]: n } as VTS, result: { from: id } } }),
    onUpdate: (req) => ({ reply: { ok: true, ts: { ...req.prev, [id]: ++n } as VTS, uid: req.uid } }),
    meta: (over = {}) => ({
      id,
      status: 'ACTIVE',
      phase: 'serving',
      valueTS: {} as VTS,
      replicaTS: {} as VTS,
      logLength: 0,
      executed: 0,
      lastGossipAt: null,
      ...over,
    }),
    member: (over = {}) => ({ kind: 'replica', name, url, meta: { ...fake.meta(over) } }),
    trace: (ev) => {
      io.to('trace').emit('trace', ev);
    },
    close: async () => {
      await io.close();
    },
  };
  const answer = <Req>(b: Behaviour<Req>, req: Req, ack: (r: never) => void) => {
    const what = b(req);
    if (what === 'silent') return;
    if (what.delayMs) setTimeout(() => ack(what.reply as never), what.delayMs);
    else ack(what.reply as never);
  };
  io.on('connection', (socket) => {
    fake.lastAuth = socket.handshake.auth;
    const secretOk = opts.secret === undefined || (socket.handshake.auth as { secret?: unknown }).secret === opts.secret;
    socket.on('query', (req, ack) => {
      fake.queries.push(req);
      answer(fake.onQuery, req, ack);
    });
    socket.on('update', (req, ack) => {
      fake.updates.push(req);
      answer(fake.onUpdate, req, ack);
    });
    socket.on('setStatus', (req, ack) => {
      if (!secretOk) return ack({ ok: false, code: 'UNAUTHORIZED', message: 'setStatus needs the cluster secret' });
      fake.statusCalls.push(req.status);
      ack({ ok: true, status: req.status });
    });
    socket.on('subscribe', (_req, ack) => {
      if (!secretOk) return ack({ ok: false, code: 'UNAUTHORIZED', message: 'subscribe needs the cluster secret' });
      fake.subscribers++;
      void socket.join('trace');
      ack({ ok: true });
    });
  });
  return fake;
}

// ---------------------------------------------------------------------------
// Primary

export interface Election {
  /** Forced/immediate updates the primary sequenced, in order (a retried uid once). */
  readonly sequenced: string[];
}

/**
 * Makes `rms` act out an election: `primary` won `term` (null: no primary
 * yet). The primary answers forced and immediate updates with a ts whose
 * `forced` entry is the update's position (a retried uid gets its first
 * answer again) and an outcome; the others answer NOT_PRIMARY naming it, or
 * NO_PRIMARY. Causal updates keep each fake's earlier behaviour. With
 * `publish` (default) naming also shows each replica's PrimaryInfo;
 * `publishAs` publishes a different (stale) winner than the real one.
 */
export function actElection(
  naming: FakeNaming,
  rms: readonly FakeReplica[],
  primary: FakeReplica | null,
  o: { term?: number; publish?: boolean; publishAs?: FakeReplica | null; nextMovieId?: number } = {},
): Election {
  const term = o.term ?? 1;
  const sequenced: string[] = [];
  const answers = new Map<string, unknown>();
  let nextMovie = o.nextMovieId ?? 9743;
  const shown = o.publishAs === undefined ? primary : o.publishAs;
  for (const r of rms) {
    const causal = r.onUpdate;
    r.onUpdate = (req) => {
      if (orderingOf(req.op) === 'causal') return causal(req);
      if (primary === null) return { reply: { ok: false, code: 'NO_PRIMARY', message: `no primary is elected in term ${term}` } };
      if (r !== primary) return { reply: { ok: false, code: 'NOT_PRIMARY', message: `${r.name} is not the primary`, leader: primary.id } };
      const known = answers.get(req.uid);
      if (known) return { reply: known };
      sequenced.push(req.uid);
      const op = req.op;
      const result: ApplyOutcome | undefined =
        op.kind === 'addMovie'
          ? { kind: 'addMovie', movieId: nextMovie++ as MovieId, title: op.title, existed: false }
          : op.kind === 'forgetUser'
            ? { kind: 'forgetUser', userId: op.userId, removed: 2 }
            : undefined;
      const reply = { ok: true, ts: { ...req.prev, forced: sequenced.length } as VTS, uid: req.uid, result };
      answers.set(req.uid, reply);
      return { reply };
    };
    if (o.publish ?? true) {
      const info: PrimaryInfo =
        shown === null ? { role: 'candidate', term, leader: null, commit: 0 } : r === shown ? { role: 'leader', term, leader: r.id, commit: 0 } : { role: 'follower', term, leader: shown.id, commit: 0 };
      naming.set(r.member({ primary: info }));
    }
  }
  return { sequenced };
}

// ---------------------------------------------------------------------------
// Client

export type FeClient = ClientSocket<FrontendEmit, FrontendListen>;

export async function connectClient(url: string, secret?: string): Promise<FeClient> {
  const s = connect(url, { transports: ['websocket'], reconnection: false, auth: secret === undefined ? {} : { secret } }) as FeClient;
  await connected(s, url);
  return s;
}

/** Waits until `cond` holds, checking every 5 ms; fails with `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
