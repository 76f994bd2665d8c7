/**
 * Where a front end sends a forced or immediate update: to the one replica
 * that can sequence it, the elected primary. Pure.
 *
 * What the front end knows of the election is what each replica last
 * published in its naming meta (`PrimaryInfo`), so it can be stale: a
 * replica that is not (or no longer) primary answers NOT_PRIMARY, naming the
 * primary when it knows one, and the front end follows that (`redirect`).
 */
import type { ReplicaId } from '../core/ids.js';
import type { PrimaryInfo, ReplicaStatus } from '../core/protocol.js';

/** Why a replica was chosen for a forced/immediate update (defined with the trace events). */
export type { PrimaryReason } from '../core/protocol.js';
import type { PrimaryReason } from '../core/protocol.js';

export interface PrimaryCandidate {
  readonly id: ReplicaId;
  readonly status: ReplicaStatus;
  readonly inflight: number;
  readonly primary?: PrimaryInfo | undefined;
}

export interface PrimaryChoice<R extends PrimaryCandidate = PrimaryCandidate> {
  readonly replica: R;
  readonly reason: PrimaryReason;
  /** The election term the choice rests on, when known. */
  readonly term?: number | undefined;
}

const byId = (a: PrimaryCandidate, b: PrimaryCandidate) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The replica a forced/immediate update goes to, never an OFFLINE one:
 * 1. `redirect`, the primary a NOT_PRIMARY answer named, if it is usable;
 * 2. the replica reporting role 'leader' with the highest term (two leaders
 *    can exist for a moment, the older one not knowing yet it was replaced),
 *    unless replicas already name a leader of a higher term (3);
 * 3. the leader that replicas name, highest term first, if it is listed;
 * 4. any serving replica, ACTIVE before OVERLOADED, least loaded first
 *    (`order` breaks ties, e.g. a shuffle, so a stream of retries spreads).
 * Undefined when every replica is OFFLINE (or none is listed).
 */
export function choosePrimary<R extends PrimaryCandidate>(
  replicas: readonly R[],
  redirect?: ReplicaId | undefined,
  order: (list: R[]) => R[] = (l) => l,
): PrimaryChoice<R> | undefined {
  const usable = replicas.filter((r) => r.status !== 'OFFLINE');
  if (usable.length === 0) return undefined;
  const find = (id: ReplicaId | null | undefined) => (id ? usable.find((r) => r.id === id) : undefined);

  const redirected = find(redirect);
  if (redirected) return { replica: redirected, reason: 'redirect', term: redirected.primary?.role === 'leader' ? redirected.primary.term : undefined };

  const leaders = usable.filter((r) => r.primary?.role === 'leader').sort((a, b) => b.primary!.term - a.primary!.term || byId(a, b));
  const leader = leaders[0];

  // Hints come from every replica's meta, OFFLINE ones included: what they know of the election is still news.
  const hints = replicas
    .filter((r) => r.primary?.leader)
    .map((r) => ({ leader: r.primary!.leader!, term: r.primary!.term }))
    .sort((a, b) => b.term - a.term || (a.leader < b.leader ? -1 : a.leader > b.leader ? 1 : 0));
  const hinted = hints.map((h) => ({ r: find(h.leader), term: h.term })).find((h) => h.r !== undefined);
  // A leader's own word wins, unless the others already follow a leader of a later term (its meta is not out yet).
  if (leader && !(hinted && hinted.term > leader.primary!.term)) return { replica: leader, reason: 'primary', term: leader.primary!.term };
  if (hinted?.r) return { replica: hinted.r, reason: 'primary', term: hinted.term };

  const rank = (r: R) => (r.status === 'ACTIVE' ? 0 : 1);
  const any = order([...usable].sort(byId)).sort((a, b) => rank(a) - rank(b) || a.inflight - b.inflight)[0];
  return any ? { replica: any, reason: 'guess' } : undefined;
}

/** The elected primary as the replicas report it: the leader with the highest term, or undefined. */
export function electedLeader<R extends { readonly primary?: PrimaryInfo | undefined }>(replicas: readonly R[]): R | undefined {
  let best: R | undefined;
  for (const r of replicas) {
    if (r.primary?.role !== 'leader') continue;
    if (!best || r.primary.term > best.primary!.term) best = r;
  }
  return best;
}
