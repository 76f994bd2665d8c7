/**
 * The primary's durable state on disk (src/replica/durable.ts) and the
 * replica's flags for it: what is saved is what is loaded, through appends,
 * term and vote changes, truncations and compactions; a torn last line is
 * ignored, any other damage stops the start naming the file and line; a
 * save that extends the log appends only the new lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MovieId, ReplicaId, UpdateId, UserId } from '../../src/core/ids.js';
import type { Durable } from '../../src/replica/core/primary.js';
import type { ForcedEntry } from '../../src/replica/core/types.js';
import { durableFile, loadDurable, openDurable, saveDurable } from '../../src/replica/durable.js';
import { parseReplicaArgs } from '../../src/replica/main.js';
import { buildOnce, ROOT } from '../helpers/cluster.js';

/** One entry as a primary of `term` makes it at `index`; `empty` = the entry a new primary appends (op null, seq repeated). */
function entry(term: number, index: number, seq: number, empty: boolean): ForcedEntry {
  return {
    term,
    index,
    seq,
    uid: empty ? (`~term:${term}` as UpdateId) : (`fe${term}:${index}:${'x'.repeat(20)}` as UpdateId),
    op: empty ? null : { kind: 'rate', userId: ((index % 600) + 1) as UserId, movieId: 1 as MovieId, rating: 4, timestamp: 1_700_000_000 },
    // Vector timestamps hold no zero entries (vts.ts), so the first entry has no 'forced' one.
    prev: { ['rm1.k2x9a1b2c3' as ReplicaId]: index, ['rm2.k2x9a1b2c4' as ReplicaId]: 2 * index, ...(seq > 0 ? { forced: seq } : {}) } as unknown as ForcedEntry['prev'],
    issuedAt: 1_700_000_000_000 + index,
  };
}

/** `log` followed by `n` entries of `term` (the first empty when `emptyFirst`), numbered on from it. */
function extend(log: readonly ForcedEntry[], term: number, n: number, emptyFirst = false): ForcedEntry[] {
  const out = [...log];
  for (let k = 0; k < n; k++) {
    const empty = emptyFirst && k === 0;
    const seq = (out.at(-1)?.seq ?? 0) + (empty ? 0 : 1);
    out.push(entry(term, out.length + 1, seq, empty));
  }
  return out;
}

/** A log of n entries of term 1: an empty entry, then updates. */
const logOf = (n: number): ForcedEntry[] => extend([], 1, n, true);

/** The error a function throws (fails the test if it throws none). */
function thrown(f: () => unknown, what: string): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  assert.unreachable(`${what}: no error`);
  throw new Error('unreachable');
}

const fileLines = (file: string): string[] => readFileSync(file, 'utf8').split('\n');

let dir: string;
const t = suite('durable primary state');
t.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hearsay-durable-'));
});
t.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

t('what is saved is what is loaded, through appends, term and vote changes, truncation and re-append, compaction', () => {
  const file = durableFile(dir, 'rm1');
  assert.is(path.basename(file), 'rm1.primary.json');
  // A tiny compaction threshold, so that vote changes alone soon make the file mostly dead weight.
  const s = openDurable(file, { minCompactBytes: 2048 });
  assert.is(s.state, undefined);
  const saves: Durable[] = [
    { term: 0, votedFor: null, log: [] },
    { term: 1, votedFor: 'rm1', log: [] },
    { term: 1, votedFor: 'rm1', log: logOf(1) },
    { term: 1, votedFor: 'rm1', log: logOf(5) },
    { term: 2, votedFor: null, log: logOf(5) },
    { term: 2, votedFor: 'rm2', log: logOf(5) },
    { term: 2, votedFor: 'rm2', log: extend(logOf(5), 2, 3, true) },
    // Truncation to 3 by a primary of term 3, and re-append past the old end (the log diverges, it does not shrink).
    { term: 3, votedFor: 'rm3', log: extend(logOf(3), 3, 6, true) },
    // Truncation without re-append (the core never does it, the store must still keep it).
    { term: 3, votedFor: 'rm3', log: logOf(2) },
    { term: 3, votedFor: 'rm3', log: extend(logOf(2), 3, 4) },
  ];
  // Then many elections that change nothing else: the file grows past twice its live size and is compacted.
  let last = saves.at(-1)!;
  for (let term = 4; term < 60; term++) saves.push((last = { term, votedFor: `rm${term % 3}`, log: last.log }));
  for (const d of saves) {
    s.save(d);
    assert.equal(loadDurable(file), d, `after saving term ${d.term}, ${d.log.length} entries`);
  }
  assert.ok(s.stats.appends > 0 && s.stats.rewrites >= 4, `both kinds of save happened: ${JSON.stringify(s.stats)}`);
  // Past the threshold a file is never left at more than twice its live size (the size of a compact rewrite).
  const compact = durableFile(dir, 'compact');
  saveDurable(compact, last);
  assert.ok(statSync(file).size <= Math.max(2048, 2 * statSync(compact).size), `compacted: ${statSync(file).size} bytes, ${statSync(compact).size} live`);
  s.close();
  // A writer opened on the file goes on appending to it.
  const again = openDurable(file);
  assert.equal(again.state, last);
  const more: Durable = { term: 60, votedFor: 'rm1', log: extend(last.log, 60, 2, true) };
  again.save(more);
  assert.equal(again.stats, { appends: 1, rewrites: 0 });
  assert.equal(loadDurable(file), more);
  again.close();
});

