/**
 * Vector timestamps: a map from replica-manager id to a counter.
 *
 * A missing entry counts as 0, because replica managers can join at any time
 * and a timestamp minted before a replica existed must still compare with one
 * minted after. Every operation here is pure: inputs are never mutated and
 * results are fresh, frozen objects, so a timestamp can be shared freely
 * between a replica's state, its log records and messages in flight.
 *
 * Canonical form: entries are non-negative safe integers; zero entries are
 * dropped and keys are sorted, so two equal timestamps serialise identically.
 */
import type { ReplicaId } from './ids.js';

export type VTS = Readonly<Record<ReplicaId, number>>;

const EMPTY: VTS = Object.freeze({}) as VTS;

/** The timestamp of "nothing seen yet". */
export function zero(): VTS {
  return EMPTY;
}

/** Entry of `a` for `id`, 0 when absent. */
export function get(a: VTS, id: ReplicaId): number {
  return a[id] ?? 0;
}

function keysOf(a: VTS, b: VTS): Set<ReplicaId> {
  const keys = new Set<ReplicaId>(Object.keys(a) as ReplicaId[]);
  for (const k of Object.keys(b) as ReplicaId[]) keys.add(k);
  return keys;
}

/** a ≤ b: every entry of a is at most the matching entry of b. */
export function leq(a: VTS, b: VTS): boolean {
  for (const k of Object.keys(a) as ReplicaId[]) {
    if ((a[k] ?? 0) > (b[k] ?? 0)) return false;
  }
  return true;
}

/** a = b entry-wise (missing = 0). */
export function equals(a: VTS, b: VTS): boolean {
  return leq(a, b) && leq(b, a);
}

/** a < b: a ≤ b and some entry of a is strictly smaller. */
export function lt(a: VTS, b: VTS): boolean {
  return leq(a, b) && !leq(b, a);
}

/** Neither a ≤ b nor b ≤ a: the two histories diverged. */
export function concurrent(a: VTS, b: VTS): boolean {
  return !leq(a, b) && !leq(b, a);
}

/** Entry-wise maximum; a new timestamp, inputs untouched. */
export function merge(a: VTS, b: VTS): VTS {
  const out: Record<ReplicaId, number> = {};
  for (const k of keysOf(a, b)) {
    const v = Math.max(a[k] ?? 0, b[k] ?? 0);
    if (v > 0) out[k] = v;
  }
  return canonical(out);
}

/** Merge of any number of timestamps. */
export function mergeAll(list: Iterable<VTS>): VTS {
  let acc = EMPTY;
  for (const t of list) acc = merge(acc, t);
  return acc;
}

/** The ids whose entry in `b` is greater than in `a` (what a must pull to catch up with b). */
export function ahead(a: VTS, b: VTS): ReplicaId[] {
  const out: ReplicaId[] = [];
  for (const k of Object.keys(b) as ReplicaId[]) {
    if ((b[k] ?? 0) > (a[k] ?? 0)) out.push(k);
  }
  return out.sort();
}

/** A copy of `a` with entry `id` set to `value`. */
export function withEntry(a: VTS, id: ReplicaId, value: number): VTS {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad counter ${value}`);
  return canonical({ ...a, [id]: value });
}

/** Sum of entries: a number that strictly grows along causality (a < b ⇒ sum(a) < sum(b)). */
export function sum(a: VTS): number {
  let s = 0;
  for (const k of Object.keys(a) as ReplicaId[]) s += a[k] ?? 0;
  return s;
}

/** Drops zeros, sorts keys, freezes. */
function canonical(raw: Record<string, number>): VTS {
  const out: Record<string, number> = {};
  for (const k of Object.keys(raw).sort()) {
    const v = raw[k] ?? 0;
    if (v !== 0) out[k] = v;
  }
  return Object.freeze(out) as VTS;
}

/** Stable text form, e.g. `{"rm1.a":3,"rm2.b":1}`. */
export function serialise(a: VTS): string {
  return JSON.stringify(canonical(a as Record<string, number>));
}

export class VtsFormatError extends Error {
  override name = 'VtsFormatError';
}

/**
 * Parses and validates an untrusted value (already JSON-decoded or a string).
 * Rejects anything but an object of non-negative safe integers keyed by
 * non-empty ids, so a malformed timestamp can never enter replica state.
 */
export function parse(input: unknown): VTS {
  const value = typeof input === 'string' ? safeJson(input) : input;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new VtsFormatError('a vector timestamp must be an object');
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.length === 0 || k.length > 64) throw new VtsFormatError(`bad replica id "${k.slice(0, 80)}"`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new VtsFormatError(`entry "${k}" must be a non-negative integer`);
    }
    out[k] = v;
  }
  return canonical(out);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new VtsFormatError('vector timestamp is not valid JSON');
  }
}

/** Short human form for logs and the UI: `rm1.a:3 rm2.b:1`, or `∅`. */
export function format(a: VTS): string {
  const keys = Object.keys(a).sort();
  if (keys.length === 0) return '∅';
  return keys.map((k) => `${k}:${a[k as ReplicaId]}`).join(' ');
}
