/**
 * The primary's durable state on disk (src/replica/durable.ts) and the
 * replica's flags for it: what is saved is what is loaded, a damaged file
 * stops the start with its name, and a save leaves no half-written file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MovieId, ReplicaId, UpdateId, UserId } from '../../src/core/ids.js';
import type { Durable } from '../../src/replica/core/primary.js';
import type { ForcedEntry } from '../../src/replica/core/types.js';
import { durableFile, loadDurable, saveDurable } from '../../src/replica/durable.js';
import { parseReplicaArgs } from '../../src/replica/main.js';
import { buildOnce, ROOT } from '../helpers/cluster.js';

/** A log of n entries shaped as a primary builds it: an empty entry of term 1, then updates (ratings here: any update shape will do for the file). */
function logOf(n: number): ForcedEntry[] {
  const out: ForcedEntry[] = [];
  for (let i = 1; i <= n; i++) {
    const empty = i === 1;
    out.push({
      term: 1,
      index: i,
      seq: i - 1,
      uid: empty ? ('~term:1' as UpdateId) : (`fe1:${i}:${'x'.repeat(20)}` as UpdateId),
      op: empty ? null : { kind: 'rate', userId: (i % 600) + 1 as UserId, movieId: 1 as MovieId, rating: 4, timestamp: 1_700_000_000 },
      // Vector timestamps hold no zero entries (vts.ts), so the first entry has no 'forced' one.
      prev: { ['rm1.k2x9a1b2c3' as ReplicaId]: i, ['rm2.k2x9a1b2c4' as ReplicaId]: 2 * i, ...(i > 1 ? { forced: i - 1 } : {}) } as unknown as ForcedEntry['prev'],
      issuedAt: 1_700_000_000_000 + i,
    });
  }
  return out;
}

let dir: string;
const t = suite('durable primary state');
t.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hearsay-durable-'));
});
t.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

t('what is saved is what is loaded (term, vote, every log entry)', () => {
  const file = durableFile(dir, 'rm1');
  assert.is(path.basename(file), 'rm1.primary.json');
  const d: Durable = { term: 7, votedFor: 'rm2', log: logOf(5) };
  saveDurable(file, d);
  assert.equal(loadDurable(file), d);
  // A later save replaces the earlier one whole.
  const d2: Durable = { term: 8, votedFor: null, log: logOf(2) };
  saveDurable(file, d2);
  assert.equal(loadDurable(file), d2);
});

t('a replica that never saved has no state (no file is not an error)', () => {
  assert.is(loadDurable(durableFile(dir, 'rm9')), undefined);
});

t('a save leaves no temporary file behind', () => {
  const file = durableFile(dir, 'rm1');
  for (let i = 0; i < 5; i++) saveDurable(file, { term: i, votedFor: null, log: [] });
  assert.equal(readdirSync(dir), ['rm1.primary.json']);
});

t('a corrupt or invalid state file is an error that names the file', () => {
  const file = durableFile(dir, 'rm1');
  const bad: [string, string, RegExp][] = [
    ['cut short', JSON.stringify({ term: 3, votedFor: 'rm1', log: logOf(3) }).slice(0, 60), /not valid JSON/],
    ['a negative term', JSON.stringify({ term: -1, votedFor: null, log: [] }), /term/],
    ['a vote for a malformed name', JSON.stringify({ term: 1, votedFor: 'a b', log: [] }), /votedFor/],
    ['a gap in the log', JSON.stringify({ term: 1, votedFor: null, log: [logOf(3)[0], logOf(3)[2]] }), /log entry 2 has index 3/],
    ['an entry above the current term', JSON.stringify({ term: 0, votedFor: null, log: logOf(1) }), /above the current term/],
    ['not an object', '[]', /not a valid state/],
  ];
  for (const [what, text, why] of bad) {
    writeFileSync(file, text);
    let err: Error | undefined;
    try {
      loadDurable(file);
    } catch (e) {
      err = e as Error;
    }
    assert.ok(err, `${what}: refused`);
    assert.ok(err!.message.includes(file), `${what}: the message names the file: ${err!.message}`);
    assert.match(err!.message, why, what);
  }
});

t('cost of one save of a 1,000-entry log (fsync included)', () => {
  const file = durableFile(dir, 'rm1');
  const d: Durable = { term: 3, votedFor: 'rm1', log: logOf(1000) };
  saveDurable(file, d); // warm-up
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    saveDurable(file, d);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const bytes = readFileSync(file).length;
  const med = times[Math.floor(times.length / 2)]!;
  process.stdout.write(`\n  save of 1,000 entries (${(bytes / 1024).toFixed(0)} KiB): median ${med.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms over ${times.length}\n`);
  assert.equal(loadDurable(file), d);
  assert.ok(med < 1000, 'a save takes well under a second');
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

t('a replica whose state file is corrupt does not start (exit 1) and says which file', async () => {
  buildOnce();
  writeFileSync(durableFile(dir, 'rm1'), '{"term": 2, "votedFor": "rm1", "log": [');
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
  assert.ok(err.includes(durableFile(dir, 'rm1')), err);
  assert.match(err, /not valid JSON/);
});

t.run();