t('a save that extends the log appends only its new lines (a vote line first if term or vote changed) and rewrites nothing', () => {
  const file = durableFile(dir, 'rm1');
  const s = openDurable(file);
  s.save({ term: 1, votedFor: 'rm1', log: logOf(10) });
  const before = readFileSync(file, 'utf8');
  s.save({ term: 2, votedFor: null, log: extend(logOf(10), 2, 2, true) });
  const after = readFileSync(file, 'utf8');
  assert.ok(after.startsWith(before), 'the old bytes are untouched');
  const added = after.slice(before.length).split('\n');
  assert.equal(added.map((l) => (l ? JSON.parse(l).type : '')), ['vote', 'entry', 'entry', '']);
  // A save of the same state writes nothing.
  s.save({ term: 2, votedFor: null, log: extend(logOf(10), 2, 2, true) });
  assert.is(readFileSync(file, 'utf8'), after);
  assert.equal(s.stats, { appends: 1, rewrites: 1 });
  s.close();
});

t('an entry line puts the entry at its index and drops every entry after it (how a truncation followed by appends replays)', () => {
  const file = durableFile(dir, 'rm1');
  saveDurable(file, { term: 2, votedFor: 'rm2', log: extend(logOf(3), 2, 3, true) });
  // A primary of term 3 replaces entries 4.. with its own.
  const replaced = extend(logOf(3), 3, 2, true);
  const line = (e: ForcedEntry) => JSON.stringify({ type: 'entry', entry: e }) + '\n';
  writeFileSync(file, readFileSync(file, 'utf8') + JSON.stringify({ type: 'vote', term: 3, votedFor: null }) + '\n' + line(replaced[3]!) + line(replaced[4]!));
  assert.equal(loadDurable(file), { term: 3, votedFor: null, log: replaced });
  // Back to the start: one entry replacing the first.
  const first = entry(3, 1, 0, true);
  writeFileSync(file, readFileSync(file, 'utf8') + line(first));
  assert.equal(loadDurable(file), { term: 3, votedFor: null, log: [first] });
});

t('a replica that never saved has no state (no file is not an error)', () => {
  assert.is(loadDurable(durableFile(dir, 'rm9')), undefined);
  assert.is(openDurable(durableFile(dir, 'rm9')).state, undefined);
});

t('a save leaves no temporary file behind', () => {
  const file = durableFile(dir, 'rm1');
  const s = openDurable(file);
  for (let i = 0; i < 5; i++) s.save({ term: i, votedFor: null, log: i < 3 ? logOf(i) : logOf(1) });
  for (let i = 0; i < 5; i++) saveDurable(file, { term: 9, votedFor: null, log: logOf(i) });
  s.close();
  assert.equal(readdirSync(dir), ['rm1.primary.json']);
});

