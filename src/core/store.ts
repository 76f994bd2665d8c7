/**
 * The replica's value, behind a small interface so the replica core runs on
 * an in-memory store in tests and the simulator, and on sql.js in production.
 *
 * Every replica loads the same data file, so the value is "base data + the
 * overlay of rows written since". The overlay is what a snapshot transfers.
 *
 * Contract (checked by one suite, tests/data/store-contract.test.ts, against
 * every implementation):
 * - `apply` is last-writer-wins per (user, movie) on `Version`: a write whose
 *   version is not greater than the row's current version changes nothing.
 *   So applying the same set of updates in any order gives the same table.
 * - A delete leaves a tombstone carrying its version.
 * - An update of a movie that does not exist changes nothing.
 * - addMovie (applied in canonical form, see canonicalUpdate): when a movie
 *   with the same title exists (case ignored, runs of spaces collapsed) it
 *   changes nothing and names the lowest such id (`existed: true`);
 *   otherwise the movie gets id = highest movie id in the store + 1 and every
 *   query sees it exactly like a movie of the data file. Forced updates are
 *   applied in the same order everywhere, so every store gives the same id.
 * - forgetUser with version V leaves a user tombstone (the highest V per
 *   user is kept) and removes every row of that user whose version is not
 *   above V — base rows (BASE_VERSION) and delete tombstones included; a
 *   later rate/delete of the user not above the tombstone changes nothing,
 *   one above it applies normally. Together with LWW this keeps "any order
 *   of the same updates gives the same store" (forced ones in their order).
 * - `importOverlay` applies movies (explicit ids; one already present is
 *   kept), then user tombstones, then rating rows, all under the rules above:
 *   a fresh store importing a peer's overlay equals the peer.
 * - `digest` is unchanged from the plain ratings digest while there are no
 *   added movies and no user tombstones; otherwise it also covers them.
 * - Queries never change the store.
 */
import type { MovieId } from './ids.js';
import type { ApplyOutcome, Overlay, Query, QueryResult, Update, Version } from './ops.js';

export interface MovieStore {
  hasMovie(id: MovieId): boolean;
  /** Answers a query; throws OpError('UNKNOWN_MOVIE') for a movie that does not exist. */
  query(q: Query): QueryResult;
  /**
   * Applies an update under last-writer-wins; see the contract above.
   * Returns what a forced/immediate update did (undefined for ratings).
   */
  apply(u: Update, version: Version): ApplyOutcome | undefined;
  /** Everything written since load (rating rows with tombstones, added movies, user tombstones), in a deterministic order. */
  exportOverlay(): Overlay;
  /** Applies an overlay (from a peer's snapshot) under last-writer-wins. */
  importOverlay(o: Overlay): void;
  /**
   * A digest of the live ratings table (user, movie, rating, timestamp), the
   * added movies and the user tombstones, equal on two stores exactly when
   * those are equal. With no added movie and no user tombstone it is the
   * plain ratings digest of src/core/digest.ts.
   */
  digest(): string;
  /** Number of live ratings. */
  ratingCount(): number;
  movieCount(): number;
}
