/**
 * Schemas for what reaches a front end: client requests (FrontendListen),
 * replica metadata read from the naming service, replicas' replies and trace
 * events. Built from the shared pieces in core/schemas.ts.
 */
import { z } from 'zod';
import type { ReplicaId, UpdateId } from '../core/ids.js';
import type { ApplyOutcome, OpErrorCode } from '../core/ops.js';
import type { ReplicaMeta, ReplicaStatus, RmTraceEvent } from '../core/protocol.js';
import {
  movieIdSchema,
  querySchema,
  replicaIdSchema,
  requestIdSchema,
  statusSchema,
  updateIdSchema,
  updateSchema,
  userIdSchema,
  vtsSchema,
} from '../core/schemas.js';
import * as V from '../core/vts.js';
import type { VTS } from '../core/vts.js';

// ---- client → front end ----------------------------------------------------

export const clientQuerySchema = z.object({ requestId: requestIdSchema, prev: vtsSchema, query: querySchema });

export const clientUpdateSchema = z.object({
  requestId: requestIdSchema,
  prev: vtsSchema,
  op: updateSchema,
  uid: updateIdSchema.optional(),
});

export const emptySchema = z.object({});

/** `trace` may be left out (no trace events). */
export const watchSchema = z.object({ trace: z.boolean().optional() });

export const setStatusSchema = z.object({
  rm: z.string().min(1).max(64),
  status: statusSchema,
});

// ---- naming metadata -------------------------------------------------------

const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const zeroTS = (): VTS => V.zero();

/** A replica's view of the election (`PrimaryInfo`). */
export const primaryInfoSchema = z.object({
  role: z.enum(['leader', 'follower', 'candidate', 'none']),
  term: counter,
  leader: replicaIdSchema.nullable().default(null),
  commit: counter.default(0),
});

/**
 * What a replica publishes as its naming meta (`ReplicaMeta`). Only the
 * incarnation id and the status are needed to route requests; the rest is
 * for the cluster view and defaults to "nothing known". A `primary` that
 * cannot be read counts as unknown rather than hiding the replica: causal
 * updates and queries do not need it.
 */
export const replicaMetaSchema = z.object({
  id: replicaIdSchema,
  status: statusSchema,
  phase: z.enum(['recovering', 'serving']).default('serving'),
  valueTS: vtsSchema.default(zeroTS),
  replicaTS: vtsSchema.default(zeroTS),
  logLength: counter.default(0),
  executed: counter.default(0),
  lastGossipAt: z.number().finite().nullable().default(null),
  primary: primaryInfoSchema.optional().catch(undefined),
});

export function parseReplicaMeta(meta: unknown): ReplicaMeta | null {
  const r = replicaMetaSchema.safeParse(meta);
  if (!r.success) return null;
  const { primary, ...rest } = r.data;
  return (primary ? { ...rest, primary } : rest) as ReplicaMeta;
}

export function parseFrontendPrev(meta: unknown): VTS {
  const r = z.object({ prev: vtsSchema }).safeParse(meta);
  return r.success ? r.data.prev : V.zero();
}

// ---- replica → front end ---------------------------------------------------

const ERROR_CODES = [
  'UNKNOWN_MOVIE',
  'BAD_RATING',
  'BAD_USER',
  'BAD_MOVIE',
  'BAD_REQUEST',
  'NOT_YET_AVAILABLE',
  'EXPIRED',
  'UNAVAILABLE',
  'OFFLINE',
  'TIMEOUT',
  'UNAUTHORIZED',
  'NAME_TAKEN',
  'TOO_LARGE',
  'INTERNAL',
  'NOT_PRIMARY',
  'NO_PRIMARY',
  'BAD_TITLE',
  'BAD_GENRE',
] as const satisfies readonly OpErrorCode[];

const errorReplySchema = z.object({
  ok: z.literal(false),
  code: z.string().max(64),
  message: z.string().max(4096).default(''),
  // A malformed primary name is dropped, not the whole answer: the error itself is still news.
  leader: replicaIdSchema.optional().catch(undefined),
});

/** What applying a forced/immediate update did (`ApplyOutcome`). */
export const applyOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('addMovie'), movieId: movieIdSchema, title: z.string().max(1024), existed: z.boolean() }),
  // `removed` is absent when the answering replica got the forget's effect in a snapshot.
  z.object({ kind: z.literal('forgetUser'), userId: userIdSchema, removed: counter.optional() }),
]);

const queryOkSchema = z.object({ ok: z.literal(true), valueTS: vtsSchema, result: z.unknown() });
const updateOkSchema = z.object({ ok: z.literal(true), ts: vtsSchema, uid: updateIdSchema, result: applyOutcomeSchema.optional() });
const statusOkSchema = z.object({ ok: z.literal(true), status: statusSchema });

export type RmReplyInput =
  | { readonly ok: true; readonly valueTS: VTS; readonly result: unknown }
  | { readonly ok: true; readonly ts: VTS; readonly uid: UpdateId; readonly result?: ApplyOutcome | undefined }
  | { readonly ok: false; readonly code: OpErrorCode; readonly message: string; readonly leader?: ReplicaId | undefined };

function errorOf(raw: unknown): { ok: false; code: OpErrorCode; message: string; leader?: ReplicaId } | null {
  const e = errorReplySchema.safeParse(raw);
  if (!e.success) return null;
  const known = (ERROR_CODES as readonly string[]).includes(e.data.code);
  return {
    ok: false,
    // A code this front end does not know is treated as a replica fault (retried elsewhere).
    code: known ? (e.data.code as OpErrorCode) : 'INTERNAL',
    message: known ? e.data.message : `${e.data.code}: ${e.data.message}`,
    ...(e.data.leader !== undefined ? { leader: e.data.leader } : {}),
  };
}

/** A replica's reply to `query` or `update`, checked; anything malformed becomes an INTERNAL error. */
export function parseRmReply(kind: 'query' | 'update', raw: unknown): RmReplyInput {
  const err = errorOf(raw);
  if (err) return err;
  if (kind === 'query') {
    const q = queryOkSchema.safeParse(raw);
    if (q.success) return { ok: true, valueTS: q.data.valueTS, result: q.data.result };
  } else {
    const u = updateOkSchema.safeParse(raw);
    if (u.success) return { ok: true, ts: u.data.ts, uid: u.data.uid, ...(u.data.result ? { result: u.data.result as ApplyOutcome } : {}) };
  }
  return { ok: false, code: 'INTERNAL', message: `malformed ${kind} reply from the replica` };
}

export function parseStatusReply(raw: unknown): { ok: true; status: ReplicaStatus } | { ok: false; code: OpErrorCode; message: string } {
  const err = errorOf(raw);
  if (err) return { ok: false, code: err.code, message: err.message };
  const s = statusOkSchema.safeParse(raw);
  if (s.success) return { ok: true, status: s.data.status };
  return { ok: false, code: 'INTERNAL', message: 'malformed setStatus reply from the replica' };
}

/** Trace events a replica pushes; checked loosely (relayed as they are) but bounded. */
export const rmTraceEventSchema = z
  .looseObject({
    kind: z.enum(['gossipSent', 'gossipReceived', 'pullSent', 'applied', 'snapshotInstalled', 'status', 'elected', 'committed']),
    rm: replicaIdSchema,
    at: z.number().finite(),
  })
  .refine((ev) => JSON.stringify(ev).length <= 16_384, 'a trace event is at most 16 KiB')
  .transform((ev) => ev as unknown as RmTraceEvent);

export type { ReplicaId };
