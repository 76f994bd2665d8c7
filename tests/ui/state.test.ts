import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReplicaId, RequestId } from '../../src/core/ids.js';
import type { ClusterView, TraceEvent } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { commonPrefix, complete, titleArgument, titleInsert } from '../../src/client/ui/complete.js';
import { activeBanners, initialState, maxScroll, pickChoice, reduce, RESULTS_LIMIT, SWITCH_BANNER_MS, type Action, type UiState } from '../../src/client/ui/state.js';
import { addTrace, traceLines, traceRowLines, type TraceRow } from '../../src/client/ui/trace.js';
import { aliasesFor, compactVts } from '../../src/client/ui/timestamps.js';
import { plainLine, type Line } from '../../src/client/ui/text.js';

const COMMANDS = ['search', 'movie', 'avg', 'get', 'rate', 'delete', 'mine', 'user', 'status', 'set', 'trace', 'clear', 'help', 'quit'];
const run = (s: UiState, ...actions: Action[]) => actions.reduce(reduce, s);
const type = (s: UiState, text: string) => reduce(s, { type: 'insert', text });
const rid = (s: string) => s as ReplicaId;
const ts = (o: Record<string, number>) => o as VTS;
const text = (l: Line) => l.map((s) => s.text).join('');

function view(names: string[]): ClusterView {
  return {
    replicas: names.map((n, i) => ({
      name: n,
      id: rid(`${n}.e${i}`),
      url: 'http://x',
      status: 'ACTIVE',
      phase: 'serving',
      valueTS: ts({}),
      replicaTS: ts({}),
      logLength: 0,
      executed: 0,
      lag: 0,
      lastGossipAt: null,
    })),
    frontends: [],
    via: 'fe1',
    at: 0,
  };
}

// ---- history -------------------------------------------------------------------

test('history: up recalls the newest command first, then older ones, stopping at the oldest', () => {
  let s = initialState({ history: ['avg 1', 'get 1', 'status'] });
  s = reduce(s, { type: 'historyUp' });
  assert.is(s.input, 'status');
  s = run(s, { type: 'historyUp' }, { type: 'historyUp' }, { type: 'historyUp' });
  assert.is(s.input, 'avg 1');
  assert.is(s.cursor, 5);
});

test('history: down walks back to the line that was being typed before browsing', () => {
  let s = type(initialState({ history: ['avg 1', 'get 1'] }), 'rate 1');
  s = run(s, { type: 'historyUp' }, { type: 'historyUp' });
  assert.is(s.input, 'avg 1');
  s = reduce(s, { type: 'historyDown' });
  assert.is(s.input, 'get 1');
  s = reduce(s, { type: 'historyDown' });
  assert.is(s.input, 'rate 1');
  assert.is(s.histIndex, null);
  assert.is(reduce(s, { type: 'historyDown' }), s, 'down past the draft changes nothing');
});

test('history: up with an empty history changes nothing', () => {
  const s = initialState();
  assert.is(reduce(s, { type: 'historyUp' }), s);
});

test('history: submitting records the line once, skipping blanks and immediate repeats', () => {
  let s = initialState();
  s = run(type(s, 'avg 1'), { type: 'submit' });
  s = run(type(s, 'avg 1'), { type: 'submit' });
  s = run(type(s, '   '), { type: 'submit' });
  s = run(type(s, 'get 1'), { type: 'submit' });
  assert.equal(s.history, ['avg 1', 'get 1']);
  assert.is(s.input, '');
});

test('editing: insert at the cursor, backspace, delete, word kill, home/end', () => {
  let s = type(initialState(), 'avg toy');
  s = run(s, { type: 'cursor', to: 'home' });
  s = type(s, 'x');
  assert.is(s.input, 'xavg toy');
  s = run(s, { type: 'backspace' }, { type: 'cursor', to: 'end' }, { type: 'killWord' });
  assert.is(s.input, 'avg ');
  s = run(s, { type: 'cursor', to: 'left' }, { type: 'delete' });
  assert.is(s.input, 'avg');
  s = run(type(s, ' a\nb'));
  assert.is(s.input, 'avg a b', 'a pasted line break becomes a space');
});

