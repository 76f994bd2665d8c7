/**
 * Vector timestamps for people: `rm1:12 rm2:9`.
 *
 * Replica ids carry an incarnation suffix (`rm1.kx3f`); on screen only the
 * name is shown. When a name has had more than one incarnation (a replica was
 * restarted and its old id still appears in timestamps), the ids that are not
 * the live one get a `*` per earlier incarnation, so `rm1:3 rm1*:12` reads as
 * "3 updates from the current rm1, 12 from the one before".
 */
import type { VTS } from '../../core/vts.js';
import { sanitize } from '../format.js';

export type Aliases = ReadonlyMap<string, string>;

/** The name part of an id, made safe to print (ids come from other processes). */
function nameOf(id: string): string {
  const dot = id.lastIndexOf('.');
  return sanitize(dot < 0 ? id : id.slice(0, dot));
}

/** Natural order: rm2 before rm10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Display labels for every id in `ids`. `live` are the ids of replicas that
 * are running now; they keep the plain name.
 */
export function aliasesFor(ids: Iterable<string>, live: Iterable<string>): Aliases {
  const liveSet = new Set(live);
  const byName = new Map<string, string[]>();
  for (const id of new Set([...ids, ...liveSet])) {
    const n = nameOf(id);
    const list = byName.get(n) ?? [];
    list.push(id);
    byName.set(n, list);
  }
  const out = new Map<string, string>();
  for (const [n, list] of byName) {
    if (list.length === 1) {
      out.set(list[0] ?? n, n);
      continue;
    }
    const current = list.filter((id) => liveSet.has(id));
    const older = list.filter((id) => !liveSet.has(id)).sort();
    for (const id of current) out.set(id, n);
    older.forEach((id, i) => out.set(id, n + '*'.repeat(i + 1)));
  }
  return out;
}

export function label(id: string, aliases: Aliases): string {
  return aliases.get(id) ?? nameOf(id);
}

/** Every replica id mentioned by a list of timestamps. */
export function idsIn(list: Iterable<VTS | undefined>): string[] {
  const s = new Set<string>();
  for (const t of list) if (t) for (const k of Object.keys(t)) s.add(k);
  return [...s];
}

/** `rm1:12 rm2:9`, in name order; "0" for the empty timestamp. */
export function compactVts(t: VTS | undefined, aliases: Aliases): string {
  if (!t) return '-';
  const parts = Object.entries(t as Record<string, number>)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => [label(k, aliases), v] as const)
    .sort((a, b) => naturalCompare(a[0], b[0]));
  if (parts.length === 0) return '0';
  return parts.map(([k, v]) => `${k}:${v}`).join(' ');
}

/** True when some name in `aliases` stands for more than one incarnation. */
export function hasOldIncarnations(aliases: Aliases): boolean {
  for (const v of aliases.values()) if (v.endsWith('*')) return true;
  return false;
}
