/**
 * The primary's durable state on disk: term, vote and forced log (Raft's
 * persistent state, see core/primary.ts), one file per replica name,
 * `<state-dir>/<name>.primary.json`.
 *
 * Why it must survive a crash: a vote promises that this voter gives no other
 * candidate its vote in that term, and an append acknowledgement promises
 * that the entries are kept; a restart that forgot either could let two
 * primaries be elected in one term, or lose a committed forced update.
 *
 * The file is a log of JSON lines, each ending in "\n":
 *
 *   {"format":"hearsay-primary-log","version":1}            line 1, always
 *   {"type":"vote","term":7,"votedFor":"rm2"}               sets term and vote
 *   {"type":"entry","entry":{"term":7,"index":12,...}}      puts the entry at
 *                                                           its index, dropping
 *                                                           every entry after it
 *
 * Replaying the lines in order gives the state. Why a log: the core persists
 * the whole state on every change, and rewriting the whole forced log each
 * time blocked the event loop for tens of ms at 10,000 entries, on the
 * primary and on every follower.
 *
 * Writing (`openDurable(file).save(d)`): the writer remembers what the file
 * holds (term, vote, log length and the term of its last entry).
 * - If the new log extends the written one (the entry at the last written
 *   index has that index and term: by Raft's Log Matching property the two
 *   logs are then equal up to there), the save appends a vote line if term
 *   or vote changed, then one line per new entry, in ONE write, then fsyncs.
 *   The vote line comes first, so a crash that keeps only a prefix of the
 *   write leaves a state a replica can be in: a newer term (and vote) with
 *   some of the new entries. Nothing depended on that save yet (its fsync had
 *   not returned, so the driver had sent nothing after it).
 * - Otherwise (the log was truncated or diverges, the file is new, an earlier
 *   write failed, the file had a torn tail or the old format, or the file is
 *   past `minCompactBytes` and more than twice its live size), the file is
 *   rewritten compactly and atomically: temporary file in the same folder,
 *   fsync, rename over the old file, fsync of the folder. A crash at any
 *   point leaves either the old file or the new one.
 * A failed write or fsync throws and makes the next save a rewrite: after a
 * failed fsync the kernel may have dropped the dirty pages, so the file's
 * tail can no longer be trusted.
 *
 * Reading: every line is validated with zod, then the log's shape is checked
 * (indexes 1..n, terms never decreasing and not above the current term,
 * sequence numbers as the primary assigns them, term never decreasing and at
 * most one vote per term). The last line may be torn (no end of line, or not
 * JSON): the append that wrote it never completed its fsync, so it is
 * ignored with a warning. Any other damage is an error naming the file and
 * line: starting with an empty or partial state instead would silently break
 * the promises above.
 *
 * A file that is one JSON object {term, votedFor, log} (the format before
 * the log) is still read; the first save then rewrites it in the log format.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { forcedEntrySchema, memberNameSchema, describeIssues } from '../core/schemas.js';
import type { Durable } from './core/primary.js';
import type { ForcedEntry } from './core/types.js';

const termSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The format before the log: one JSON object. */
export const durableSchema = z.object({
  term: termSchema,
  votedFor: memberNameSchema.nullable(),
  log: z.array(forcedEntrySchema),
});

const FORMAT = 'hearsay-primary-log';
const VERSION = 1;
const headerSchema = z.object({ format: z.literal(FORMAT), version: z.number() });
const lineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('vote'), term: termSchema, votedFor: memberNameSchema.nullable() }),
  z.object({ type: z.literal('entry'), entry: forcedEntrySchema }),
]);

const HEADER_LINE = JSON.stringify({ format: FORMAT, version: VERSION }) + '\n';
const HEADER_BYTES = Buffer.byteLength(HEADER_LINE);
const voteLine = (d: Durable): string => JSON.stringify({ type: 'vote', term: d.term, votedFor: d.votedFor }) + '\n';
const entryLine = (e: ForcedEntry): string => JSON.stringify({ type: 'entry', entry: e }) + '\n';

/** Below this size a file is never compacted (rewriting a small file is cheap, but pointless). */
export const MIN_COMPACT_BYTES = 256 * 1024;

/** The file holding replica `name`'s durable state under `dir`. */
export function durableFile(dir: string, name: string): string {
  return path.join(dir, `${name}.primary.json`);
}

/** What the file holds, as far as the writer knows; undefined = unknown, the next save rewrites. */
interface Written {
  term: number;
  votedFor: string | null;
  length: number;
  /** Term of entry `length` (0 for an empty log). */
  lastTerm: number;
  /** Size of the file. */
  fileBytes: number;
  /** Size of its latest vote line and of its live entry lines: the file once compacted is header + these. */
  voteBytes: number;
  entryBytes: number;
}

export interface DurableStore {
  /** The state the file held when opened; undefined when there was no file. */
  readonly state: Durable | undefined;
  /** What reading tolerated (a torn last line), for the log. */
  readonly warnings: readonly string[];
  /** Makes `d` durable before returning (see the top of the file); throws on any I/O error. */
  save(d: Durable): void;
  /** Releases the file handle; a later save opens the file again. */
  close(): void;
  /** How saves were written so far (for tests and measurements). */
  readonly stats: { readonly appends: number; readonly rewrites: number };
}

