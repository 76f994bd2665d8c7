/**
 * The primary's durable state on disk: term, vote and forced log (Raft's
 * persistent state, see core/primary.ts), one JSON file per replica name,
 * `<state-dir>/<name>.primary.json`.
 *
 * Why it must survive a crash: a vote promises that this voter gives no other
 * candidate its vote in that term, and an append acknowledgement promises
 * that the entries are kept; a restart that forgot either could let two
 * primaries be elected in one term, or lose a committed forced update.
 *
 * - `saveDurable` is synchronous and atomic: the JSON goes to a temporary
 *   file in the same folder, which is fsynced, then renamed over the old
 *   file (a rename within one file system replaces it whole), then the
 *   folder is fsynced so the rename itself survives a power cut. A crash at
 *   any point leaves either the old state or the new one, never a mix.
 * - `loadDurable` validates the file with zod and checks the log's shape
 *   (indexes 1..n, terms not above the current term and never decreasing);
 *   a file that is present but unreadable or invalid is an error that names
 *   the file: starting with an empty state instead would silently break the
 *   promises above.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { forcedEntrySchema, memberNameSchema, describeIssues } from '../core/schemas.js';
import type { Durable } from './core/primary.js';
import type { ForcedEntry } from './core/types.js';

export const durableSchema = z.object({
  term: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  votedFor: memberNameSchema.nullable(),
  log: z.array(forcedEntrySchema),
});

/** The file holding replica `name`'s durable state under `dir`. */
export function durableFile(dir: string, name: string): string {
  return path.join(dir, `${name}.primary.json`);
}

/**
 * Reads the durable state; undefined when the file does not exist (a replica
 * that never ran with this state folder). Throws an Error naming the file
 * when it exists but cannot be read or is not a valid state.
 */
export function loadDurable(file: string): Durable | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the primary's state file ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`the primary's state file ${file} is not valid JSON (${(e as Error).message}); it may be corrupt: move it away only if this replica's vote and log may be lost`, { cause: e });
  }
  const r = durableSchema.safeParse(json);
  if (!r.success) throw new Error(`the primary's state file ${file} is not a valid state: ${describeIssues(r.error)}`);
  const d = r.data;
  const bad = checkLog(d.term, d.log as readonly ForcedEntry[]);
  if (bad) throw new Error(`the primary's state file ${file} is not a valid state: ${bad}`);
  return { term: d.term, votedFor: d.votedFor, log: d.log as readonly ForcedEntry[] };
}

/** What zod cannot say about a log: entry i has index i, terms never decrease and never exceed the current term. */
function checkLog(term: number, log: readonly ForcedEntry[]): string | undefined {
  let lastTerm = 0;
  for (let i = 0; i < log.length; i++) {
    const e = log[i]!;
    if (e.index !== i + 1) return `log entry ${i + 1} has index ${e.index}`;
    if (e.term < lastTerm) return `log entry ${e.index} has term ${e.term}, below the entry before it (${lastTerm})`;
    if (e.term > term) return `log entry ${e.index} has term ${e.term}, above the current term ${term}`;
    lastTerm = e.term;
  }
  return undefined;
}

/** Writes the durable state atomically (see the top of this file); throws on any I/O error. */
export function saveDurable(file: string, d: Durable): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const data = Buffer.from(JSON.stringify({ term: d.term, votedFor: d.votedFor, log: d.log }));
  const fd = openSync(tmp, 'w', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* best effort */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  syncDir(dir);
}

/** fsync of the folder makes the rename durable; some file systems refuse it (EISDIR/EINVAL/EPERM), which is tolerated. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
