/**
 * What goes into and comes out of the replica core.
 *
 * The core never does I/O: the driver feeds it one Input at a time and
 * carries out the Effects it returns, in order (a query's answer must be read
 * from the store after the `apply` effects listed before it).
 */
import type { ReplicaId, RequestId, UpdateId } from '../../core/ids.js';
import type { OpErrorCode, Overlay, Query, Update, Version } from '../../core/ops.js';
import type { VTS } from '../../core/vts.js';

/** Who a reply goes to: an opaque handle the driver understands (a socket, a simulated front end). */
export type ReplyTo = string;

/**
 * One copy of an update in a replica's log: `<node, ts, op, prev, uid>` as in
 * the paper. `ts` is `prev` with entry `node` set to the counter `node` gave
 * it; the same uid may have copies from two or more nodes.
 */
export interface LogRecord {
  readonly node: ReplicaId;
  readonly ts: VTS;
  readonly prev: VTS;
  readonly uid: UpdateId;
  readonly op: Update;
  /** When the front end issued the update (ms); bounds how long its uid is remembered. */
  readonly issuedAt: number;
}

/**
 * One entry of the primary's replicated log (primary.ts). `seq` numbers the
 * forced/immediate updates: an empty entry (op null, which a new primary
 * appends to commit its predecessors' entries) repeats the seq before it.
 */
export interface ForcedEntry {
  readonly term: number;
  readonly index: number;
  readonly seq: number;
  readonly uid: UpdateId;
  readonly op: Update | null;
  /** The client's prev; for an immediate update merged with the cut. */
  readonly prev: VTS;
  readonly issuedAt: number;
}

/** Messages between replica managers. */
export type PeerMessage =
  | {
      readonly type: 'gossip';
      /** The sender's replica timestamp (for the receiver's timestamp table). */
      readonly replicaTS: VTS;
      /**
       * What the receiver may adopt into its own replicaTS once it keeps these
       * records: the sender's replicaTS, lowered for origins whose records
       * did not all fit in this message. Absent = replicaTS.
       */
      readonly covers?: VTS | undefined;
      readonly records: readonly LogRecord[];
      /** True if the sender wants the receiver's missing records back (push-pull). */
      readonly wantReply: boolean;
    }
  | { readonly type: 'pull'; readonly replicaTS: VTS }
  /** Ask the receiver to log its own copy of an update that has only one holder so far. */
  | { readonly type: 'replicate'; readonly record: LogRecord }
  | { readonly type: 'snapshotRequest' }
  // The primary (Raft-style; see primary.ts).
  /** `pre`: a pre-vote (would you vote for me in `term`?), which changes no state (primary.ts). */
  | { readonly type: 'vote'; readonly pre: boolean; readonly term: number; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly type: 'voteReply'; readonly pre: boolean; readonly term: number; readonly granted: boolean }
  | {
      readonly type: 'append';
      readonly term: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly ForcedEntry[];
      readonly commit: number;
    }
  /** `match`: on success the last index now matching the primary's log; on failure the follower's last index (where to resume). */
  | { readonly type: 'appendReply'; readonly term: number; readonly ok: boolean; readonly match: number }
  /** The primary asks for the receiver's replicaTS (the cut of an immediate update). */
  | { readonly type: 'cut'; readonly uid: UpdateId }
  | { readonly type: 'cutReply'; readonly uid: UpdateId; readonly replicaTS: VTS }
  | { readonly type: 'snapshot'; readonly snapshot: CoreSnapshot; readonly overlay?: Overlay };

/**
 * The core's part of a state transfer. The driver adds the store's overlay
 * rows (taken in the same synchronous step, so the two agree).
 */
export interface CoreSnapshot {
  readonly from: ReplicaId;
  readonly valueTS: VTS;
  readonly prefixTS: VTS;
  readonly replicaTS: VTS;
  readonly gcTS: VTS;
  readonly log: readonly (LogRecord & { readonly applied: boolean })[];
  readonly executed: readonly ExecutedEntry[];
  readonly retired: readonly ReplicaId[];
}

