/**
 * The chaos checker's rules for forced (addMovie) and immediate (forgetUser)
 * updates that do not concern rows, and their figures for the summary.
 * (Forgets as "no rating" on every row of their user are judged with the
 * rows, in checker.ts.)
 *
 * A forced or immediate update is acknowledged with the timestamp of its
 * forced record: prev[forced := seq], where seq is its place in the total
 * order the primary gave it. Rules:
 *
 * - Sequenced: every acknowledged forced update has seq ≥ 1; one uid has one
 *   seq, and no two uids share one.
 * - Real time: an update invoked after another one was acknowledged comes
 *   later in the order (the primary appends it after the other committed).
 * - Movies: a title (compared case-insensitively, spaces collapsed) keeps
 *   one id and an id belongs to one title; an add invoked after the same
 *   title's add was acknowledged reports `existed`; new movies' ids grow with
 *   their seq (each is the highest id so far + 1 when applied, and every
 *   replica applies forced updates in seq order).
 * - After healing: every acknowledged forced update is covered by every
 *   replica's valueTS, and every replica answers `movie ID` with the title
 *   its client was given.
 *
 * Failover, for the summary: for each kill of the primary, the time until
 * the first forced or immediate update issued after the kill is
 * acknowledged. (Not simply the next acknowledgement: a follower rightly
 * answers the retry of an update the old primary had committed, without any
 * new primary.) The clients issue one every ~0.1–0.2 s, so the figure is at
 * most that much above the real gap.
 */
import { titleKey } from '../src/core/ops.js';
import * as V from '../src/core/vts.js';
import type { VTS } from '../src/core/vts.js';
import type { FinalReplica, Violation } from './checker.js';
import type { FaultRecord, OpRecord, RecordedReply } from './history.js';

/** Movie id → the title a replica answers for it (null: it does not know the movie). */
export type MovieAnswers = ReadonlyMap<number, string | null>;

export const FORCED_KEY = 'forced';

export interface Failover {
  /** When the primary was killed (ms since the run start), and which incarnation. */
  readonly at: number;
  readonly victim: string;
  /** Until the first forced/immediate update issued after the kill was acknowledged; null if none was before the end. */
  readonly ms: number | null;
}

export interface ForcedStats {
  readonly addMovie: { readonly sent: number; readonly acked: number; readonly existed: number };
  readonly forgetUser: { readonly sent: number; readonly acked: number; readonly removed: number };
  readonly failovers: readonly Failover[];
  /** Over the failovers that ended (ms); null when there were none. */
  readonly failoverMedianMs: number | null;
  readonly failoverMaxMs: number | null;
}

type UpdateReply = Extract<RecordedReply, { ok: true; kind: 'update' }>;

/**
 * The timestamp of the forced record an acknowledged forced/immediate update
 * got: the copy with a forced entry (the primary's), or else the reply's own
 * timestamp if it has one. Undefined when neither carries a sequence number.
 */
export function forcedTsOf(r: UpdateReply): VTS | undefined {
  let best: VTS | undefined;
  for (const ts of Object.values(r.copies)) if (V.get(ts, FORCED_KEY as never) > (best ? V.get(best, FORCED_KEY as never) : 0)) best = ts;
  if (best) return best;
  return V.get(r.ts, FORCED_KEY as never) > 0 ? r.ts : undefined;
}

const isForced = (op: OpRecord): boolean => op.kind === 'update' && (op.update?.kind === 'addMovie' || op.update?.kind === 'forgetUser');

interface Acked {
  readonly op: OpRecord;
  readonly reply: UpdateReply;
  readonly uid: string;
  readonly ts: VTS | undefined;
  readonly seq: number;
}

function ackedForced(ops: readonly OpRecord[]): Acked[] {
  const out: Acked[] = [];
  for (const op of ops) {
    if (!isForced(op) || !op.reply?.ok || op.reply.kind !== 'update' || op.completedAt === undefined) continue;
    const ts = forcedTsOf(op.reply);
    out.push({ op, reply: op.reply, uid: op.reply.uid, ts, seq: ts ? V.get(ts, FORCED_KEY as never) : 0 });
  }
  return out;
}

