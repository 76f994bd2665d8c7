/**
 * The replica manager's state, as in the paper (Ladin et al. 1992, §4;
 * Coulouris et al. §18.4.1), plus what crash recovery and twin copies need.
 *
 * Ownership: `step` updates the state it is given in place (as etcd's raft
 * does) and returns it; callers must not share one state between two
 * replicas. Nothing in here reads a clock or a random source: time arrives in
 * `tick` inputs and randomness comes from the seeded generator whose whole
 * state is the number `rngState`.
 *
 * Two value timestamps:
 * - `valueTS` is the paper's: the merge of the timestamps of every record
 *   applied here. It is what a reply reports, so a client's prev covers every
 *   update whose effect it may have seen.
 * - `prefixTS` is what freshness checks use: prefixTS[n] = k ⇔ records
 *   n#1..k have all been applied here. With twin copies an update can be
 *   applied before an earlier record of the same node, so valueTS[n] = k does
 *   not by itself say that n#1..k are all applied; prefixTS does.
 *
 * Invariants (checked by `checkInvariants`, used by the simulator):
 * - I1 prefixTS ≤ valueTS ≤ replicaTS.
 * - I2 (prefix) prefixTS[n] = k ⇔ every record n#1..k has been applied here
 *   (or was collected after being applied). Records applied out of counter
 *   order wait in `appliedAhead` until the gap fills.
 * - I3 (closure) for every node n, records n#1..replicaTS[n] are in the log
 *   or were collected.
 * - I4 every record in the log has prev ≤ replicaTS (all its dependencies
 *   were received before it was logged), so nothing waits forever on a
 *   record that no replica will ever send.
 */
import type { ReplicaId, RequestId, UpdateId } from '../../core/ids.js';
import type { Query, Update } from '../../core/ops.js';
import type { Config } from '../../core/config.js';
import { zero, type VTS } from '../../core/vts.js';
import type { LogRecord, ReplyTo } from './types.js';
import { createPrimary, type Durable, type PrimaryState } from './primary.js';

export type CoreConfig = Pick<
  Config,
  | 'gossipIntervalMs'
  | 'gossipFanout'
  | 'gossipMaxRecords'
  | 'queryHoldMs'
  | 'pullRetryMs'
  | 'bindTimeoutMs'
  | 'snapshotRetryMs'
  | 'dedupWindowMs'
  | 'primaryHeartbeatMs'
  | 'electionTimeoutMinMs'
  | 'electionTimeoutMaxMs'
  | 'cutTimeoutMs'
  | 'appendMaxEntries'
>;

export interface LogEntry {
  readonly rec: LogRecord;
  applied: boolean;
  /** Local time the record entered this log (for the bind timeout). */
  readonly loggedAt: number;
}

/** A request waiting for this replica to catch up with its `prev`. */
export type Held =
  | { readonly kind: 'query'; readonly from: ReplyTo; readonly requestId: RequestId; readonly prev: VTS; readonly query: Query; readonly deadline: number; nextPullAt: number }
  | {
      readonly kind: 'update';
      readonly from: ReplyTo;
      readonly requestId: RequestId;
      readonly prev: VTS;
      readonly uid: UpdateId;
      readonly op: Update;
      readonly issuedAt: number;
      readonly copies: readonly ReplicaId[];
      readonly deadline: number;
      nextPullAt: number;
    };

export interface ReplicaState {
  readonly id: ReplicaId;
  readonly config: CoreConfig;
  now: number;
  rngState: number;
  /** A restarted replica serves nothing until a peer's snapshot has brought it up to date. */
  phase: 'recovering' | 'serving';
  replicaTS: VTS;
  valueTS: VTS;
  prefixTS: VTS;
  /** Per node, the highest counter of that node's records collected from the log here. */
  gcTS: VTS;
  /** Keyed by `node#counter`. */
  readonly log: Map<string, LogEntry>;
  /** uid → keys of its copies in the log. */
  readonly copiesByUid: Map<UpdateId, Set<string>>;
  /** Per node, counters applied beyond the contiguous prefix recorded in prefixTS. */
  readonly appliedAhead: Map<ReplicaId, Set<number>>;
  /** The executed-operation table: uid → issue time. Bounded by the dedup window. */
  readonly executed: Map<UpdateId, number>;
  /** uid → timestamp of this replica's own copy, so a retried request gets the same answer. */
  readonly ownCopy: Map<UpdateId, VTS>;
  /**
   * The timestamp table: what each peer is known to have received (its
   * replicaTS, as last reported). No row = never heard from it (which blocks
   * garbage collection, as an empty row would).
   */
  readonly table: Map<ReplicaId, VTS>;
  /** Counts inputs; orders "heard from" against "retired" without relying on clock resolution. */
  seq: number;
  /** Peer → `seq` when its replicaTS was last reported to us. */
  readonly heardAt: Map<ReplicaId, number>;
  /** Retired incarnation → `seq` when it was retired. */
  readonly retiredAt: Map<ReplicaId, number>;
  /** Live peers (not including this replica). */
  readonly members: Set<ReplicaId>;
  /** Incarnations known to be gone for good; see `covered` in step.ts. */
  readonly retired: Set<ReplicaId>;
  readonly held: Map<RequestId, Held>;
  /** uid → next time this replica may ask a peer to take a second copy. */
  readonly recruitAt: Map<UpdateId, number>;
  nextGossipAt: number;
  snapshotAsk?: { peer: ReplicaId; at: number } | undefined;
  /** Peers we sent an unsolicited snapshot to, and when (rate limit). */
  readonly snapshotSentAt: Map<ReplicaId, number>;
  /** Sequencing of forced and immediate updates (primary.ts). */
  readonly primary: PrimaryState;
  /** Next time admission of a committed forced entry may pull what its prev lacks. */
  forcedPullAt: number;
}

export interface CreateOptions {
  readonly id: ReplicaId;
  readonly config: CoreConfig;
  readonly now: number;
  readonly seed: number;
  /** Live peers at start. */
  readonly peers: readonly ReplicaId[];
  /**
   * True when this replica starts together with the whole cluster from the
   * data file (nothing has happened yet): it serves at once. A replica that
   * joins a running cluster, or restarts after a crash, recovers first.
   */
  readonly fresh: boolean;
  /** Names of the replicas that elect the primary (all of them share this list). Empty: no forced updates. */
  readonly voters?: readonly string[] | undefined;
  /** The primary's state as persisted by this replica's previous life, if any. */
  readonly durable?: Durable | undefined;
}

export function createReplica(o: CreateOptions): ReplicaState {
  const peers = o.peers.filter((p) => p !== o.id);
  return {
    id: o.id,
    config: o.config,
    now: o.now,
    rngState: o.seed >>> 0,
    phase: o.fresh || peers.length === 0 ? 'serving' : 'recovering',
    replicaTS: zero(),
    valueTS: zero(),
    prefixTS: zero(),
    gcTS: zero(),
    log: new Map(),
    copiesByUid: new Map(),
    appliedAhead: new Map(),
    executed: new Map(),
    ownCopy: new Map(),
    table: new Map(),
    seq: 0,
    heardAt: new Map(),
    retiredAt: new Map(),
    members: new Set(peers),
    retired: new Set(),
    held: new Map(),
    recruitAt: new Map(),
    nextGossipAt: o.now,
    snapshotAsk: undefined,
    snapshotSentAt: new Map(),
    primary: createPrimary(o.voters ?? [], o.durable),
    forcedPullAt: 0,
  };
}

export const recordKey = (node: ReplicaId, counter: number): string => `${node}#${counter}`;
