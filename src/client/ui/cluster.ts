/**
 * The cluster panel's text: every replica manager with its status (as a word
 * and a symbol, never colour alone), its value and replica timestamps, its
 * log length and how far it lags behind the most advanced replica; every
 * front end with its prev, the one this session uses marked. The elected
 * primary, which sequences forced and immediate updates, is named in the
 * panel's title line ("primary rm2 · term 3", or "no primary (election)"; in
 * the title so that 80x24 keeps its rows for the trace) and marked by the
 * word "primary" next to its name.
 */
import type { ClusterView, ReplicaStatus, ReplicaView } from '../../core/protocol.js';
import type { VTS } from '../../core/vts.js';
import { aliasesFor, compactVts, hasOldIncarnations, idsIn, naturalCompare, type Aliases } from './timestamps.js';
import { primaryOf, sanitize } from '../format.js';
import { fit, line, pad, ruleLine, seg, textWidth, type Line, type Seg, type Style } from './text.js';

export const STATUS_SYMBOL: Readonly<Record<ReplicaStatus, string>> = { ACTIVE: '●', OVERLOADED: '◐', OFFLINE: '○' };
export const STATUS_STYLE: Readonly<Record<ReplicaStatus, Style>> = { ACTIVE: 'active', OVERLOADED: 'overloaded', OFFLINE: 'offline' };

export interface ClusterInput {
  readonly view: ClusterView | null;
  /** The front end this session talks to. */
  readonly fe: string | undefined;
  /** The session timestamp. */
  readonly prev: VTS;
  readonly width: number;
  /** Lines available; the front-end list is shortened first. */
  readonly height: number;
  readonly now: number;
  /** When the view last arrived (ms); undefined if never. */
  readonly receivedAt: number | undefined;
}

/** Display names for every replica id the view mentions. */
export function clusterAliases(view: ClusterView | null, prev: VTS, extra: readonly string[] = []): Aliases {
  if (!view) return aliasesFor([...Object.keys(prev), ...extra], []);
  const ts: (VTS | undefined)[] = [prev];
  for (const r of view.replicas) ts.push(r.valueTS, r.replicaTS);
  for (const f of view.frontends) ts.push(f.prev);
  return aliasesFor([...idsIn(ts), ...extra, ...view.replicas.map((r) => r.id)], view.replicas.map((r) => r.id));
}

function sortReplicas(list: readonly ReplicaView[]): ReplicaView[] {
  return [...list].sort((a, b) => naturalCompare(a.name, b.name) || (a.id < b.id ? -1 : 1));
}

/** Lines the panel wants at most, for layout. */
export function clusterWants(view: ClusterView | null): number {
  if (!view) return 3;
  return 3 + view.replicas.length + Math.max(1, view.frontends.length) + 1;
}

const PRIMARY_MARK = ' primary';

/** "primary rm2 · term 3", "no primary (election)", "no primary (no --voters)", or nothing when no replica speaks of an election. */
function primaryTitle(view: ClusterView, leader: { name: string; term: number } | null | undefined): Seg | undefined {
  if (leader) return seg(`primary ${sanitize(leader.name)} · term ${leader.term}`, 'primary');
  const roles = view.replicas.map((r) => r.primary?.role).filter((x) => x !== undefined);
  if (roles.length === 0) return undefined;
  return seg(roles.every((x) => x === 'none') ? 'no primary (no --voters)' : 'no primary (election)', 'warn');
}