t('a torn last line (a save cut short before its fsync) is ignored with a warning, and the next save rewrites the file', () => {
  const file = durableFile(dir, 'rm1');
  const d: Durable = { term: 2, votedFor: 'rm2', log: logOf(4) };
  const s = openDurable(file);
  s.save(d);
  s.close();
  const good = readFileSync(file, 'utf8');
  const nextLine = JSON.stringify({ type: 'entry', entry: logOf(5)[4] }) + '\n';
  const lineNo = good.split('\n').length; // the torn line's number
  const torn: [string, string][] = [
    ['no end of line', nextLine.slice(0, 40)],
    ['a whole line but its end of line', nextLine.slice(0, -1)],
    ['not JSON, with an end of line', '\0\0\0\0\0\0\n'],
  ];
  for (const [what, tail] of torn) {
    writeFileSync(file, good + tail);
    const r = openDurable(file);
    assert.equal(r.state, d, what);
    assert.is(r.warnings.length, 1, what);
    assert.ok(r.warnings[0]!.includes(file) && r.warnings[0]!.includes(`line ${lineNo}`), `${what}: ${r.warnings[0]}`);
    // Appending after the torn bytes would glue a new line to them: the next save rewrites.
    const next: Durable = { term: 2, votedFor: 'rm2', log: logOf(6) };
    r.save(next);
    assert.equal(r.stats, { appends: 0, rewrites: 1 }, what);
    const again = openDurable(file);
    assert.equal(again.state, next, what);
    assert.equal(again.warnings, [], what);
    r.close();
  }
});

t('damage anywhere but the last line is an error naming the file and the line', () => {
  const file = durableFile(dir, 'rm1');
  const s = openDurable(file);
  s.save({ term: 1, votedFor: 'rm1', log: logOf(3) });
  s.save({ term: 2, votedFor: 'rm2', log: logOf(4) });
  s.close();
  // 1 header, 2 vote, 3-5 entries 1-3, 6 vote, 7 entry 4, 8 "" (after the last end of line).
  const lines = fileLines(file);
  assert.is(lines.length, 8);
  const vote = (term: number, votedFor: string | null) => JSON.stringify({ type: 'vote', term, votedFor });
  const ent = (e: ForcedEntry) => JSON.stringify({ type: 'entry', entry: e });
  const e2 = logOf(3)[1]!;
  const bad: [string, number, string, RegExp][] = [
    ['a line cut short', 4, lines[3]!.slice(0, 50), /line 4: not valid JSON/],
    ['an empty line', 3, '', /line 3: not valid JSON/],
    ['an unknown kind of line', 2, JSON.stringify({ type: 'what' }), /line 2: not a valid line/],
    ['an entry that zod refuses', 5, ent({ ...logOf(3)[2]!, term: 0 }), /line 5: not a valid line: entry\.term/],
    ['a vote for a malformed name', 2, vote(1, 'a b'), /line 2: not a valid line: votedFor/],
    ['a term going down', 6, vote(0, null), /line 6: term 0 is below the term 1 of line 2/],
    ['a second vote in one term', 6, vote(1, 'rm3'), /line 6: a second vote in term 1 \(rm3, after rm1 on line 2\)/],
    ['a gap in the log', 4, ent({ ...e2, index: 3 }), /line 4: entry 3 leaves a gap/],
    ['an entry above the current term', 7, ent({ ...logOf(4)[3]!, term: 3 }), /line 7: log entry 4 has term 3, above the current term 2/],
    ['terms going down in the log', 4, ent({ ...e2, term: 2 }), /line 5: log entry 3 has term 1, below the entry before it \(2\)/],
    ['a sequence number skipped', 4, ent({ ...e2, seq: 2 }), /line 4: log entry 2 has sequence number 2, expected 1/],
    ['a header of another version', 1, JSON.stringify({ format: 'hearsay-primary-log', version: 2 }), /format version 2/],
  ];
  for (const [what, at, text, why] of bad) {
    const damaged = [...lines];
    damaged[at - 1] = text;
    writeFileSync(file, damaged.join('\n'));
    const err = thrown(() => openDurable(file), what);
    assert.ok(err.message.includes(file), `${what}: the message names the file: ${err.message}`);
    assert.match(err.message, why, what);
  }
  // The file as it was still reads.
  writeFileSync(file, lines.join('\n'));
  assert.equal(loadDurable(file), { term: 2, votedFor: 'rm2', log: logOf(4) });
});