/** Movie ids clients were given by acknowledged adds (to ask every replica after healing). */
export function ackedMovieIds(ops: readonly OpRecord[]): number[] {
  const ids = new Set<number>();
  for (const a of ackedForced(ops)) if (a.reply.result?.kind === 'addMovie') ids.add(a.reply.result.movieId);
  return [...ids].sort((x, y) => x - y);
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** For each done kill of the primary: the time until the first forced/immediate update issued after it was acknowledged. */
export function failovers(ops: readonly OpRecord[], faults: readonly FaultRecord[]): Failover[] {
  const acks = ackedForced(ops)
    .filter((a) => !a.op.final)
    .sort((a, b) => a.op.completedAt! - b.op.completedAt!);
  return faults
    .filter((f) => f.kind === 'primary-kill' && f.outcome === 'done' && f.startedAt !== undefined)
    .map((f) => {
      const next = acks.find((a) => a.op.invokedAt > f.startedAt!);
      return { at: f.startedAt!, victim: f.victimId ?? f.target, ms: next ? Math.round(next.op.completedAt! - f.startedAt!) : null };
    });
}

export interface ForcedInput {
  readonly ops: readonly OpRecord[];
  readonly faults: readonly FaultRecord[];
  readonly final?: readonly FinalReplica[] | undefined;
  /** When the run ended (violations found after healing are dated so). */
  readonly endAt: number;
}

export function checkForced(input: ForcedInput): { violations: Violation[]; stats: ForcedStats } {
  const violations: Violation[] = [];
  const add = (v: Violation) => violations.push(v);
  const acked = ackedForced(input.ops);
  const who = (a: Acked) => ({ client: a.op.client, op: a.op.id });
  const name = (a: Acked) => `${a.op.update!.kind} #${a.op.id} by ${a.op.client} (uid ${a.uid}${a.seq ? `, forced #${a.seq}` : ''})`;

  // ---- sequencing ---------------------------------------------------------
  const seqOfUid = new Map<string, Acked>();
  const uidOfSeq = new Map<number, Acked>();
  for (const a of acked) {
    const at = a.op.completedAt!;
    if (a.seq < 1) {
      add({ rule: 'forced updates are sequenced', at, ...who(a), detail: `${name(a)} was acknowledged without a forced sequence number (ts ${V.format(a.reply.ts)})` });
      continue;
    }
    const same = seqOfUid.get(a.uid);
    if (same && same.seq !== a.seq) add({ rule: 'forced updates are sequenced', at, ...who(a), detail: `${name(a)} and ${name(same)} share a uid but not a sequence number` });
    const other = uidOfSeq.get(a.seq);
    if (other && other.uid !== a.uid) add({ rule: 'forced updates are sequenced', at, ...who(a), detail: `${name(a)} and ${name(other)} got the same sequence number` });
    seqOfUid.set(a.uid, a);
    uidOfSeq.set(a.seq, a);
  }
  // Real time: sweep the updates in invocation order over those completed before each.
  {
    const byEnd = acked.filter((a) => a.seq > 0).sort((x, y) => x.op.completedAt! - y.op.completedAt!);
    const byStart = acked.filter((a) => a.seq > 0).sort((x, y) => x.op.invokedAt - y.op.invokedAt);
    let i = 0;
    let top: Acked | undefined;
    for (const b of byStart) {
      while (i < byEnd.length && byEnd[i]!.op.completedAt! < b.op.invokedAt) {
        const e = byEnd[i++]!;
        if (!top || e.seq > top.seq) top = e;
      }
      if (top && top.uid !== b.uid && top.seq >= b.seq) {
        add({ rule: 'forced order follows real time', at: b.op.completedAt!, ...who(b), detail: `${name(b)} was invoked after ${name(top)} was acknowledged, yet comes before it` });
      }
    }
  }

  // ---- movies ---------------------------------------------------------------
  const byTitle = new Map<string, Acked>();
  const byId = new Map<number, Acked>();
  const freshOf = new Map<string, Acked>();
  const adds = acked.filter((a) => a.op.update!.kind === 'addMovie').sort((x, y) => x.op.completedAt! - y.op.completedAt!);
  let existed = 0;
  for (const a of adds) {
    const at = a.op.completedAt!;
    const u = a.op.update!;
    const res = a.reply.result;
    if (u.kind !== 'addMovie') continue;
    if (!res || res.kind !== 'addMovie') {
      add({ rule: 'forced updates report their outcome', at, ...who(a), detail: `${name(a)} was acknowledged without the movie's id` });
      continue;
    }
    if (res.existed) existed++;
    const key = titleKey(u.title);
    if (titleKey(res.title) !== key) add({ rule: 'one id per movie', at, ...who(a), detail: `${name(a)} for "${u.title}" answered the title "${res.title}"` });
    const t = byTitle.get(key);
    if (t && t.reply.result?.kind === 'addMovie' && t.reply.result.movieId !== res.movieId) {
      add({ rule: 'one id per movie', at, ...who(a), detail: `"${u.title}" got id ${res.movieId} from ${name(a)}, and id ${t.reply.result.movieId} from ${name(t)}` });
    }
    const i = byId.get(res.movieId);
    if (i && i.op.update?.kind === 'addMovie' && titleKey(i.op.update.title) !== key) {
      add({ rule: 'no two movies share an id', at, ...who(a), detail: `id ${res.movieId} was given to "${u.title}" by ${name(a)} and to "${i.op.update.title}" by ${name(i)}` });
    }
    // An add invoked once the same title's add (another uid) was acknowledged finds the movie there.
    if (t && t.uid !== a.uid && t.op.completedAt! < a.op.invokedAt && !res.existed) {
      add({ rule: 'a movie is added once', at, ...who(a), detail: `${name(a)} added "${u.title}" anew after ${name(t)} had been acknowledged` });
    }
    // Of all adds of one title, only the first in the forced order finds it missing.
    const f = freshOf.get(key);
    if (!res.existed && f && f.uid !== a.uid) add({ rule: 'a movie is added once', at, ...who(a), detail: `${name(a)} and ${name(f)} both added "${u.title}" as a new movie` });
    if (!res.existed && !f) freshOf.set(key, a);
    if (!t) byTitle.set(key, a);
    if (!i) byId.set(res.movieId, a);
  }
  {
    const fresh = adds.filter((a) => a.seq > 0 && a.reply.result?.kind === 'addMovie' && !a.reply.result.existed).sort((x, y) => x.seq - y.seq);
    for (let k = 1; k < fresh.length; k++) {
      const [p, q] = [fresh[k - 1]!, fresh[k]!];
      const [ip, iq] = [(p.reply.result as { movieId: number }).movieId, (q.reply.result as { movieId: number }).movieId];
      const sameTitle = p.op.update?.kind === 'addMovie' && q.op.update?.kind === 'addMovie' && titleKey(p.op.update.title) === titleKey(q.op.update.title);
      if (p.uid !== q.uid && !sameTitle && ip >= iq) add({ rule: 'movie ids follow the forced order', at: q.op.completedAt!, ...who(q), detail: `${name(q)} got id ${iq}, not above id ${ip} of the earlier ${name(p)}` });
    }
  }

  // ---- after healing ------------------------------------------------------------
  if (input.final) {
    for (const a of acked) {
      if (!a.ts) continue;
      const missing = input.final.filter((rep) => !V.leq(a.ts!, rep.valueTS));
      if (missing.length) add({ rule: 'lost update', at: input.endAt, ...who(a), detail: `acknowledged ${name(a)} (ts ${V.format(a.ts)}) is not covered by the valueTS of ${missing.map((m) => m.name).join(', ')}` });
    }
    for (const [id, a] of byId) {
      const want = a.op.update?.kind === 'addMovie' ? a.op.update.title : '';
      for (const rep of input.final) {
        const got = rep.movies?.get(id);
        if (got === undefined) continue; // not asked
        if (got === null || titleKey(got) !== titleKey(want)) {
          add({ rule: 'acknowledged movies survive under their id', at: input.endAt, ...who(a), detail: `movie ${id} is ${got === null ? 'unknown' : `"${got}"`} at ${rep.name}; ${name(a)} was told it is "${want}"` });
        }
      }
    }
  }

  const sent = (kind: string) => input.ops.filter((o) => !o.final && o.update?.kind === kind).length;
  const fo = failovers(input.ops, input.faults);
  const ended = fo.map((f) => f.ms).filter((x): x is number => x !== null);
  return {
    violations,
    stats: {
      addMovie: { sent: sent('addMovie'), acked: adds.length, existed },
      forgetUser: {
        sent: sent('forgetUser'),
        acked: acked.filter((a) => a.op.update!.kind === 'forgetUser').length,
        removed: acked.reduce((n, a) => n + (a.reply.result?.kind === 'forgetUser' ? (a.reply.result.removed ?? 0) : 0), 0),
      },
      failovers: fo,
      failoverMedianMs: median(ended),
      failoverMaxMs: ended.length ? Math.max(...ended) : null,
    },
  };
}
