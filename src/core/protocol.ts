/**
 * The wire protocol: one socket.io EventsMap per link, in one place.
 *
 *   client ──▶ front end        FrontendListen / FrontendEmit
 *   front end ──▶ replica       ReplicaListen / ReplicaEmit (query, update)
 *   replica ──▶ replica         ReplicaListen (peer: gossip, pulls, snapshots)
 *   member ──▶ naming           NamingListen / NamingEmit
 *
 * Conventions:
 * - The acknowledgement callback is the last parameter, and every reply is a
 *   `Reply<T>`: `{ok: true, ...T}` or `{ok: false, code, message}`.
 * - Every payload is validated on arrival (schemas.ts) by `handle`
 *   (sockets.ts); a handler never throws into socket.io.
 * - Server-to-server calls (register, peer, introspect, setStatus,
 *   subscribe) need the cluster secret, given in the handshake `auth.secret`,
 *   when one is configured. Client operations need none.
 * - Every cross-process call is made with a timeout
 *   (`socket.timeout(ms).emitWithAck`); requests carry ids so retries are safe.
 * - Events are only ever added to these maps, never renumbered or reused.
 */
import type { ReplicaId, RequestId, UpdateId } from './ids.js';
import type { ApplyOutcome, OpErrorCode, Ordering, Query, QueryResult, Update } from './ops.js';
import type { VTS } from './vts.js';
import type { PeerMessage } from '../replica/core/types.js';

export const PROTOCOL_VERSION = 1;

export type ReplicaStatus = 'ACTIVE' | 'OVERLOADED' | 'OFFLINE';

/** What a client gets back from its front end. */
export type ClientReply =
  | {
      readonly ok: true;
      readonly kind: 'query';
      readonly result: unknown;
      /** The session timestamp the client should carry from now on. */
      readonly ts: VTS;
      readonly servedBy: readonly ReplicaId[];
      readonly valueTS: VTS;
    }
  | {
      readonly ok: true;
      readonly kind: 'update';
      readonly uid: UpdateId;
      readonly ts: VTS;
      readonly servedBy: readonly ReplicaId[];
      /** Timestamps each replica gave its copy. */
      readonly copies: Readonly<Record<string, VTS>>;
      /** Set when fewer than two replicas logged the update. */
      readonly warning?: string | undefined;
      /** Causal updates go to two replicas; forced and immediate ones to the primary. */
      readonly ordering?: Ordering | undefined;
      /** For forced and immediate updates: what applying it did (the new movie's id, ratings removed). */
      readonly result?: ApplyOutcome | undefined;
    }
  | { readonly ok: false; readonly code: OpErrorCode; readonly message: string; readonly tried: readonly ReplicaId[] };


export type ErrorReply = { readonly ok: false; readonly code: OpErrorCode; readonly message: string };
export type Reply<T extends object = object> = ({ readonly ok: true } & T) | ErrorReply;
export type Ack<T extends object = object> = (reply: Reply<T>) => void;

// ---------------------------------------------------------------------------
// Naming

export type MemberKind = 'frontend' | 'replica';

export interface Member {
  readonly kind: MemberKind;
  readonly name: string;
  readonly url: string;
  /** Small JSON metadata: for replicas `ReplicaMeta`, for front ends `FrontendMeta`. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Naming server time (ms) of registration. */
  readonly since: number;
}

export interface ReplicaMeta {
  /** The incarnation id used in vector timestamps (changes on restart). */
  readonly id: ReplicaId;
  readonly status: ReplicaStatus;
  readonly phase: 'recovering' | 'serving';
  readonly valueTS: VTS;
  readonly replicaTS: VTS;
  readonly logLength: number;
  readonly executed: number;
  readonly lastGossipAt: number | null;
  /** Its part in electing the primary (absent from replicas of older builds). */
  readonly primary?: PrimaryInfo | undefined;
}

/**
 * A replica's part in sequencing forced and immediate updates (a Raft-style
 * elected primary, see replica/core/primary.ts). `role` is 'none' when the
 * replica was started without a voter list (forced updates disabled).
 */
