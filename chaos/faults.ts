/**
 * The fault schedule of a chaos run, computed from the seed alone.
 *
 * `planFaults(seed, durationMs, topology)` is a pure function: the same seed,
 * duration and topology give the same list of steps, byte for byte (see
 * `planDigest`). Carrying the plan out is not deterministic: processes start,
 * gossip and time out on the machine's clock, and a step that would break the
 * fault model when its time comes (killing a replica while another one is
 * down, or while the victim holds updates nobody else has received yet) is
 * deferred and, if it stays unsafe, skipped; the run reports what was done.
 *
 * The plan is made of independent tracks:
 * - replicas: one replica fault at a time (kill and restart, OFFLINE, or a
 *   partition of the traffic into it), with a gap after each so a restarted
 *   replica can recover; at most one replica is unavailable at any moment;
 *   about half of these kill whichever replica is the elected primary
 *   when the step comes (its target is decided then, so the plan says
 *   `primary`), so a 30-second run sees several failovers;
 * - replica load: OVERLOADED spells (the replica stays available);
 * - front ends: kill and restart, partition, connection resets (one at a time);
 * - naming: kill and restart, short partitions (shorter than the lease, so
 *   members are not declared dead for it), connection resets;
 * - links: windows of delay with jitter and of message loss on any
 *   component's proxy, and connection resets.
 */
import { createHash } from 'node:crypto';
import { rngFromState, seedFrom, type Rng } from '../src/core/rng.js';

export type FaultKind =
  | 'rm-kill'
  | 'primary-kill'
  | 'rm-offline'
  | 'rm-overloaded'
  | 'rm-partition'
  | 'fe-kill'
  | 'fe-partition'
  | 'naming-kill'
  | 'naming-partition'
  | 'link-delay'
  | 'link-drop'
  | 'link-reset';

export const FAULT_KINDS: readonly FaultKind[] = [
  'rm-kill',
  'primary-kill',
  'rm-offline',
  'rm-overloaded',
  'rm-partition',
  'fe-kill',
  'fe-partition',
  'naming-kill',
  'naming-partition',
  'link-delay',
  'link-drop',
  'link-reset',
];

export interface FaultStep {
  /** Milliseconds after the start of the fault phase. */
  readonly at: number;
  readonly kind: FaultKind;
  /** Component name: rm1…, fe1…, naming; `primary` for whichever replica is primary when the step comes. */
  readonly target: string;
  /** How long the fault lasts (a killed component restarts after it); 0 for instant faults. */
  readonly durationMs: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly dropRate?: number;
}

/** The target of a primary kill: named when the step is carried out. */
export const PRIMARY = 'primary';

export interface Topology {
  readonly replicas: readonly string[];
  readonly frontends: readonly string[];
  readonly naming: string;
}

export interface PlanOptions {
  /** The naming lease: naming partitions stay below half of it. */
  readonly leaseMs: number;
  /** Scales how often faults come (1 = default). */
  readonly intensity?: number;
}

/** Uniform integer in [lo, hi]. */
const between = (r: Rng, lo: number, hi: number) => r.int(lo, hi);

function weighted<T extends string>(r: Rng, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((s, [, w]) => s + w, 0);
  let x = r.next() * total;
  for (const [k, w] of choices) {
    x -= w;
    if (x < 0) return k;
  }
  return choices[choices.length - 1]![0];
}

