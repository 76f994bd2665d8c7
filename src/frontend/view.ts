/**
 * The cluster view a front end shows its clients, built from the naming
 * service's member lists (replica metas and front end metas). Pure.
 */
import type { ClusterView, FrontendView, Member, ReplicaMeta, ReplicaView } from '../core/protocol.js';
import type { ReplicaId } from '../core/ids.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';
import { electedLeader } from './primary.js';
import { parseFrontendPrev, parseReplicaMeta } from './schemas.js';

export interface ViewInput {
  /** Members of any kind, as the naming service lists them. */
  readonly members: readonly Member[];
  /** The front end building the view. */
  readonly via: string;
  readonly at: number;
  /**
   * This front end's own entry, from its live state: naming may not list it
   * yet, or list a prev published a moment ago.
   */
  readonly self?: { readonly url: string; readonly prev: VTS } | undefined;
}

/**
 * Updates replica `valueTS` has not applied that the most advanced replica
 * has: the sum over entries of (max over replicas − this replica's entry).
 * `max` must be the entry-wise maximum of every replica's valueTS.
 */
export function lagOf(valueTS: VTS, max: VTS): number {
  let lag = 0;
  for (const id of Object.keys(max) as ReplicaId[]) lag += Math.max(0, V.get(max, id) - V.get(valueTS, id));
  return lag;
}

export function buildClusterView(input: ViewInput): ClusterView {
  const metas: { m: Member; meta: ReplicaMeta }[] = [];
  for (const m of input.members) {
    if (m.kind !== 'replica') continue;
    const meta = parseReplicaMeta(m.meta);
    // A replica whose meta cannot be read cannot be shown (nor used).
    if (meta) metas.push({ m, meta });
  }
  const max = V.mergeAll(metas.map((x) => x.meta.valueTS));
  const replicas: ReplicaView[] = metas
    .map(({ m, meta }) => ({
      name: m.name,
      id: meta.id,
      url: m.url,
      status: meta.status,
      phase: meta.phase,
      valueTS: meta.valueTS,
      replicaTS: meta.replicaTS,
      logLength: meta.logLength,
      executed: meta.executed,
      lag: lagOf(meta.valueTS, max),
      lastGossipAt: meta.lastGossipAt,
      ...(meta.primary ? { primary: meta.primary } : {}),
    }))
    .sort((a, b) => byName(a.name, b.name));
  const leader = electedLeader(replicas);
  const primary = leader ? { id: leader.id, name: leader.name, term: leader.primary!.term } : null;

  const frontends: FrontendView[] = [];
  let sawSelf = false;
  for (const m of input.members) {
    if (m.kind !== 'frontend') continue;
    if (m.name === input.via && input.self) {
      sawSelf = true;
      frontends.push({ name: m.name, url: m.url, prev: input.self.prev });
    } else {
      frontends.push({ name: m.name, url: m.url, prev: parseFrontendPrev(m.meta) });
    }
  }
  if (!sawSelf && input.self) frontends.push({ name: input.via, url: input.self.url, prev: input.self.prev });
  frontends.sort((a, b) => byName(a.name, b.name));

  return { replicas, frontends, primary, via: input.via, at: input.at };
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
