/**
 * The data digest every store computes the same way, so two replicas (or a
 * sql.js store and an in-memory one) can be compared with one string.
 *
 * Definition: SHA-256 (hex, first 16 chars) over the lines
 * `userId,movieId,rating,timestamp\n` of every live rating, sorted by
 * (userId, movieId). Ratings are printed with `String(number)` (4.5, 3).
 */
import { createHash } from 'node:crypto';

export interface DigestRow {
  readonly userId: number;
  readonly movieId: number;
  readonly rating: number;
  readonly timestamp: number;
}

/** Rows must already be sorted by (userId, movieId). */
export function digestSortedRows(rows: Iterable<DigestRow>): string {
  const h = createHash('sha256');
  let batch = '';
  for (const r of rows) {
    batch += `${r.userId},${r.movieId},${r.rating},${r.timestamp}\n`;
    if (batch.length > 65536) {
      h.update(batch);
      batch = '';
    }
  }
  h.update(batch);
  return h.digest('hex').slice(0, 16);
}
