/**
 * The terminal UI's rules for forced and immediate updates, without a
 * terminal: forget-user asks and only y runs it; the cluster panel names the
 * primary in words; genres complete after add-movie's title; the trace
 * shows a forced request's path to the primary and elections.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReplicaId, RequestId, UpdateId } from '../../src/core/ids.js';
import type { ClusterView, PrimaryInfo, TraceEvent } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { presentResult } from '../../src/client/ui/present.js';
import { clusterLines, clusterWants } from '../../src/client/ui/cluster.js';
import { complete, genreArgument } from '../../src/client/ui/complete.js';
import { confirmAnswer, initialState, reduce, type Action, type UiState } from '../../src/client/ui/state.js';
import { promptFor, screenModel, screenText } from '../../src/client/ui/screen.js';
import { addTrace, traceLines } from '../../src/client/ui/trace.js';
import { aliasesFor } from '../../src/client/ui/timestamps.js';
import type { Line } from '../../src/client/ui/text.js';
import { parseCommand, type Command } from '../../src/client/commands.js';

const run = (s: UiState, ...actions: Action[]) => actions.reduce(reduce, s);
const rid = (s: string) => s as ReplicaId;
const text = (l: Line) => l.map((x) => x.text).join('');
const ctx = { commands: ['add-movie', 'avg', 'forget-user'], replicas: ['rm1', 'rm2'], titles: () => undefined };

function view(primary: string | null, roles: Record<string, PrimaryInfo['role']> = {}): ClusterView {
  const names = ['rm1', 'rm2', 'rm3'];
  return {
    replicas: names.map((n) => ({
      name: n,
      id: rid(`${n}.e1`),
      url: 'http://x',
      status: n === 'rm3' ? 'OFFLINE' : 'ACTIVE',
      phase: 'serving',
      valueTS: {} as VTS,
      replicaTS: {} as VTS,
      logLength: 0,
      executed: 0,
      lag: 0,
      lastGossipAt: null,
      primary: { role: roles[n] ?? (n === primary ? 'leader' : 'follower'), term: 3, leader: primary ? rid(`${primary}.e1`) : null, commit: 7 },
    })),
    frontends: [{ name: 'fe1', url: 'http://f', prev: {} as VTS }],
    primary: primary ? { id: rid(`${primary}.e1`), name: primary, term: 3 } : null,
    via: 'fe1',
    at: 0,
  };
}

// ---- confirmation ---------------------------------------------------------------------

const forget = parseCommand('forget-user 42') as Command;
const asking = () => run(initialState(), { type: 'ask', confirm: { command: forget, question: 'Forget user 42? Every rating of user 42 will be removed on every replica. y/N' } });

test('confirmation: a pending question turns the prompt into y/N and takes the next line as the answer', () => {
  const s = asking();
  assert.ok(s.confirm);
  assert.is(promptFor(s), 'y/N › ');
  assert.is(confirmAnswer(initialState(), 'y'), undefined, 'no question, no answer');
});

test('confirmation: y (or yes, any case) confirms', () => {
  for (const a of ['y', 'Y', 'yes', ' Yes ']) assert.is(confirmAnswer(asking(), a), 'yes', a);
});

test('confirmation: anything else cancels, an empty line and other commands included', () => {
  for (const a of ['', 'n', 'no', 'yes please', 'avg 1', 'forget-user 42', 'q']) assert.is(confirmAnswer(asking(), a), 'no', JSON.stringify(a));
});

test('confirmation: the question holds until a line is submitted, which clears it (nothing else runs it)', () => {
  let s = asking();
  s = run(s, { type: 'insert', text: 'y' }, { type: 'cluster', view: view('rm2'), at: 1 }, { type: 'tick', now: 5 }, { type: 'output', lines: [] });
  assert.ok(s.confirm, 'typing and events leave the question pending');
  assert.equal(s.confirm!.command, forget, 'the command waits, unsent, in the state');
  s = reduce(s, { type: 'submit' });
  assert.is(s.confirm, null);
  assert.is(promptFor(s), '› ');
});

test('confirmation: asking replaces a pending "which movie?" choice', () => {
  const s = run(initialState(), { type: 'output', lines: [], choose: { command: {}, candidates: [{ movieId: 1, title: 'A' }] } });
  assert.ok(s.choose);
  const t = reduce(s, { type: 'ask', confirm: { command: forget, question: 'q' } });
  assert.is(t.choose, null);
});

// ---- cluster panel ----------------------------------------------------------------------

test('cluster panel: the primary is named in the title line and by the word "primary" next to its name', () => {
  const lines = clusterLines({ view: view('rm2'), fe: 'fe1', prev: {}, width: 80, height: 20, now: 0, receivedAt: 0 }).map(text);
  assert.match(lines[0]!, /^── CLUSTER as seen by fe1 · primary rm2 · term 3 ─+$/, lines.join('\n'));
  assert.ok(lines.some((l) => /^rm2 primary\s+● ACTIVE/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^rm1\s+● ACTIVE/.test(l)));
  assert.not.ok(lines.some((l) => /^rm1 primary/.test(l)));
  assert.ok(lines.every((l) => [...l].length <= 80));
});

test('cluster panel: "no primary (election)" while no replica is leader', () => {
  const lines = clusterLines({ view: view(null, { rm1: 'candidate', rm2: 'candidate', rm3: 'follower' }), fe: 'fe1', prev: {}, width: 80, height: 20, now: 0, receivedAt: 0 }).map(text);
  assert.match(lines[0]!, /CLUSTER as seen by fe1 · no primary \(election\) ─/, lines.join('\n'));
  assert.not.ok(lines.some((l) => /\bprimary\s+●/.test(l)));
});

test('cluster panel: naming the primary takes no extra row (80x24 keeps its rows for the trace)', () => {
  const plain = { ...view('rm2'), primary: undefined, replicas: view('rm2').replicas.map(({ primary: _p, ...r }) => r) };
  assert.is(clusterWants(view('rm2')), clusterWants(plain));
  const lines = clusterLines({ view: plain, fe: 'fe1', prev: {}, width: 80, height: 20, now: 0, receivedAt: 0 }).map(text);
  assert.not.match(lines.join('\n'), /primary/, 'replicas that say nothing of an election: no primary shown');
});

test('80x24 with the trace on: the primary line and every replica row fit, in plain text', () => {
  let s = initialState({ traceOn: true });
  s = reduce(s, { type: 'cluster', view: view('rm2'), at: 0 });
  const m = screenModel({ state: s, columns: 80, rows: 24, now: 0, prev: {} });
  const screen = screenText(m);
  assert.match(screen, /primary rm2 · term 3/);
  assert.match(screen, /rm2 primary/);
  assert.match(screen, /rm3\s+○ OFFLINE/);
  assert.ok(screen.split('\n').every((l) => [...l].length <= 80), screen);
  assert.ok(screen.split('\n').length <= 23);
});

// ---- completion -----------------------------------------------------------------------------

test('completion: genres complete after add-movie’s title, quoted or not, one |-separated genre at a time', () => {
  assert.equal(
    complete('add-movie "Heat 2 (2026)" Cr', ctx).candidates.map((c) => c.insert),
    ['Crime'],
  );
  assert.equal(
    complete('add-movie "Heat 2 (2026)" Action|c', ctx).candidates.map((c) => c.insert),
    ['Children', 'Comedy', 'Crime'],
  );
  const g = genreArgument('add-movie Heat 2 (2026) Action|Dr');
  assert.equal(g, { from: 'add-movie Heat 2 (2026) Action|'.length, word: 'Dr' });
  assert.is(complete('add-movie "Heat 2 (2026)" ', ctx).candidates.length, 19, 'every genre after the title');
});

test('completion: nothing is completed while the title is typed (a new movie has no title to look up)', () => {
  const c = complete('add-movie "Heat', ctx);
  assert.is(c.candidates.length, 0);
  assert.is(c.needTitles, undefined);
  assert.is(genreArgument('add-movie "Heat 2 (2026)'), undefined);
});

test('completion: the new commands complete by name, and forget-user offers --yes after the id', () => {
  assert.equal(
    complete('forg', ctx).candidates.map((c) => c.insert),
    ['forget-user'],
  );
  assert.equal(
    complete('forget-user 42 --', ctx).candidates.map((c) => c.insert),
    ['--yes'],
  );
});

// ---- results ----------------------------------------------------------------------------------

test('results: an added movie shows its id, the forced update number and the primary that sequenced it', () => {
  const aliases = aliasesFor(['rm2.e1'], ['rm2.e1']);
  const lines = presentResult(
    {
      kind: 'movieAdded',
      movieId: 9743,
      title: 'Heat 2 (2026)',
      genres: ['Action'],
      existed: false,
      ordering: 'forced',
      sequence: 7,
      primary: 'rm2.e1',
      uid: 'u',
      served: { frontend: 'fe1', servedBy: ['rm2.e1'], ts: { forced: 7 } as VTS },
    },
    80,
    aliases,
  ).map(text);
  assert.match(lines.join('\n'), /✓ added Heat 2 \(2026\) as movie #9743/);
  assert.match(lines.join('\n'), /forced update #7/);
  assert.match(lines.join('\n'), /sequenced by primary rm2 via fe1/);
});

// ---- trace ---------------------------------------------------------------------------------------

test("trace: a forced request's path reads client → FE → primary → committed, and an election is a row", () => {
  const uid = 'u7:abc:u3';
  const at = 0;
  const events: TraceEvent[] = [
    { kind: 'elected', rm: rid('rm2.e1'), term: 3, at },
    { kind: 'request', fe: 'fe1', requestId: `${uid}.1` as RequestId, op: 'add-movie "Heat 2 (2026)"', prev: {} as VTS, at },
    { kind: 'chose', fe: 'fe1', requestId: `${uid}.1` as RequestId, chosen: [{ rm: rid('rm1.e1'), status: 'ACTIVE', inflight: 0 }], retry: false, at, reason: 'primary', term: 2 } as TraceEvent,
    { kind: 'rmReply', fe: 'fe1', requestId: `${uid}.1` as RequestId, rm: rid('rm1.e1'), ok: false, code: 'NOT_PRIMARY', at },
    { kind: 'chose', fe: 'fe1', requestId: `${uid}.1` as RequestId, chosen: [{ rm: rid('rm2.e1'), status: 'ACTIVE', inflight: 0 }], retry: true, at, reason: 'redirect', term: 3 } as TraceEvent,
    { kind: 'committed', rm: rid('rm2.e1'), seq: 7, uid: uid as UpdateId, at },
    { kind: 'rmReply', fe: 'fe1', requestId: `${uid}.1` as RequestId, rm: rid('rm2.e1'), ok: true, ts: { forced: 7 } as VTS, at },
    { kind: 'reply', fe: 'fe1', requestId: `${uid}.1` as RequestId, ok: true, ts: { forced: 7 } as VTS, feprev: { forced: 7 } as VTS, at },
  ];
  const rows = events.reduce((r, e) => addTrace(r, e), [] as ReturnType<typeof addTrace>);
  assert.is(rows.length, 2, 'the commit joins its request instead of adding a row');
  const out = traceLines(rows, aliasesFor(['rm1.e1', 'rm2.e1'], ['rm1.e1', 'rm2.e1']), 80).map(text);
  const all = out.join('\n');
  assert.match(out[0]!, /★ rm2 elected primary for term 3/);
  assert.match(all, /▸ add-movie "Heat 2 \(2026\)" via fe1/);
  assert.match(all, /→ primary rm1 \(term 2\)/);
  assert.match(all, /rm1 failed NOT_PRIMARY/);
  assert.match(all, /retry → primary rm2 \(term 3\), as the replica asked said/);
  assert.match(all, /← rm1 failed NOT_PRIMARY · rm2 ts forced:7 · committed by rm2 as forced #7/);
  assert.match(all, /✓ reply ts forced:7/);
  assert.ok(all.indexOf('committed') < all.indexOf('reply ts'), 'committed before the reply');
});

test('trace: a commit of an update not on the panel is a row of its own', () => {
  const rows = addTrace([], { kind: 'committed', rm: rid('rm2.e1'), seq: 4, uid: 'other' as UpdateId, at: 0 });
  assert.is(rows.length, 1);
  assert.match(traceLines(rows, aliasesFor([], []), 80).map(text).join(''), /rm2 committed forced #4/);
});

test.run();
