/**
 * Branded identifiers. A brand costs nothing at run time but stops a movie id
 * being passed where a user id is expected, or a replica's display name where
 * its per-incarnation id is.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/**
 * Identity of one *incarnation* of a replica manager, `<name>.<epoch>`.
 * A restarted replica has lost its memory, so it must not reuse counters its
 * previous life handed out: it gets a fresh id and its old id is retired.
 */
export type ReplicaId = Brand<string, 'ReplicaId'>;
/** Human name of a replica manager (stable across restarts), e.g. `rm1`. */
export type ReplicaName = Brand<string, 'ReplicaName'>;
export type FrontendName = Brand<string, 'FrontendName'>;
/** Globally unique id of one client update; retries reuse it. */
export type UpdateId = Brand<string, 'UpdateId'>;
/** Id of one request/response exchange, for matching replies. */
export type RequestId = Brand<string, 'RequestId'>;
export type UserId = Brand<number, 'UserId'>;
export type MovieId = Brand<number, 'MovieId'>;

export const replicaId = (s: string) => s as ReplicaId;
export const replicaName = (s: string) => s as ReplicaName;
export const frontendName = (s: string) => s as FrontendName;
export const updateId = (s: string) => s as UpdateId;
export const requestId = (s: string) => s as RequestId;
export const userId = (n: number) => n as UserId;
export const movieId = (n: number) => n as MovieId;

/** The display name part of a replica id (`rm1.k2x` → `rm1`). */
export function nameOf(id: ReplicaId): ReplicaName {
  const dot = id.lastIndexOf('.');
  return (dot < 0 ? id : id.slice(0, dot)) as ReplicaName;
}

export function makeReplicaId(name: string, epoch: string): ReplicaId {
  return `${name}.${epoch}` as ReplicaId;
}

export const MAX_USER_ID = 2_147_483_647;
export const MAX_MOVIE_ID = 2_147_483_647;
