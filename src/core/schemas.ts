/**
 * Schemas for everything that crosses a socket, checked on arrival. A payload
 * that does not match never reaches the replica core, the front end or the
 * naming registry: the sender gets `{ok: false, code: 'BAD_REQUEST', ...}`.
 *
 * zod is used because hand-written guards for nested unions drift from the
 * types; here the TypeScript types of the wire are inferred from the schemas.
 */
import { z } from 'zod';
import { MAX_MOVIE_ID, MAX_USER_ID, type MovieId, type ReplicaId, type RequestId, type UpdateId, type UserId } from './ids.js';
import { MAX_GENRES, MAX_RATING, MIN_RATING, SEARCH_LIMIT_MAX } from './ops.js';
import type { VTS } from './vts.js';

const MAX_ENTRIES = 4096;

export const replicaIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'ids use letters, digits and . _ : -')
  .transform((s) => s as ReplicaId);
export const requestIdSchema = z.string().min(1).max(128).transform((s) => s as RequestId);
export const updateIdSchema = z.string().min(1).max(160).transform((s) => s as UpdateId);
export const userIdSchema = z.number().int().min(1).max(MAX_USER_ID).transform((n) => n as UserId);
export const movieIdSchema = z.number().int().min(1).max(MAX_MOVIE_ID).transform((n) => n as MovieId);

export const vtsSchema = z
  .record(z.string().min(1).max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
  .refine((r) => Object.keys(r).length <= MAX_ENTRIES, `a vector timestamp has at most ${MAX_ENTRIES} entries`)
  .transform((r) => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(r).sort()) if (r[k]! > 0) out[k] = r[k]!;
    return Object.freeze(out) as VTS;
  });

const timestamp = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const querySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('avg'), movieId: movieIdSchema }),
  z.object({ kind: z.literal('movie'), movieId: movieIdSchema }),
  z.object({ kind: z.literal('get'), userId: userIdSchema, movieId: movieIdSchema }),
  z.object({ kind: z.literal('mine'), userId: userIdSchema }),
  z.object({
    kind: z.literal('search'),
    words: z.string().max(200),
    genre: z.string().max(40).optional(),
    limit: z.number().int().min(1).max(SEARCH_LIMIT_MAX).optional(),
  }),
]);

/**
 * Ratings are checked loosely here (a number) so that an out-of-range or
 * non-half-step rating reaches the core's precise BAD_RATING message.
 */
export const updateSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rate'), userId: userIdSchema, movieId: movieIdSchema, rating: z.number().finite(), timestamp }),
  z.object({ kind: z.literal('delete'), userId: userIdSchema, movieId: movieIdSchema, timestamp }),
  // Title form and genre names are checked by the core (checkUpdateShape) for its precise BAD_TITLE / BAD_GENRE messages; here only sizes.
  z.object({ kind: z.literal('addMovie'), title: z.string().max(300), genres: z.array(z.string().max(40)).max(MAX_GENRES) }),
  z.object({ kind: z.literal('forgetUser'), userId: userIdSchema }),
]);

export const RATING_RANGE = `${MIN_RATING} to ${MAX_RATING} in half steps`;

export const logRecordSchema = z.object({
  node: replicaIdSchema,
  ts: vtsSchema,
  prev: vtsSchema,
  uid: updateIdSchema,
  op: updateSchema,
  issuedAt: timestamp,
});

/** One entry of the primary's replicated log (ForcedEntry in replica/core/types.ts); op null = an empty entry. */
export const forcedEntrySchema = z.object({
  term: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  index: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  uid: updateIdSchema,
  op: updateSchema.nullable(),
  prev: vtsSchema,
  issuedAt: timestamp,
});

const termSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const logIndexSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const overlayRowSchema = z.object({
  userId: userIdSchema,
  movieId: movieIdSchema,
  rating: z.number().finite().nullable(),
  timestamp,
  order: z.number().int(),
  uid: z.string().max(160).transform((s) => s as UpdateId | ''),
});

const addedMovieRowSchema = z.object({
  movieId: movieIdSchema,
  title: z.string().max(300),
  genres: z.array(z.string().max(40)).max(MAX_GENRES),
  order: z.number().int(),
  uid: z.string().max(160).transform((s) => s as UpdateId | ''),
});

const forgottenUserRowSchema = z.object({
  userId: userIdSchema,
  order: z.number().int(),
  uid: z.string().max(160).transform((s) => s as UpdateId | ''),
});

/** A store's Overlay (src/core/ops.ts) as a snapshot carries it. */
export const overlaySchema = z.object({
  ratings: z.array(overlayRowSchema).max(10_000_000),
  movies: z.array(addedMovieRowSchema).max(1_000_000),
  forgotten: z.array(forgottenUserRowSchema).max(1_000_000),
});

export const coreSnapshotSchema = z.object({
  from: replicaIdSchema,
  valueTS: vtsSchema,
  prefixTS: vtsSchema,
  replicaTS: vtsSchema,
  gcTS: vtsSchema,
  log: z.array(logRecordSchema.extend({ applied: z.boolean() })).max(1_000_000),
  executed: z.array(z.object({ uid: updateIdSchema, issuedAt: timestamp })).max(10_000_000),
  retired: z.array(replicaIdSchema).max(MAX_ENTRIES),
});

export const peerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('gossip'), replicaTS: vtsSchema, covers: vtsSchema.optional(), records: z.array(logRecordSchema).max(1_000_000), wantReply: z.boolean() }),
  z.object({ type: z.literal('pull'), replicaTS: vtsSchema }),
  z.object({ type: z.literal('replicate'), record: logRecordSchema }),
  z.object({ type: z.literal('snapshotRequest') }),
  z.object({ type: z.literal('vote'), pre: z.boolean(), term: termSchema, lastIndex: logIndexSchema, lastTerm: termSchema }),
  z.object({ type: z.literal('voteReply'), pre: z.boolean(), term: termSchema, granted: z.boolean() }),
  z.object({
    type: z.literal('append'),
    term: termSchema,
    prevIndex: logIndexSchema,
    prevTerm: termSchema,
    entries: z.array(forcedEntrySchema).max(100_000),
    commit: logIndexSchema,
  }),
  z.object({ type: z.literal('appendReply'), term: termSchema, ok: z.boolean(), match: logIndexSchema }),
  z.object({ type: z.literal('cut'), uid: updateIdSchema }),
  z.object({ type: z.literal('cutReply'), uid: updateIdSchema, replicaTS: vtsSchema }),
  z.object({ type: z.literal('snapshot'), snapshot: coreSnapshotSchema, overlay: overlaySchema.optional() }),
]);

export const statusSchema = z.enum(['ACTIVE', 'OVERLOADED', 'OFFLINE']);
export const memberKindSchema = z.enum(['frontend', 'replica']);
export const memberNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'names use letters, digits and . _ : -');
export const urlSchema = z
  .string()
  .max(256)
  .regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL');

/** Member metadata: small, JSON-only, bounded. */
export const metaSchema = z.record(z.string().max(64), z.unknown()).refine((m) => JSON.stringify(m).length <= 16_384, 'meta is at most 16 KiB');

/** Formats a zod error as one short line for a reply and a log. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
    .join('; ');
}