export interface ExecutedEntry {
  readonly uid: UpdateId;
  readonly issuedAt: number;
}

export type Input =
  | { readonly type: 'tick'; readonly now: number }
  | {
      readonly type: 'query';
      readonly from: ReplyTo;
      readonly requestId: RequestId;
      readonly prev: VTS;
      readonly query: Query;
    }
  | {
      readonly type: 'update';
      readonly from: ReplyTo;
      readonly requestId: RequestId;
      readonly uid: UpdateId;
      readonly prev: VTS;
      readonly op: Update;
      readonly issuedAt: number;
      /** Replicas the front end sent this update to (hint: push our copy to them at once). */
      readonly copies: readonly ReplicaId[];
    }
  | { readonly type: 'peer'; readonly from: ReplicaId; readonly msg: PeerMessage }
  | { readonly type: 'peerJoined'; readonly id: ReplicaId }
  | { readonly type: 'peerLeft'; readonly id: ReplicaId };

export type Effect =
  /** Write to the store (last-writer-wins on version). */
  | { readonly type: 'apply'; readonly uid: UpdateId; readonly op: Update; readonly version: Version }
  /** Answer a query from the store as it is now, with this value timestamp. */
  | { readonly type: 'answer'; readonly to: ReplyTo; readonly requestId: RequestId; readonly query: Query; readonly valueTS: VTS }
  /**
   * Acknowledge an update: it is logged here with timestamp ts. `forced`: a
   * forced/immediate update, committed and applied here (the driver adds
   * what applying it did; `op` lets it work that out when the update's
   * effect reached this replica in a snapshot).
   */
  | { readonly type: 'ack'; readonly to: ReplyTo; readonly requestId: RequestId; readonly uid: UpdateId; readonly ts: VTS; readonly forced?: true; readonly op?: Update }
  /** `leader`: for NOT_PRIMARY, the primary to ask instead. */
  | { readonly type: 'fail'; readonly to: ReplyTo; readonly requestId: RequestId; readonly code: OpErrorCode; readonly message: string; readonly leader?: ReplicaId }
  /**
   * Write the primary's term, vote and log to stable storage. Always the
   * first effect of its step: it must be durable before any message of the
   * step is sent (a vote or an append acknowledgement promises it).
   */
  | { readonly type: 'persist'; readonly durable: { readonly term: number; readonly votedFor: string | null; readonly log: readonly ForcedEntry[] } }
  | { readonly type: 'send'; readonly to: ReplicaId; readonly msg: PeerMessage }
  /** Send a snapshot: the driver attaches the store's overlay. */
  | { readonly type: 'sendSnapshot'; readonly to: ReplicaId; readonly snapshot: CoreSnapshot }
  /** Replace the store's value by the base data plus these overlay rows (a peer's snapshot). */
  | { readonly type: 'installSnapshot'; readonly overlay: Overlay }
  /** Something a person watching may want to see (gossip sent/received, pull, GC). */
  | { readonly type: 'event'; readonly event: CoreEvent };

export type CoreEvent =
  | { readonly kind: 'gossipSent'; readonly to: ReplicaId; readonly records: number }
  | { readonly kind: 'gossipReceived'; readonly from: ReplicaId; readonly records: number; readonly kept: number }
  | { readonly kind: 'pullSent'; readonly to: ReplicaId; readonly missing: readonly ReplicaId[] }
  | { readonly kind: 'applied'; readonly uid: UpdateId; readonly copies: number }
  | { readonly kind: 'collected'; readonly records: number }
  | { readonly kind: 'snapshotInstalled'; readonly from: ReplicaId }
  | { readonly kind: 'recruited'; readonly uid: UpdateId; readonly peer: ReplicaId }
  | { readonly kind: 'elected'; readonly term: number }
  /** `seq`: the update's forced sequence number (what users see; log indexes also count empty entries). */
  | { readonly kind: 'committed'; readonly seq: number; readonly uid: UpdateId };