export function clusterLines(c: ClusterInput, aliases: Aliases = clusterAliases(c.view, c.prev)): Line[] {
  const w = c.width;
  const out: Line[] = [];
  const age = c.receivedAt === undefined ? undefined : Math.max(0, c.now - c.receivedAt);
  const stale = age !== undefined && age > 2500 ? line(seg(`last update ${Math.round(age / 1000)} s ago`, 'warn')) : undefined;
  const leader = c.view ? primaryOf(c.view) : undefined;
  const election = c.view ? primaryTitle(c.view, leader) : undefined;
  out.push(ruleLine(line(seg('CLUSTER', 'head'), c.view ? seg(` as seen by ${sanitize(c.view.via)}`, 'dim') : '', ...(election ? [seg(' · ', 'dim'), election] : [])), w, stale));
  if (!c.view) {
    out.push(line(seg('waiting for the cluster view from the front end…', 'dim')));
    out.push(line('you  ', seg('prev ', 'dim'), compactVts(c.prev, aliases)));
    return out.slice(0, Math.max(1, c.height)).map((l) => fit(l, w));
  }
  const reps = sortReplicas(c.view.replicas);
  const isPrimary = (r: ReplicaView) => !!leader && r.id === leader.id;
  const nameW = Math.max(4, ...reps.map((r) => r.name.length + (isPrimary(r) ? PRIMARY_MARK.length : 0)), ...c.view.frontends.map((f) => f.name.length)) + 1;
  const statusW = 15;
  const numW = 5;
  const tsW = Math.max(6, Math.floor((w - nameW - statusW - 2 * numW - 2) / 2));
  out.push(
    line(
      seg(pad('RM', nameW) + pad('STATUS', statusW) + pad('valueTS', tsW + 1) + pad('replicaTS', tsW + 1) + pad('log', numW, 'right') + pad('lag', numW, 'right'), 'dim'),
    ),
  );
  let recovering = false;
  for (const r of reps) {
    const sym = STATUS_SYMBOL[r.status] ?? '?';
    const rec = r.phase === 'recovering';
    recovering ||= rec;
    const status = `${sym} ${r.status}${rec ? ' ↻' : ''}`;
    const same = compactVts(r.replicaTS, aliases) === compactVts(r.valueTS, aliases);
    const name = sanitize(r.name);
    out.push(
      line(
        isPrimary(r) ? seg(name, 'primary') : name,
        isPrimary(r) ? seg(pad(PRIMARY_MARK, nameW - textWidth(name)), 'primary') : pad('', nameW - textWidth(name)),
        seg(pad(status, statusW), STATUS_STYLE[r.status] ?? 'plain'),
        pad(compactVts(r.valueTS, aliases), tsW) + ' ',
        seg(pad(same ? '= valueTS' : compactVts(r.replicaTS, aliases), tsW) + ' ', same ? 'dim' : 'plain'),
        pad(String(r.logLength), numW, 'right'),
        seg(pad(String(r.lag), numW, 'right'), r.lag > 0 ? 'warn' : 'plain'),
      ),
    );
  }
  if (reps.length === 0) out.push(line(seg('no replica managers are registered', 'warn')));
  const fes = [...c.view.frontends].sort((a, b) => naturalCompare(a.name, b.name));
  const room = Math.max(1, c.height - out.length - 2);
  const shown = fes.length > room ? fes.slice(0, room - 1) : fes;
  for (const f of shown) {
    const mine = f.name === c.fe;
    out.push(
      line(
        seg(pad(`FE ${sanitize(f.name)}`, nameW + 4), mine ? 'you' : 'plain'),
        seg('prev ', 'dim'),
        compactVts(f.prev, aliases),
        mine ? seg('  ◀ this session', 'you') : '',
      ),
    );
  }
  if (shown.length < fes.length) out.push(line(seg(`… and ${fes.length - shown.length} more front ends`, 'dim')));
  if (fes.length === 0) out.push(line(seg('no front ends are registered', 'warn')));
  out.push(line(seg(pad('you', nameW + 4), 'you'), seg('prev ', 'dim'), compactVts(c.prev, aliases), seg('  (session timestamp)', 'dim')));
  const notes: string[] = ['lag = updates behind the most advanced RM'];
  if (hasOldIncarnations(aliases)) notes.push('* = earlier incarnation');
  if (recovering) notes.push('↻ recovering');
  if (out.length < c.height) out.push(line(seg(notes.join(' · '), 'dim')));
  return out.slice(0, Math.max(1, c.height)).map((l) => fit(l, w));
}