t('a state file in the format before the log (one JSON object) is read, and the first save rewrites it as a log', () => {
  const file = durableFile(dir, 'rm1');
  const d: Durable = { term: 7, votedFor: 'rm2', log: logOf(5) };
  writeFileSync(file, JSON.stringify(d));
  const s = openDurable(file);
  assert.equal(s.state, d);
  const next: Durable = { ...d, log: logOf(6) };
  s.save(next);
  assert.equal(s.stats, { appends: 0, rewrites: 1 });
  assert.match(fileLines(file)[0]!, /hearsay-primary-log/);
  assert.equal(loadDurable(file), next);
  s.close();
  const bad: [string, string, RegExp][] = [
    ['cut short', JSON.stringify(d).slice(0, 60), /not valid JSON/],
    ['a negative term', JSON.stringify({ term: -1, votedFor: null, log: [] }), /term/],
    ['a gap in the log', JSON.stringify({ term: 1, votedFor: null, log: [logOf(3)[0], logOf(3)[2]] }), /log entry 2 has index 3/],
    ['an entry above the current term', JSON.stringify({ term: 0, votedFor: null, log: logOf(1) }), /above the current term/],
    ['not an object', '[]', /not a valid state/],
  ];
  for (const [what, text, why] of bad) {
    writeFileSync(file, text);
    const err = thrown(() => loadDurable(file), what);
    assert.ok(err.message.includes(file), `${what}: the message names the file: ${err.message}`);
    assert.match(err.message, why, what);
  }
});

/**
 * Saves shaped like a Raft replica's: appends of entries of a term between
 * the last entry's and the current one; term changes (a vote, or a new term
 * with or without a vote); truncations, which come with a new term whose
 * primary replaces the tail (so a term's entry at an index is always the
 * same one: Log Matching holds across the saves); saves of an unchanged
 * state; and reopening the file.
 */
type Step =
  | { kind: 'append'; n: number; termPick: number; emptyFirst: boolean }
  | { kind: 'term'; bump: number; vote: number }
  | { kind: 'truncate'; keep: number; bump: number; n: number }
  | { kind: 'same' }
  | { kind: 'reopen' };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 6 }), termPick: fc.nat(), emptyFirst: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('term' as const), bump: fc.integer({ min: 0, max: 2 }), vote: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat(), bump: fc.integer({ min: 1, max: 2 }), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'same' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** The state after `step`, or undefined for a reopen. */
function next(d: Durable, step: Step): Durable | undefined {
  const lastTerm = d.log.at(-1)?.term ?? 0;
  switch (step.kind) {
    case 'append': {
      const term = Math.max(d.term, 1);
      const from = Math.max(lastTerm, 1);
      const t = from + (step.termPick % (term - from + 1));
      return { term, votedFor: term === d.term ? d.votedFor : null, log: extend(d.log, t, step.n, step.emptyFirst) };
    }
    case 'term': {
      const vote = step.vote === 0 ? null : `rm${step.vote}`;
      if (step.bump > 0) return { term: d.term + step.bump, votedFor: vote, log: d.log };
      // In the same term a vote may only be given where none was.
      return { ...d, votedFor: d.votedFor ?? vote };
    }
    case 'truncate': {
      if (d.log.length === 0) return d;
      const term = d.term + step.bump;
      return { term, votedFor: null, log: extend(d.log.slice(0, step.keep % d.log.length), term, step.n, true) };
    }
    case 'same':
      return d;
    case 'reopen':
      return undefined;
  }
}

t('property: after any sequence of Raft-shaped saves (with reopenings), reading the file gives the last state saved', () => {
  const totals = { appends: 0, rewrites: 0 };
  let run = 0;
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => {
      const file = durableFile(dir, `p${run++}`);
      const open = () => openDurable(file, { minCompactBytes: 4096 });
      let s = open();
      let d: Durable = { term: 0, votedFor: null, log: [] };
      const count = () => {
        totals.appends += s.stats.appends;
        totals.rewrites += s.stats.rewrites;
      };
      try {
        for (const step of steps) {
          const n = next(d, step);
          if (n === undefined) {
            s.close();
            count();
            s = open();
            assert.equal(s.state ?? { term: 0, votedFor: null, log: [] }, d, 'reopened');
            continue;
          }
          d = n;
          s.save(d);
          assert.equal(loadDurable(file), d);
        }
      } finally {
        s.close();
        count();
      }
    }),
    { numRuns: 150 },
  );
  assert.ok(totals.appends > 100 && totals.rewrites > 100, `both kinds of save were exercised: ${JSON.stringify(totals)}`);
});