export interface PrimaryInfo {
  readonly role: 'leader' | 'follower' | 'candidate' | 'none';
  readonly term: number;
  /** The primary this replica follows in `term`, if it knows one. */
  readonly leader: ReplicaId | null;
  /** Forced log entries known committed here. */
  readonly commit: number;
}

export interface FrontendMeta {
  readonly prev: VTS;
}

export interface NamingListen {
  register(req: { kind: MemberKind; name: string; url: string; meta: Record<string, unknown> }, ack: Ack<{ member: Member; members: Member[] }>): void;
  /** Replace this member's metadata (replicas publish status and timestamps this way). */
  update(req: { meta: Record<string, unknown> }, ack: Ack): void;
  heartbeat(req: Record<string, never>, ack: Ack): void;
  lookup(req: { name: string }, ack: Ack<{ member: Member | null }>): void;
  list(req: { kind?: MemberKind | undefined }, ack: Ack<{ members: Member[] }>): void;
  /** Subscribe to joined/left/updated events; the ack carries the current list. */
  watch(req: { kind?: MemberKind | undefined }, ack: Ack<{ members: Member[] }>): void;
}

export interface NamingEmit {
  joined(member: Member): void;
  left(member: Member): void;
  updated(member: Member): void;
}

// ---------------------------------------------------------------------------
// Replica manager

export type RmQueryReply = Reply<{ valueTS: VTS; result: QueryResult }>;
/**
 * `result` is set for forced and immediate updates. A NOT_PRIMARY error may
 * name the primary in `leader`.
 */
export type RmUpdateReply = Reply<{ ts: VTS; uid: UpdateId; result?: ApplyOutcome | undefined }> | (ErrorReply & { readonly leader?: ReplicaId | undefined });

export interface Introspection {
  readonly id: ReplicaId;
  readonly name: string;
  readonly url: string;
  readonly status: ReplicaStatus;
  readonly phase: 'recovering' | 'serving';
  readonly valueTS: VTS;
  readonly prefixTS: VTS;
  readonly replicaTS: VTS;
  readonly logLength: number;
  readonly executed: number;
  readonly table: Readonly<Record<string, VTS>>;
  readonly members: readonly ReplicaId[];
  readonly retired: readonly ReplicaId[];
  readonly lastGossipAt: number | null;
  readonly held: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly digest: string;
  readonly ratings: number;
  readonly primary?: (PrimaryInfo & { readonly voters: readonly string[]; readonly logLength: number }) | undefined;
}

/** What a replica shows a watcher (the trace view): its algorithm at work. */
export type RmTraceEvent =
  | { readonly kind: 'gossipSent'; readonly rm: ReplicaId; readonly to: ReplicaId; readonly records: number; readonly at: number }
  | { readonly kind: 'gossipReceived'; readonly rm: ReplicaId; readonly from: ReplicaId; readonly records: number; readonly kept: number; readonly at: number }
  | { readonly kind: 'pullSent'; readonly rm: ReplicaId; readonly to: ReplicaId; readonly missing: readonly ReplicaId[]; readonly at: number }
  | { readonly kind: 'applied'; readonly rm: ReplicaId; readonly uid: UpdateId; readonly at: number }
  | { readonly kind: 'snapshotInstalled'; readonly rm: ReplicaId; readonly from: ReplicaId; readonly at: number }
  | { readonly kind: 'status'; readonly rm: ReplicaId; readonly status: ReplicaStatus; readonly at: number }
  /** This replica became primary for `term`. */
  | { readonly kind: 'elected'; readonly rm: ReplicaId; readonly term: number; readonly at: number }
  /** A forced/immediate update reached a majority (primary only); `seq` is its forced sequence number. */
  | { readonly kind: 'committed'; readonly rm: ReplicaId; readonly seq: number; readonly uid: UpdateId; readonly at: number };