export interface DurableOptions {
  /** Compact only past this size (default MIN_COMPACT_BYTES). */
  readonly minCompactBytes?: number;
}

/**
 * Reads `file` (see the top of this file) and returns a writer for it.
 * Throws an Error naming the file (and the line) when it exists but cannot
 * be read or is not a valid state.
 */
export function openDurable(file: string, o: DurableOptions = {}): DurableStore {
  const minCompactBytes = o.minCompactBytes ?? MIN_COMPACT_BYTES;
  const read = readDurable(file);
  let written = read.written;
  let fd: number | undefined;
  const stats = { appends: 0, rewrites: 0 };

  const closeFd = (): void => {
    if (fd === undefined) return;
    const f = fd;
    fd = undefined;
    closeSync(f);
  };

  const rewrite = (d: Durable): void => {
    written = undefined;
    closeFd(); // it names the file the rename replaces
    const vote = voteLine(d);
    let entries = '';
    for (const e of d.log) entries += entryLine(e);
    const bytes = writeAtomically(file, HEADER_LINE + vote + entries);
    const voteBytes = Buffer.byteLength(vote);
    written = { term: d.term, votedFor: d.votedFor, length: d.log.length, lastTerm: d.log.at(-1)?.term ?? 0, fileBytes: bytes, voteBytes, entryBytes: bytes - HEADER_BYTES - voteBytes };
    stats.rewrites++;
  };

  return {
    state: read.state,
    warnings: read.warnings,
    stats,
    save(d: Durable): void {
      const w = written;
      if (!w || !extendsWritten(w, d.log)) return rewrite(d);
      const voteChanged = d.term !== w.term || d.votedFor !== w.votedFor;
      const vote = voteChanged ? voteLine(d) : '';
      let text = vote;
      for (let i = w.length; i < d.log.length; i++) text += entryLine(d.log[i]!);
      if (text === '') return; // the file already holds d (every earlier save was fsynced)
      const data = Buffer.from(text);
      const voteBytes = voteChanged ? Buffer.byteLength(vote) : w.voteBytes;
      const entryBytes = w.entryBytes + data.length - (voteChanged ? voteBytes : 0);
      const fileBytes = w.fileBytes + data.length;
      if (fileBytes > minCompactBytes && fileBytes > 2 * (HEADER_BYTES + voteBytes + entryBytes)) return rewrite(d);
      // Until the fsync returns, what the file holds is unknown.
      written = undefined;
      // No O_CREAT: a file that vanished is not silently restarted without its header and older lines.
      if (fd === undefined) fd = openSync(file, constants.O_WRONLY | constants.O_APPEND);
      writeAll(fd, data);
      fsyncSync(fd);
      written = { term: d.term, votedFor: d.votedFor, length: d.log.length, lastTerm: d.log.at(-1)?.term ?? 0, fileBytes, voteBytes, entryBytes };
      stats.appends++;
    },
    close: closeFd,
  };
}

/** The new log starts with the written one (Log Matching: same index and term at the written end). */
function extendsWritten(w: Written, log: readonly ForcedEntry[]): boolean {
  if (log.length < w.length) return false;
  if (w.length === 0) return true;
  const e = log[w.length - 1]!;
  return e.index === w.length && e.term === w.lastTerm;
}

/**
 * Reads the durable state; undefined when the file does not exist (a replica
 * that never ran with this state folder). Throws like openDurable.
 */
export function loadDurable(file: string): Durable | undefined {
  return readDurable(file).state;
}

/** Writes `d` compactly and atomically, replacing the file whole (what a writer does when it cannot append). */
export function saveDurable(file: string, d: Durable): void {
  let text = HEADER_LINE + voteLine(d);
  for (const e of d.log) text += entryLine(e);
  writeAtomically(file, text);
}

// ---- Reading ---------------------------------------------------------------

interface Read {
  state: Durable | undefined;
  /** What the file holds, when a writer may append to it as it is. */
  written: Written | undefined;
  warnings: string[];
}

function readDurable(file: string): Read {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: undefined, written: undefined, warnings: [] };
    throw new Error(`cannot read the primary's state file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const nl = text.indexOf('\n');
  let header: unknown;
  try {
    header = JSON.parse(nl === -1 ? text : text.slice(0, nl));
  } catch {
    header = undefined;
  }
  if (!headerSchema.safeParse(header).success) return { state: readSingleJson(file, text), written: undefined, warnings: [] };
  const h = header as z.infer<typeof headerSchema>;
  if (h.version !== VERSION) throw new Error(`the primary's state file ${file} has format version ${h.version}; this program reads version ${VERSION}`);
  if (nl === -1) throw damaged(file, 1, 'the header has no end of line (the file was cut short)');
  return replay(file, text);
}