t('cost of one save that adds 1 entry to a 1,000- and a 10,000-entry log: rewrite (before) against append (now)', () => {
  const SAVES = 60;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const lines: string[] = [];
  for (const n of [1000, 10_000]) {
    const log = logOf(n + SAVES + 1);
    const state = (k: number): Durable => ({ term: 1, votedFor: 'rm1', log: log.slice(0, n + k) });
    // Before: every save rewrote the whole file (temporary file, fsync, rename, folder fsync).
    const fileA = durableFile(dir, `rewrite${n}`);
    saveDurable(fileA, state(0));
    const rewrite: number[] = [];
    for (let k = 1; k <= SAVES; k++) {
      const t0 = performance.now();
      saveDurable(fileA, state(k));
      rewrite.push(performance.now() - t0);
    }
    // Now: one line appended and fsynced.
    const fileB = durableFile(dir, `append${n}`);
    const s = openDurable(fileB);
    s.save(state(0));
    const append: number[] = [];
    for (let k = 1; k <= SAVES; k++) {
      const t0 = performance.now();
      s.save(state(k));
      append.push(performance.now() - t0);
    }
    s.close();
    assert.equal(s.stats, { appends: SAVES, rewrites: 1 }, 'every timed save was an append');
    assert.equal(loadDurable(fileB), state(SAVES));
    assert.equal(loadDurable(fileA), state(SAVES));
    const [r, a] = [median(rewrite), median(append)];
    lines.push(`  ${n} entries (${(statSync(fileB).size / 1024).toFixed(0)} KiB): rewrite median ${r.toFixed(2)} ms (max ${Math.max(...rewrite).toFixed(2)}), append median ${a.toFixed(2)} ms (max ${Math.max(...append).toFixed(2)}), ${(r / a).toFixed(1)}x, over ${SAVES} saves each`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
});

t('--voters and --state-dir are parsed and checked', () => {
  const base = ['--naming', 'http://127.0.0.1:1'];
  const ok = parseReplicaArgs([...base, '--name', 'rm1', '--voters', 'rm1,rm2,rm3', '--state-dir', '/tmp/x'], {});
  assert.ok(typeof ok === 'object' && !('error' in ok));
  assert.equal(ok.voters, ['rm1', 'rm2', 'rm3']);
  assert.is(ok.stateDir, '/tmp/x');
  const none = parseReplicaArgs(base, {});
  assert.ok(typeof none === 'object' && !('error' in none));
  assert.equal(none.voters, []);
  assert.is(none.stateDir, undefined);
  const errors: [string[], RegExp][] = [
    [['--voters', 'rm1,a b'], /voter "a b"/],
    [['--voters', 'rm1,rm1'], /named twice/],
    [['--voters', ''], /at least one name/],
    [['--voters', Array.from({ length: 65 }, (_, i) => `rm${i}`).join(',')], /at most 64 voters/],
    [['--state-dir', ''], /--state-dir needs a folder/],
  ];
  for (const [args, why] of errors) {
    const r = parseReplicaArgs([...base, ...args], {});
    assert.ok(typeof r === 'object' && 'error' in r, args.join(' '));
    assert.match((r as { error: string }).error, why);
  }
});

t('a replica whose state file is damaged before its last line does not start (exit 1) and names the file and line', async () => {
  buildOnce();
  const file = durableFile(dir, 'rm1');
  saveDurable(file, { term: 2, votedFor: 'rm1', log: logOf(3) });
  const lines = fileLines(file);
  lines[3] = lines[3]!.slice(0, 30); // entry 2, cut
  writeFileSync(file, lines.join('\n'));
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/replica/main.js'), '--naming', 'http://127.0.0.1:9', '--name', 'rm1', '--voters', 'rm1,rm2,rm3', '--state-dir', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.is(code, 1, err);
  assert.ok(err.includes(file), err);
  assert.match(err, /damaged at line 4: not valid JSON/);
});

t.run();