test('editing: terminal controls in pasted text are dropped, never shown', () => {
  const s = type(initialState(), 'avg \x1b[31mtoy\x07 \x1b]0;owned\x07story');
  assert.is(s.input, 'avg toy story');
});

test('completion: titles from the service are made safe before they reach the line', () => {
  let s = run(type(initialState(), 'avg evil'), { type: 'tab', commands: COMMANDS });
  s = reduce(s, { type: 'titles', prefix: 'evil', titles: ['Evil\x1b[2J Title (1999)'], commands: COMMANDS });
  assert.is(s.input, 'avg Evil Title ');
});

// ---- completion ------------------------------------------------------------------

test('completion: a unique command prefix completes with a trailing space', () => {
  const s = run(type(initialState(), 'st'), { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 'status ');
});

test('completion: several commands fill their common prefix and are listed; Tab again cycles', () => {
  let s = run(type(initialState(), 's'), { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 's');
  assert.ok(s.notice && text(s.notice).includes('search'), 'the choices are listed');
  s = reduce(s, { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 'search');
  s = reduce(s, { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 'status');
});

test('completion: replica names come from the cluster view, then the status words', () => {
  let s = reduce(initialState(), { type: 'cluster', view: view(['rm1', 'rm2', 'rm10']), at: 0 });
  s = run(type(s, 'set rm1'), { type: 'tab', commands: COMMANDS });
  assert.equal(
    s.completion?.candidates.map((c) => c.insert),
    ['rm1', 'rm10'],
  );
  s = run(type(reduce(s, { type: 'killLine' }), 'set rm2 of'), { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 'set rm2 offline ');
});

test('completion: a title prefix not looked up yet asks for titles, and completes when they arrive', () => {
  let s = run(type(initialState(), 'avg toy'), { type: 'tab', commands: COMMANDS });
  assert.is(s.awaitingTitles, 'toy');
  assert.is(s.input, 'avg toy');
  s = reduce(s, { type: 'titles', prefix: 'toy', titles: ['Toy Story (1995)', 'Toy Story 2 (1999)'], commands: COMMANDS });
  assert.is(s.awaitingTitles, null);
  assert.is(s.input, 'avg Toy Story', 'the common prefix of the two titles is filled in');
  assert.equal(
    s.completion?.candidates.map((c) => c.display),
    ['Toy Story (1995)', 'Toy Story 2 (1999)'],
  );
});

test('completion: titles that arrive after the user moved on only fill the cache', () => {
  let s = run(type(initialState(), 'avg toy'), { type: 'tab', commands: COMMANDS });
  s = type(s, ' s');
  s = reduce(s, { type: 'titles', prefix: 'toy', titles: ['Toy Story (1995)'], commands: COMMANDS });
  assert.is(s.input, 'avg toy s');
  s = run(reduce(s, { type: 'killLine' }), { type: 'insert', text: 'get toy' }, { type: 'tab', commands: COMMANDS });
  assert.is(s.input, 'get Toy Story ', 'the cached titles are used without another lookup');
});

test('completion: rate completes the title but not after the stars; ids are not titles', () => {
  assert.equal(titleArgument('rate toy'), { from: 5, text: 'toy' });
  assert.is(titleArgument('rate toy 4.5'), undefined);
  assert.is(titleArgument('avg 12'), undefined);
  assert.is(titleArgument('search toy --genre Comedy'), undefined);
  assert.is(titleInsert('Toy Story (1995)'), 'Toy Story');
  assert.is(complete('avg t', { commands: COMMANDS, replicas: [], titles: () => undefined }).needTitles, undefined, 'one letter is too short to look up');
  assert.is(commonPrefix(['Toy Story', 'toy soldiers']), 'Toy S');
});

// ---- results and scrolling --------------------------------------------------------

const lines = (n: number, tag = 'l') => Array.from({ length: n }, (_, i) => plainLine(`${tag}${i}`));

test('scrolling: stays within [0, lines - view] and End returns to the newest', () => {
  let s = reduce(initialState(), { type: 'output', lines: lines(30) });
  s = reduce(s, { type: 'scroll', by: 100, view: 10 });
  assert.is(s.scroll, 20);
  s = reduce(s, { type: 'scroll', by: -5, view: 10 });
  assert.is(s.scroll, 15);
  s = reduce(s, { type: 'scroll', by: -100, view: 10 });
  assert.is(s.scroll, 0);
  s = run(s, { type: 'scroll', by: 3, view: 10 }, { type: 'scrollTo', where: 'bottom', view: 10 });
  assert.is(s.scroll, 0);
  assert.is(maxScroll(5, 10), 0, 'nothing to scroll when everything fits');
});

test('scrolling: new results arriving while scrolled up keep the view still and are counted', () => {
  let s = reduce(initialState(), { type: 'output', lines: lines(30) });
  s = reduce(s, { type: 'scroll', by: 5, view: 10 });
  s = reduce(s, { type: 'output', lines: lines(3, 'n') });
  assert.is(s.scroll, 8);
  assert.is(s.unseen, 3);
  s = reduce(s, { type: 'scroll', by: -100, view: 10 });
  assert.is(s.unseen, 0);
});

test('scrolling: an answer taller than the results area is shown from its top, and the next command returns to the newest', () => {
  let s = reduce(initialState(), { type: 'output', lines: lines(30) });
  s = reduce(s, { type: 'output', lines: [plainLine('› help')] });
  s = reduce(s, { type: 'output', lines: lines(25, 'h'), view: 10 });
  const total = s.results.length;
  const top = total - s.scroll - 10;
  assert.is(text(s.results[top]!), '› help', 'the command and the first lines of its answer are in view');
  assert.is(text(s.results[top + 1]!), 'h0');
  s = run(type(s, 'avg 1'), { type: 'submit' });
  assert.is(s.scroll, 0);
  s = reduce(s, { type: 'output', lines: lines(3, 'a'), view: 10 });
  assert.is(s.scroll, 0, 'a short answer is simply at the bottom');
});

test('results: memory is bounded; the oldest lines go first', () => {
  let s = initialState();
  for (let i = 0; i < 5; i++) s = reduce(s, { type: 'output', lines: lines(RESULTS_LIMIT / 2, `b${i}-`) });
  assert.is(s.results.length, RESULTS_LIMIT);
  assert.is(text(s.results[s.results.length - 1]!), `b4-${RESULTS_LIMIT / 2 - 1}`);
});

test('choose: a number in range picks a candidate; anything else does not', () => {
  const s = reduce(initialState(), {
    type: 'output',
    lines: [],
    choose: { command: { name: 'avg' }, candidates: [{ movieId: 1, title: 'Toy Story (1995)' }, { movieId: 3114, title: 'Toy Story 2 (1999)' }] },
  });
  assert.is(pickChoice(s, '2')?.movieId, 3114);
  assert.is(pickChoice(s, ' 1 ')?.movieId, 1);
  assert.is(pickChoice(s, '3'), undefined);
  assert.is(pickChoice(s, '0'), undefined);
  assert.is(pickChoice(s, 'avg 2'), undefined);
  const after = reduce(s, { type: 'output', lines: [plainLine('x')] });
  assert.is(after.choose, null, 'the next answer ends the choice');
});

// ---- banners ---------------------------------------------------------------------

test('banner: a front-end switch names both front ends and says the session timestamp is kept, then expires', () => {
  let s = initialState({ frontend: 'fe1' });
  s = reduce(s, { type: 'frontend', name: 'fe2', why: 'switched from fe1', at: 1000 });
  const b = activeBanners(s);
  assert.is(b.length, 1);
  assert.is(b[0]!.text, 'front end fe1 is gone — now using fe2; your session timestamp is kept');
  assert.is(s.frontend, 'fe2');
  assert.is(activeBanners(reduce(s, { type: 'tick', now: 1000 + SWITCH_BANNER_MS - 1 })).length, 1);
  assert.is(activeBanners(reduce(s, { type: 'tick', now: 1000 + SWITCH_BANNER_MS })).length, 0);
});

test('banner: losing every front end stays up until one is back, and then names the switch', () => {
  let s = initialState({ frontend: 'fe1' });
  s = reduce(s, { type: 'frontend', name: undefined, why: 'no front end reachable', at: 0 });
  assert.match(activeBanners(s)[0]!.text, /no front end is reachable/);
  assert.is(activeBanners(reduce(s, { type: 'tick', now: 10 ** 9 })).length, 1, 'it does not expire');
  s = reduce(s, { type: 'frontend', name: 'fe2', why: 'switched', at: 5 });
  assert.is(activeBanners(s)[0]!.text, 'front end fe1 is gone — now using fe2; your session timestamp is kept');
});

test('banner: naming unreachable shows until naming is back', () => {
  let s = reduce(initialState(), { type: 'naming', up: false });
  assert.is(activeBanners(s)[0]!.text, 'naming service unreachable — retrying');
  s = reduce(s, { type: 'naming', up: true });
  assert.is(activeBanners(s).length, 0);
});

test('the first connection is not announced as a switch', () => {
  const s = reduce(initialState({ frontend: 'fe1' }), { type: 'frontend', name: 'fe1', why: 'connected', at: 0 });
  assert.is(activeBanners(s).length, 0);
});

// ---- trace folding ------------------------------------------------------------------

const gossip = (from: string, to: string, records: number, at = 0): TraceEvent => ({ kind: 'gossipSent', rm: rid(from), to: rid(to), records, at });

test('trace: a gossip storm folds into one row per pair of replicas', () => {
  let rows: TraceRow[] = [];
  for (let i = 0; i < 12; i++) rows = addTrace(rows, gossip('rm1.a', 'rm3.c', 1, i));
  for (let i = 0; i < 5; i++) rows = addTrace(rows, gossip('rm2.b', 'rm3.c', 2, i));
  assert.is(rows.length, 2);
  const a = aliasesFor(['rm1.a', 'rm2.b', 'rm3.c'], ['rm1.a', 'rm2.b', 'rm3.c']);
  assert.is(text(traceRowLines(rows[0]!, a)[0]!), 'rm1 → rm3 gossip ×12 (12 records)');
  assert.is(text(traceRowLines(rows[1]!, a)[0]!), 'rm2 → rm3 gossip ×5 (10 records)');
});

test('trace: empty gossip is counted in one idle row', () => {
  let rows: TraceRow[] = [];
  for (let i = 0; i < 50; i++) rows = addTrace(rows, gossip(`rm${i % 4}.x`, `rm${(i + 1) % 4}.x`, 0, i));
  assert.is(rows.length, 1);
  assert.is(rows[0]!.kind === 'idle' && rows[0]!.count, 50);
});

test('trace: a request starts a new run, so gossip after it is shown after it (newest last)', () => {
  let rows: TraceRow[] = addTrace([], gossip('rm1.a', 'rm2.b', 1));
  rows = addTrace(rows, { kind: 'request', fe: 'fe1', requestId: 'q1' as RequestId, op: 'rate', prev: ts({}), at: 1 });
  rows = addTrace(rows, gossip('rm1.a', 'rm2.b', 1, 2));
  assert.equal(
    rows.map((r) => r.kind),
    ['gossip', 'request', 'gossip'],
  );
});

test("trace: a request's path fills in one row: FE prev, the two replicas chosen and why, their timestamps, the merged prev", () => {
  const req = 'q9' as RequestId;
  let rows: TraceRow[] = [];
  const evs: TraceEvent[] = [
    { kind: 'request', fe: 'fe1', requestId: req, op: 'avg', prev: ts({ 'rm1.a': 3 }), at: 0 },
    {
      kind: 'chose',
      fe: 'fe1',
      requestId: req,
      chosen: [
        { rm: rid('rm1.a'), status: 'ACTIVE', inflight: 0 },
        { rm: rid('rm2.b'), status: 'OVERLOADED', inflight: 70 },
      ],
      retry: false,
      at: 1,
    },
    gossip('rm3.c', 'rm1.a', 2, 1),
    { kind: 'rmReply', fe: 'fe1', requestId: req, rm: rid('rm1.a'), ok: true, ts: ts({ 'rm1.a': 3, 'rm2.b': 1 }), at: 2 },
    { kind: 'rmReply', fe: 'fe1', requestId: req, rm: rid('rm2.b'), ok: false, code: 'TIMEOUT', at: 3 },
    { kind: 'reply', fe: 'fe1', requestId: req, ok: true, ts: ts({ 'rm1.a': 3, 'rm2.b': 1 }), feprev: ts({ 'rm1.a': 3, 'rm2.b': 1 }), at: 4 },
  ];
  for (const e of evs) rows = addTrace(rows, e);
  assert.is(rows.length, 2, 'one request row and one gossip row');
  const a = aliasesFor(['rm1.a', 'rm2.b', 'rm3.c'], ['rm1.a', 'rm2.b', 'rm3.c']);
  assert.equal(traceRowLines(rows[0]!, a).map(text), [
    '▸ avg via fe1 prev rm1:3',
    '  chose rm1 (ACTIVE, 0 in flight) + rm2 (OVERLOADED, 70 in flight)',
    '  ← rm1 ts rm1:3 rm2:1 · rm2 failed TIMEOUT',
    '  ✓ reply ts rm1:3 rm2:1 → fe1 prev rm1:3 rm2:1',
  ]);
});

test("trace: a storm between every pair of replicas after a request fits in three lines under the request's path", () => {
  const names = ['rm1.a', 'rm2.b', 'rm3.c', 'rm4.d'];
  let rows: TraceRow[] = addTrace([], { kind: 'request', fe: 'fe1', requestId: 'q1' as RequestId, op: 'rate', prev: ts({}), at: 0 });
  for (let round = 0; round < 100; round++) {
    for (const from of names) for (const to of names) if (from !== to) rows = addTrace(rows, gossip(from, to, round % 3, round));
    rows = addTrace(rows, { kind: 'applied', rm: rid(names[round % 4]!), uid: 'u' as never, at: round });
  }
  const a = aliasesFor(names, names);
  const out = traceLines(rows, a, 80);
  assert.is(text(out[0]!), '▸ rate via fe1 prev 0');
  assert.ok(out.length <= 4, `${out.length} lines:\n${out.map(text).join('\n')}`);
  assert.match(out.map(text).join(' '), /gossip rm1→rm2,rm3,rm4 ×\d+ \(\d+ records\)/);
  assert.match(out.map(text).join(' '), /idle gossip ×\d+/);
  for (const l of out) assert.ok(text(l).length <= 80);
});

test('trace: bounded; the oldest rows go first', () => {
  let rows: TraceRow[] = [];
  for (let i = 0; i < 500; i++) rows = addTrace(rows, { kind: 'status', rm: rid('rm1.a'), status: i % 2 ? 'ACTIVE' : 'OFFLINE', at: i }, 100);
  assert.is(rows.length, 100);
  assert.is(rows[99]!.at, 499);
});

test('trace: events are ignored while the trace panel is off', () => {
  const s = initialState({ traceOn: false });
  assert.is(reduce(s, { type: 'trace', event: gossip('a.1', 'b.2', 1) }).trace.length, 0);
  assert.is(reduce({ ...s, traceOn: true }, { type: 'trace', event: gossip('a.1', 'b.2', 1) }).trace.length, 1);
});

// ---- timestamps --------------------------------------------------------------------

test('timestamps: incarnation suffixes are dropped; an earlier incarnation of the same name is starred', () => {
  const a = aliasesFor(['rm1.kx3f', 'rm1.old9', 'rm2.zz'], ['rm1.kx3f', 'rm2.zz']);
  assert.is(compactVts(ts({ 'rm1.kx3f': 12, 'rm2.zz': 9 }), a), 'rm1:12 rm2:9');
  assert.is(compactVts(ts({ 'rm1.kx3f': 2, 'rm1.old9': 12 }), a), 'rm1:2 rm1*:12');
  assert.is(compactVts(ts({}), a), '0');
  assert.is(compactVts(ts({ 'rm10.a': 1, 'rm2.b': 2 }), new Map()), 'rm2:2 rm10:1', 'names in natural order');
});

test.run();
