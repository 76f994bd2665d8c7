/**
 * The record of a chaos run: every client operation (invocation and
 * completion time, client, request, reply, the session timestamps before and
 * after) and every fault (when it started, when the component was back, or
 * why it was skipped). The checker (checker.ts) reads nothing else, and a
 * history can be written to a JSON-lines file and checked again later.
 */
import { writeFileSync } from 'node:fs';
import type { ApplyOutcome, Ordering, Query, Update } from '../src/core/ops.js';
import type { ClientReply } from '../src/core/protocol.js';
import type { VTS } from '../src/core/vts.js';
import type { FaultKind } from './faults.js';

/** A client reply as recorded (results kept for the queries the checker reads). */
export type RecordedReply =
  | {
      readonly ok: true;
      readonly kind: 'query';
      readonly result: unknown;
      readonly ts: VTS;
      readonly valueTS: VTS;
      readonly servedBy: readonly string[];
    }
  | {
      readonly ok: true;
      readonly kind: 'update';
      readonly uid: string;
      readonly ts: VTS;
      readonly copies: Readonly<Record<string, VTS>>;
      readonly warning?: string | undefined;
      readonly servedBy: readonly string[];
      /** Forced and immediate updates: how they were ordered, and what applying them did (a new movie's id). */
      readonly ordering?: Ordering | undefined;
      readonly result?: ApplyOutcome | undefined;
    }
  | { readonly ok: false; readonly code: string; readonly message: string };

export interface OpRecord {
  readonly id: number;
  readonly client: string;
  readonly user: number;
  readonly kind: 'query' | 'update';
  readonly query?: Query | undefined;
  readonly update?: Update | undefined;
  /** Milliseconds since the start of the run. */
  readonly invokedAt: number;
  completedAt?: number | undefined;
  /** The session timestamp sent with the request, and the one after the reply. */
  readonly prevBefore: VTS;
  prevAfter?: VTS | undefined;
  reply?: RecordedReply | undefined;
  /** The front end the session used before and after. */
  readonly feBefore?: string | undefined;
  feAfter?: string | undefined;
  /** Part of the final reads after healing. */
  readonly final?: boolean | undefined;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** A primary kill names its victim once it is known. */
  target: string;
  /** Planned start (ms into the fault phase), and actual start and end (ms since the run start). */
  readonly plannedAt: number;
  startedAt?: number | undefined;
  /** When the fault was lifted; for a kill, when the restarted component was serving again. */
  endedAt?: number | undefined;
  outcome: 'pending' | 'done' | 'skipped' | 'failed';
  note?: string | undefined;
  /** For replica kills (of the primary too): the incarnation killed and, per replica entry, how far the other replicas had received its log. */
  victimId?: string | undefined;
  coveredByOthers?: Readonly<Record<string, number>> | undefined;
  /** Whether the fault makes a replica unavailable (killed, OFFLINE, partitioned). */
  readonly rmUnavailable: boolean;
}

export class History {
  readonly ops: OpRecord[] = [];
  readonly faults: FaultRecord[] = [];
  private readonly t0 = performance.now();
  private nextId = 1;

  /** Milliseconds since the history started. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  invoke(o: Omit<OpRecord, 'id' | 'invokedAt'>): OpRecord {
    const rec: OpRecord = { ...o, id: this.nextId++, invokedAt: this.now() };
    this.ops.push(rec);
    return rec;
  }

  complete(rec: OpRecord, reply: ClientReply, prevAfter: VTS, feAfter: string | undefined): void {
    rec.completedAt = this.now();
    rec.prevAfter = prevAfter;
    rec.feAfter = feAfter;
    rec.reply = recordReply(reply);
  }

  fault(f: Omit<FaultRecord, 'outcome'>): FaultRecord {
    const rec: FaultRecord = { ...f, outcome: 'pending' };
    this.faults.push(rec);
    return rec;
  }

  /** Writes the history as JSON lines: one `{"op": …}` or `{"fault": …}` per line. */
  writeJsonl(file: string): void {
    const lines = [...this.ops.map((op) => JSON.stringify({ op })), ...this.faults.map((fault) => JSON.stringify({ fault }))];
    writeFileSync(file, `${lines.join('\n')}\n`);
  }
}

/**
 * A reply as kept in the history. Query results lose what the checker never
 * reads (titles and genres), so a long run's history stays small: a `mine`
 * keeps (movieId, rating, timestamp) per rating, a search its movie ids.
 */
export function recordReply(r: ClientReply): RecordedReply {
  if (!r.ok) return { ok: false, code: r.code, message: r.message };
  if (r.kind === 'query') return { ok: true, kind: 'query', result: compact(r.result), ts: r.ts, valueTS: r.valueTS, servedBy: [...r.servedBy] };
  return {
    ok: true,
    kind: 'update',
    uid: r.uid,
    ts: r.ts,
    copies: r.copies,
    warning: r.warning,
    servedBy: [...r.servedBy],
    ...(r.ordering ? { ordering: r.ordering } : {}),
    ...(r.result ? { result: r.result } : {}),
  };
}

function compact(result: unknown): unknown {
  const x = result as Record<string, unknown> | null;
  if (!x || typeof x !== 'object') return result;
  if (x.kind === 'mine' && Array.isArray(x.ratings)) {
    return {
      kind: 'mine',
      userId: x.userId,
      ratings: (x.ratings as Record<string, unknown>[]).map((y) => (y && typeof y === 'object' ? { movieId: y.movieId, rating: y.rating, timestamp: y.timestamp } : y)),
    };
  }
  if (x.kind === 'search' && Array.isArray(x.movies)) {
    return { kind: 'search', total: x.total, movieIds: (x.movies as Record<string, unknown>[]).map((m) => (m && typeof m === 'object' ? m.movieId : m)) };
  }
  return result;
}