export function planFaults(seed: number, durationMs: number, topo: Topology, o: PlanOptions): FaultStep[] {
  const steps: FaultStep[] = [];
  const k = 1 / Math.max(0.05, o.intensity ?? 1);
  const end = durationMs - 500;

  // Replicas: one unavailability at a time.
  {
    const r = rngFromState(seedFrom(`chaos:${seed}:replicas`));
    let t = between(r, 800, 2500);
    while (t < end) {
      const kind = weighted(r, [
        ['primary-kill', 6],
        ['rm-kill', 3],
        ['rm-offline', 2],
        ['rm-partition', 3],
      ] as const);
      const target = kind === 'primary-kill' ? PRIMARY : r.pick(topo.replicas);
      const durationMs = kind === 'rm-kill' || kind === 'primary-kill' ? between(r, 300, 3000) : kind === 'rm-offline' ? between(r, 800, 4000) : between(r, 400, 2500);
      steps.push({ at: t, kind, target, durationMs });
      // Room to recover before the next one (a restarted replica needs a snapshot).
      t += durationMs + Math.round(between(r, 1500, 4000) * k);
    }
  }
  // Replica load.
  {
    const r = rngFromState(seedFrom(`chaos:${seed}:load`));
    let t = between(r, 500, 4000);
    while (t < end) {
      steps.push({ at: t, kind: 'rm-overloaded', target: r.pick(topo.replicas), durationMs: between(r, 500, 5000) });
      t += Math.round(between(r, 2000, 7000) * k);
    }
  }
  // Front ends: one at a time.
  {
    const r = rngFromState(seedFrom(`chaos:${seed}:frontends`));
    let t = between(r, 1500, 5000);
    while (t < end) {
      const kind = weighted(r, [
        ['fe-kill', 3],
        ['fe-partition', 2],
        ['link-reset', 2],
      ] as const);
      const target = r.pick(topo.frontends);
      const durationMs = kind === 'link-reset' ? 0 : between(r, 300, 3000);
      steps.push({ at: t, kind, target, durationMs });
      t += durationMs + Math.round(between(r, 2500, 7000) * k);
    }
  }
  // Naming.
  {
    const r = rngFromState(seedFrom(`chaos:${seed}:naming`));
    let t = between(r, 3000, 8000);
    while (t < end) {
      const kind = weighted(r, [
        ['naming-kill', 3],
        ['naming-partition', 2],
        ['link-reset', 1],
      ] as const);
      const durationMs = kind === 'naming-kill' ? between(r, 200, 2500) : kind === 'naming-partition' ? between(r, 100, Math.floor(o.leaseMs / 2)) : 0;
      steps.push({ at: t, kind, target: topo.naming, durationMs });
      t += durationMs + Math.round(between(r, 5000, 12000) * k);
    }
  }
  // Links: delay and loss on any component's proxy; overlapping allowed.
  {
    const r = rngFromState(seedFrom(`chaos:${seed}:links`));
    const all = [...topo.replicas, ...topo.frontends, topo.naming];
    let t = between(r, 200, 1500);
    while (t < end) {
      const kind = weighted(r, [
        ['link-delay', 4],
        ['link-drop', 3],
        ['link-reset', 1],
      ] as const);
      const target = r.pick(all);
      if (kind === 'link-delay') {
        steps.push({ at: t, kind, target, durationMs: between(r, 500, 5000), delayMs: between(r, 5, 150), jitterMs: between(r, 0, 60) });
      } else if (kind === 'link-drop') {
        steps.push({ at: t, kind, target, durationMs: between(r, 500, 4000), dropRate: between(r, 2, 20) / 100 });
      } else {
        steps.push({ at: t, kind, target, durationMs: 0 });
      }
      t += Math.round(between(r, 600, 2500) * k);
    }
  }
  return steps.filter((s) => s.at < end).sort((a, b) => a.at - b.at || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.target < b.target ? -1 : 1));
}

/** A short digest of a plan, printed with the seed so two runs can be seen to share one. */
export function planDigest(steps: readonly FaultStep[]): string {
  return createHash('sha256').update(JSON.stringify(steps)).digest('hex').slice(0, 12);
}

/** One line per step, for the run log. */
export function describeStep(s: FaultStep): string {
  const extra = [
    s.durationMs ? `for ${s.durationMs} ms` : '',
    s.delayMs !== undefined ? `delay ${s.delayMs}±${s.jitterMs ?? 0} ms` : '',
    s.dropRate !== undefined ? `drop ${(s.dropRate * 100).toFixed(0)}%` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `+${(s.at / 1000).toFixed(1)}s ${s.kind} ${s.target}${extra ? ` (${extra})` : ''}`;
}
