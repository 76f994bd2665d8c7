/**
 * What a forced/immediate update did, worked out from the store afterwards.
 *
 * A replica remembers the outcome of each update it applies (driver), but one
 * whose effect arrived in a snapshot never applied it. Then: an addMovie's
 * movie is found by its title (a title is added once; whether it existed
 * before cannot be told and is reported false), and a forget's count of
 * removed ratings is unknown (absent).
 */
import { SEARCH_LIMIT_MAX, titleKey, type ApplyOutcome, type Update } from '../core/ops.js';
import type { MovieStore } from '../core/store.js';

export function outcomeFromStore(store: MovieStore, op: Update | undefined): ApplyOutcome | undefined {
  if (op?.kind === 'forgetUser') return { kind: 'forgetUser', userId: op.userId };
  if (op?.kind !== 'addMovie') return undefined;
  try {
    // Search words are at most 200 characters; a prefix of the title still finds it.
    const r = store.query({ kind: 'search', words: op.title.slice(0, 200), limit: SEARCH_LIMIT_MAX });
    if (r.kind !== 'search') return undefined;
    const want = titleKey(op.title);
    const m = r.movies.find((x) => titleKey(x.title) === want);
    return m ? { kind: 'addMovie', movieId: m.movieId, title: m.title, existed: false } : undefined;
  } catch {
    return undefined;
  }
}
