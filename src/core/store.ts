/**
 * The replica's value, behind a small interface so the replica core runs on
 * an in-memory store in tests and the simulator, and on sql.js in production.
 *
 * Every replica loads the same data file, so the value is "base data + the
 * overlay of rows written since". The overlay is what a snapshot transfers.
 *
 * Contract (checked by one suite against every implementation):
 * - `apply` is last-writer-wins per (user, movie) on `Version`: a write whose
 *   version is not greater than the row's current version changes nothing.
 *   So applying the same set of updates in any order gives the same table.
 * - A delete leaves a tombstone carrying its version.
 * - An update of a movie that does not exist changes nothing.
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
   * A digest of the live ratings table (user, movie, rating, timestamp) that
   * is equal on two stores exactly when their tables are equal.
   */
  digest(): string;
  /** Number of live ratings. */
  ratingCount(): number;
  movieCount(): number;
}
