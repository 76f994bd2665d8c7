import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendHistory, HISTORY_LIMIT, historyPath, loadHistory, pushEntry } from '../../src/client/ui/history.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hearsay-history-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('history file: $HEARSAY_HISTORY wins over ~/.hearsay_history', () => {
  assert.is(historyPath({ HEARSAY_HISTORY: '/tmp/h' }), '/tmp/h');
  assert.ok(historyPath({}).endsWith('.hearsay_history'));
});

test('history file: commands survive a restart, newest last', () => {
  const f = path.join(dir, 'a');
  appendHistory(f, 'avg 1');
  appendHistory(f, 'rate 1 4.5');
  assert.equal(loadHistory(f), ['avg 1', 'rate 1 4.5']);
});

test('history file: capped at 500 lines, the oldest dropped', () => {
  const f = path.join(dir, 'b');
  writeFileSync(f, Array.from({ length: 600 }, (_, i) => `get ${i}`).join('\n') + '\n');
  assert.is(loadHistory(f).length, HISTORY_LIMIT);
  const after = appendHistory(f, 'status');
  assert.is(after.length, HISTORY_LIMIT);
  assert.is(after[0], 'get 101');
  assert.is(readFileSync(f, 'utf8').trimEnd().split('\n').length, HISTORY_LIMIT);
});

test('history file: written atomically (no temporary file left) and private to the user', () => {
  const f = path.join(dir, 'c');
  appendHistory(f, 'avg 1');
  assert.equal(readdirSync(dir).filter((n) => n.startsWith('c')), ['c']);
  assert.is(statSync(f).mode & 0o777, 0o600);
});

test('history file: two clients appending in turn keep both their commands', () => {
  const f = path.join(dir, 'd');
  appendHistory(f, 'from client A');
  appendHistory(f, 'from client B');
  appendHistory(f, 'again A');
  assert.equal(loadHistory(f), ['from client A', 'from client B', 'again A']);
});

test('history file: a missing or unreadable file is an empty history; a failed write throws for the caller to log', () => {
  assert.equal(loadHistory(path.join(dir, 'missing')), []);
  assert.throws(() => appendHistory(path.join(dir, 'no-such-dir', 'h'), 'x'));
});

test('history entries are one line each', () => {
  assert.equal(pushEntry([], 'a\nb'), ['a b']);
});

test.run();