const damaged = (file: string, line: number, what: string): Error =>
  new Error(`the primary's state file ${file} is damaged at line ${line}: ${what}; move it away only if this replica's vote and log may be lost`);

/** Replays the lines after the header (see the top of the file). */
function replay(file: string, text: string): Read {
  const lines = text.split('\n');
  // A file ending in "\n" splits into a last empty string; otherwise the last line was cut short.
  const complete = lines.at(-1) === '';
  if (complete) lines.pop();
  const warnings: string[] = [];
  let torn = false;
  let term = 0;
  let votedFor: string | null = null;
  let voteAt = 0; // line of the latest vote line
  let voteBytes = 0;
  const log: ForcedEntry[] = [];
  const lineOf: number[] = []; // lineOf[i]: the line log[i] came from
  const bytesOf: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const last = i === lines.length - 1;
    const raw = lines[i]!;
    if (last && !complete) {
      warnings.push(`the primary's state file ${file}: line ${n} was cut short (a save interrupted before its fsync); ignored`);
      torn = true;
      break;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      if (last) {
        warnings.push(`the primary's state file ${file}: its last line, line ${n}, is not JSON (a save interrupted before its fsync); ignored`);
        torn = true;
        break;
      }
      throw damaged(file, n, `not valid JSON (${(e as Error).message})`);
    }
    const r = lineSchema.safeParse(json);
    if (!r.success) throw damaged(file, n, `not a valid line: ${describeIssues(r.error)}`);
    const l = r.data;
    if (l.type === 'vote') {
      if (l.term < term) throw damaged(file, n, `term ${l.term} is below the term ${term} of line ${voteAt}`);
      if (l.term === term && votedFor !== null && l.votedFor !== votedFor) throw damaged(file, n, `a second vote in term ${term} (${l.votedFor ?? 'nobody'}, after ${votedFor} on line ${voteAt})`);
      term = l.term;
      votedFor = l.votedFor;
      voteAt = n;
      voteBytes = Buffer.byteLength(raw) + 1;
    } else {
      const e = l.entry as ForcedEntry;
      if (e.index > log.length + 1) throw damaged(file, n, `entry ${e.index} leaves a gap (the log has ${log.length} entries before it)`);
      log.length = lineOf.length = bytesOf.length = e.index - 1;
      log.push(e);
      lineOf.push(n);
      bytesOf.push(Buffer.byteLength(raw) + 1);
    }
  }
  const bad = checkLog(term, log);
  if (bad) throw damaged(file, lineOf[bad.at]!, bad.what);
  const state: Durable = { term, votedFor, log };
  if (torn) return { state, written: undefined, warnings };
  let entryBytes = 0;
  for (const b of bytesOf) entryBytes += b;
  return {
    state,
    written: { term, votedFor, length: log.length, lastTerm: log.at(-1)?.term ?? 0, fileBytes: Buffer.byteLength(text), voteBytes, entryBytes },
    warnings,
  };
}

/** The format before the log: the whole state as one JSON object. */
function readSingleJson(file: string, text: string): Durable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`the primary's state file ${file} is not valid JSON (${(e as Error).message}), nor does it start with the state log's header; it may be corrupt: move it away only if this replica's vote and log may be lost`, { cause: e });
  }
  const r = durableSchema.safeParse(json);
  if (!r.success) throw new Error(`the primary's state file ${file} is not a valid state: ${describeIssues(r.error)}`);
  const d = r.data;
  const log = d.log as ForcedEntry[];
  const bad = checkLog(d.term, log);
  if (bad) throw new Error(`the primary's state file ${file} is not a valid state: ${bad.what}`);
  return { term: d.term, votedFor: d.votedFor, log };
}

/**
 * What zod cannot say about a log: entry i has index i, terms never decrease
 * and never exceed the current term, and sequence numbers are the primary's
 * (an update's is the one before it plus one, an empty entry repeats it; the
 * log starts from 0). `at` is the position of the first bad entry.
 */
function checkLog(term: number, log: readonly ForcedEntry[]): { at: number; what: string } | undefined {
  let lastTerm = 0;
  let seq = 0;
  for (let i = 0; i < log.length; i++) {
    const e = log[i]!;
    if (e.index !== i + 1) return { at: i, what: `log entry ${i + 1} has index ${e.index}` };
    if (e.term < lastTerm) return { at: i, what: `log entry ${e.index} has term ${e.term}, below the entry before it (${lastTerm})` };
    if (e.term > term) return { at: i, what: `log entry ${e.index} has term ${e.term}, above the current term ${term}` };
    const want = seq + (e.op === null ? 0 : 1);
    if (e.seq !== want) return { at: i, what: `log entry ${e.index} has sequence number ${e.seq}, expected ${want}` };
    lastTerm = e.term;
    seq = e.seq;
  }
  return undefined;
}

// ---- Writing ---------------------------------------------------------------

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** Temporary file, fsync, rename, folder fsync (see the top of the file); returns the bytes written. */
function writeAtomically(file: string, text: string): number {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const data = Buffer.from(text);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeAll(fd, data);
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
  return data.length;
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