export interface ReplicaListen {
  query(req: { requestId: RequestId; prev: VTS; query: Query }, ack: (r: RmQueryReply) => void): void;
  update(req: { requestId: RequestId; uid: UpdateId; prev: VTS; op: Update; issuedAt: number; copies: ReplicaId[] }, ack: (r: RmUpdateReply) => void): void;
  /** Replica-to-replica traffic (gossip, pulls, snapshots); needs the secret. */
  peer(req: { from: ReplicaId; msg: PeerMessage }): void;
  introspect(req: Record<string, never>, ack: Ack<{ state: Introspection }>): void;
  setStatus(req: { status: ReplicaStatus }, ack: Ack<{ status: ReplicaStatus }>): void;
  /** Receive `trace` events; needs the secret. */
  subscribe(req: Record<string, never>, ack: Ack): void;
}

export interface ReplicaEmit {
  trace(ev: RmTraceEvent): void;
}

// ---------------------------------------------------------------------------
// Front end

export interface ReplicaView {
  readonly name: string;
  readonly id: ReplicaId;
  readonly url: string;
  readonly status: ReplicaStatus;
  readonly phase: 'recovering' | 'serving';
  readonly valueTS: VTS;
  readonly replicaTS: VTS;
  readonly logLength: number;
  readonly executed: number;
  /** Updates this replica has not applied yet that the most advanced replica has (sum of entry gaps). */
  readonly lag: number;
  readonly lastGossipAt: number | null;
  readonly primary?: PrimaryInfo | undefined;
}

export interface FrontendView {
  readonly name: string;
  readonly url: string;
  readonly prev: VTS;
}

export interface ClusterView {
  readonly replicas: readonly ReplicaView[];
  readonly frontends: readonly FrontendView[];
  /** The elected primary (the leader with the highest term any replica reports), if any. */
  readonly primary?: { readonly id: ReplicaId; readonly name: string; readonly term: number } | null | undefined;
  /** The front end this view came from. */
  readonly via: string;
  readonly at: number;
}

/** Why a replica was chosen for a forced/immediate update (shown in the trace). */
export type PrimaryReason =
  /** It reports itself leader, or replicas name it as their leader. */
  | 'primary'
  /** A replica that is not primary named it in its NOT_PRIMARY answer. */
  | 'redirect'
  /** No primary is known: any serving replica, which will redirect or say NO_PRIMARY. */
  | 'guess';

/** The path of one request, for the trace view. */
export type FeTraceEvent =
  | { readonly kind: 'request'; readonly fe: string; readonly requestId: RequestId; readonly op: string; readonly prev: VTS; readonly at: number }
  | {
      readonly kind: 'chose';
      readonly fe: string;
      readonly requestId: RequestId;
      readonly chosen: readonly { rm: ReplicaId; status: ReplicaStatus; inflight: number }[];
      readonly retry: boolean;
      /** Forced/immediate updates only: why this replica, and the term it is primary for. */
      readonly reason?: PrimaryReason | undefined;
      readonly term?: number | undefined;
      readonly at: number;
    }
  | { readonly kind: 'rmReply'; readonly fe: string; readonly requestId: RequestId; readonly rm: ReplicaId; readonly ok: boolean; readonly ts?: VTS | undefined; readonly code?: string | undefined; readonly at: number }
  | { readonly kind: 'reply'; readonly fe: string; readonly requestId: RequestId; readonly ok: boolean; readonly ts?: VTS | undefined; readonly feprev: VTS; readonly at: number };

export type TraceEvent = FeTraceEvent | RmTraceEvent;

export interface FrontendListen {
  query(req: { requestId: RequestId; prev: VTS; query: Query }, ack: (r: ClientReply) => void): void;
  /** `uid` is given when the client retries an update it sent before. */
  update(req: { requestId: RequestId; prev: VTS; op: Update; uid?: UpdateId | undefined }, ack: (r: ClientReply) => void): void;
  cluster(req: Record<string, never>, ack: Ack<{ view: ClusterView }>): void;
  /** Receive `cluster` on every change and, if asked, `trace` events. */
  watch(req: { trace: boolean }, ack: Ack<{ view: ClusterView }>): void;
  setStatus(req: { rm: string; status: ReplicaStatus }, ack: Ack<{ status: ReplicaStatus }>): void;
}

export interface FrontendEmit {
  cluster(view: ClusterView): void;
  trace(ev: TraceEvent): void;
}
