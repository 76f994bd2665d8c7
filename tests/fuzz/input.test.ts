/**
 * SQL-looking and terminal-control text, typed as search words, genres and
 * movie titles, over a real cluster through the client library: it changes
 * nothing (every replica's data digest is unchanged), search treats it as
 * plain text (the matches are exactly the titles containing it, LIKE
 * wildcards included), and what the client shows passes through `sanitize`
 * (no escape sequence, control character or bidi override survives).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, Cluster, ROOT } from '../helpers/cluster.js';
import type { Session } from '../../src/client/session.js';
import { parseCommand, runCommand, type Command } from '../../src/client/commands.js';
import { formatResult, sanitize } from '../../src/client/format.js';
import { sqlJs } from '../../src/data/schema.js';
import { HOSTILE_TEXT } from '../../chaos/workload.js';

buildOnce();

/** Anything a terminal would act on: ESC, other C0/C1 controls (newline aside), DEL, bidi controls. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const MORE: readonly string[] = [
  "Toy' UNION SELECT userId, rating FROM ratings --",
  '1; UPDATE ratings SET rating = 0.5',
  "' OR 1=1 --",
  '%%',
  'a_b',
  '\\%',
  '\x9b31m',
  '\x1bP+q\x1b\\',
  '\x07\x08\x7f',
  'multi\nline\rtext\ttab',
];
const ALL = [...HOSTILE_TEXT, ...MORE];

let cluster: Cluster;
let session: Session;
let titles: string[] = [];

async function digests(): Promise<string[]> {
  return Promise.all(cluster.replicas.map(async (r) => (await cluster.introspect(r.name)).digest));
}

/** What search should find: titles containing every word, ignoring case (as the store defines it). */
function expectedTotal(words: string): number {
  const ws = words.toLowerCase().split(/\s+/).filter(Boolean);
  return titles.filter((t) => ws.every((w) => t.toLowerCase().includes(w))).length;
}

const test = suite('hostile input');

test.before(async () => {
  cluster = await Cluster.start({ frontends: 1, replicas: 2 });
  session = await cluster.session(42);
  const SQL = await sqlJs();
  const db = new SQL.Database(readFileSync(path.join(ROOT, 'data', 'data.sqlite')));
  titles = (db.exec('SELECT title FROM movies')[0]?.values ?? []).map((r) => String(r[0]));
  db.close();
});

test.after(async () => {
  await cluster?.close();
});

test('SQL-looking and control text in searches and genres changes nothing and matches only literally', async () => {
  const before = await digests();
  for (const words of ALL) {
    const r = await session.query({ kind: 'search', words: words.slice(0, 200), limit: 200 });
    assert.ok(r.ok, `search ${JSON.stringify(words)} answered: ${JSON.stringify(r).slice(0, 200)}`);
    const res = (r as { result: { total: number } }).result;
    assert.is(res.total, expectedTotal(words.slice(0, 200)), `search ${JSON.stringify(words)} matches exactly the titles containing it`);
    const g = await session.query({ kind: 'search', words: 'the', genre: words.slice(0, 40) });
    assert.ok(g.ok, `a hostile genre is answered`);
  }
  assert.equal(await digests(), before, 'no replica changed');
});

test('hostile movie titles in commands resolve to nothing, write nothing, and display safely', async () => {
  const before = await digests();
  for (const text of ALL) {
    // A token no title contains, so the title can match no movie.
    const title = `${text} zq9xv`;
    const cmds: Command[] = [
      { name: 'rate', movie: { title }, stars: 4 },
      { name: 'delete', movie: { title } },
      { name: 'movie', movie: { title } },
      { name: 'search', words: text.slice(0, 200) },
    ];
    for (const c of cmds) {
      const result = await runCommand(session, c);
      const shown = formatResult(result);
      assert.not.ok(UNSAFE.test(shown), `${c.name} ${JSON.stringify(text)} shows ${JSON.stringify(shown.slice(0, 200))}`);
      if (c.name !== 'search') assert.ok(result.kind === 'error' || result.kind === 'choose', `${c.name} of a nonexistent title does not succeed (${result.kind})`);
    }
    const parsed = parseCommand(`search ${text}`);
    assert.ok('name' in parsed || 'error' in parsed, 'the line parses or is refused');
  }
  assert.equal(await digests(), before, 'no replica changed');
});

test('sanitize leaves no terminal control in any string', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...ALL), fc.array(fc.constantFrom('\x1b', '[', ']', '\x07', '\x9b', '\x9d', '\\', 'P', '0', ';', 'm', 'a', '\u202e'), { maxLength: 30 }).map((a) => a.join(''))), (s) => {
      const out = sanitize(s);
      return !UNSAFE.test(out) && !out.includes('\n');
    }),
    { numRuns: 2000, seed: 7 },
  );
});

test.run();
