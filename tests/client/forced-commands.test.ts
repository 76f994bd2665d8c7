/**
 * add-movie and forget-user in the client: parsing (quoted titles, genres in
 * any case), results and their text for people, advice on the errors of
 * forced updates, and the confirmation forget-user needs (asked by the
 * fronts that can ask; `--yes` otherwise, else a failure with exit 1).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { userId, type ReplicaId, type UpdateId } from '../../src/core/ids.js';
import type { Query, Update } from '../../src/core/ops.js';
import type { ClientReply, ClusterView, ReplicaStatus } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { cancelledText, confirmationFor, confirmed, errorOf, isSuccess, isYes, parseCommand, runLine, type CommandResult, type CommandSession } from '../../src/client/commands.js';
import { formatCluster, formatResult, formatTrace } from '../../src/client/format.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// ---------------------------------------------------------------------------
// Parsing

const parse = suite('parsing add-movie and forget-user');

parse('add-movie takes a quoted title and optional |-separated genres, spelled as MovieLens does', () => {
  assert.equal(parseCommand('add-movie "Heat 2 (2026)" Action|Crime'), { name: 'add-movie', title: 'Heat 2 (2026)', genres: ['Action', 'Crime'] });
  assert.equal(parseCommand("add-movie 'Heat 2 (2026)'"), { name: 'add-movie', title: 'Heat 2 (2026)', genres: [] });
  assert.equal(parseCommand('add-movie "Heat 2 (2026)" sci-fi | film-noir,IMAX'), { name: 'add-movie', title: 'Heat 2 (2026)', genres: ['Sci-Fi', 'Film-Noir', 'IMAX'] });
  assert.equal(parseCommand('add-movie "  Heat   2 (2026) "'), { name: 'add-movie', title: 'Heat 2 (2026)', genres: [] }, 'spaces collapsed');
  assert.equal(parseCommand('ADD-MOVIE Heat 2 (2026) Drama'), { name: 'add-movie', title: 'Heat 2 (2026)', genres: ['Drama'] }, 'unquoted: the title ends at its year');
  assert.equal(parseCommand('add-movie "Heat (1995)" Action|Action'), { name: 'add-movie', title: 'Heat (1995)', genres: ['Action'] });
});

parse('forget-user takes one user id, and --yes to confirm in advance', () => {
  assert.equal(parseCommand('forget-user 42'), { name: 'forget-user', user: 42, yes: false });
  assert.equal(parseCommand('forget-user 42 --yes'), { name: 'forget-user', user: 42, yes: true });
  assert.equal(parseCommand('forget-user -y 7'), { name: 'forget-user', user: 7, yes: true });
});

parse('a wrong add-movie or forget-user is an error saying what to write', () => {
  const cases: [string, RegExp][] = [
    ['add-movie', /add-movie "TITLE \(YEAR\)"/],
    ['add-movie Heat 2', /in quotes with its year/],
    ['add-movie "Heat 2" Action', /in quotes with its year/],
    ['add-movie "Heat 2 (2026)', /in quotes/],
    ['add-movie "Heat 2 (2026)"Action', /in quotes/],
    ['add-movie "Heat 2 (1066)"', /in quotes with its year/],
    ['add-movie "Heat 2 (2026)" Actoin', /genres are Action, Adventure/],
    ['add-movie "Heat 2 (2026)" Action|Cartoon', /Tab completes them/],
    ['forget-user', /forget-user ID/],
    ['forget-user 0', /user ids/],
    ['forget-user 1 2', /forget-user ID/],
    ['forget-user bob', /user ids/],
  ];
  for (const [line, hint] of cases) {
    const r = parseCommand(line);
    assert.ok('error' in r, `"${line}" should not parse, got ${JSON.stringify(r)}`);
    if ('error' in r) assert.match(r.hint, hint, `hint for "${line}": ${r.hint}`);
  }
  const bad = parseCommand('add-movie "Heat 2 (2026)" Actoin');
  assert.ok('error' in bad && /Actoin is not a genre/.test(bad.error));
});

// ---------------------------------------------------------------------------
// Confirmation

const confirm = suite('forget-user confirmation');

confirm('only forget-user without --yes asks, with the question naming the user', () => {
  const c = parseCommand('forget-user 42');
  assert.ok(!('error' in c));
  if ('error' in c) return;
  assert.is(confirmationFor(c), 'Forget user 42? Every rating of user 42 will be removed on every replica. y/N');
  assert.is(confirmationFor(confirmed(c)), undefined, 'answered yes: no second question');
  assert.is(confirmationFor(parseCommand('forget-user 42 --yes') as never), undefined);
  assert.is(confirmationFor(parseCommand('add-movie "Heat 2 (2026)"') as never), undefined);
  assert.is(confirmationFor(parseCommand('rate 1 4') as never), undefined);
  assert.is(cancelledText(c), 'cancelled: user 42 was not forgotten');
});

confirm('y or yes confirms; anything else, an empty answer included, cancels', () => {
  for (const a of ['y', 'Y', 'yes', ' YES ', 'Yes']) assert.ok(isYes(a), a);
  for (const a of ['', 'n', 'no', 'yes please', 'ye', 'yy', 'sure', '1', 'y y']) assert.not.ok(isYes(a), a);
});

// ---------------------------------------------------------------------------
// Running, against a fake session that plays the primary

const PRIMARY = 'rm2.k7' as ReplicaId;

class PrimarySession implements CommandSession {
  readonly user = userId(5);
  readonly updates: Update[] = [];
  next: ClientReply | undefined;
  async query(_q: Query): Promise<ClientReply> {
    return { ok: false, code: 'UNAVAILABLE', message: 'no queries here', tried: [] };
  }
  async update(op: Update): Promise<ClientReply> {
    this.updates.push(op);
    if (this.next) return this.next;
    const ts = { 'rm1.a': 4, forced: 7 } as VTS;
    const result =
      op.kind === 'addMovie'
        ? op.title.toLowerCase() === 'heat (1995)'
          ? { kind: 'addMovie' as const, movieId: 6 as never, title: 'Heat (1995)', existed: true }
          : { kind: 'addMovie' as const, movieId: 9743 as never, title: op.title, existed: false }
        : { kind: 'forgetUser' as const, userId: 42 as never, removed: 231 };
    return {
      ok: true,
      kind: 'update',
      uid: 'u1' as UpdateId,
      ts: { ...ts, forced: 9 } as VTS, // merged with a session that saw later ones: the primary's own copy counts
      servedBy: [PRIMARY],
      copies: { [PRIMARY]: ts },
      ordering: op.kind === 'addMovie' ? 'forced' : 'immediate',
      result,
    };
  }
  async cluster(): Promise<ClusterView> {
    return { replicas: [], frontends: [], via: 'fe1', at: 0 };
  }
  async setStatus(_rm: string, status: ReplicaStatus) {
    return { ok: true as const, status };
  }
  watch() {}
  frontend() {
    return 'fe1';
  }
}

const running = suite('running add-movie and forget-user');

running('add-movie: the movie id the primary gave, the forced update number and the primary', async () => {
  const s = new PrimarySession();
  const r = await runLine(s, 'add-movie "Heat 2 (2026)" Action|Crime');
  assert.equal(s.updates, [{ kind: 'addMovie', title: 'Heat 2 (2026)', genres: ['Action', 'Crime'] }]);
  assert.ok(r.kind === 'movieAdded', JSON.stringify(r));
  if (r.kind !== 'movieAdded') return;
  assert.is(r.movieId, 9743);
  assert.is(r.sequence, 7);
  assert.is(r.primary, PRIMARY);
  assert.is(r.existed, false);
  assert.is(formatResult(r), 'added "Heat 2 (2026)" as movie 9743 (forced update #7, sequenced by primary rm2)');
  assert.ok(r.reply && r.reply.ok, 'the reply is kept for --json');
  assert.ok(isSuccess(r));
});

running('add-movie of a title that exists: nothing added, the existing movie named', async () => {
  const r = await runLine(new PrimarySession(), 'add-movie "heat  (1995)"');
  assert.ok(r.kind === 'movieAdded' && r.existed);
  assert.is(formatResult(r), 'already exists: movie 6 "Heat (1995)"');
  assert.ok(isSuccess(r));
});

running('forget-user --yes: how many ratings went, the immediate update number and the primary', async () => {
  const s = new PrimarySession();
  const r = await runLine(s, 'forget-user 42 --yes');
  assert.equal(s.updates, [{ kind: 'forgetUser', userId: 42 }]);
  assert.ok(r.kind === 'userForgotten');
  assert.is(formatResult(r), 'forgot user 42: 231 ratings removed (immediate update #7, primary rm2)');
});

running('forget-user without --yes sends nothing and fails (CONFIRM), saying how to confirm', async () => {
  const s = new PrimarySession();
  const r = await runLine(s, 'forget-user 42');
  assert.is(s.updates.length, 0);
  assert.ok(r.kind === 'error' && r.code === 'CONFIRM');
  assert.not.ok(isSuccess(r));
  if (r.kind === 'error') assert.match(r.hint, /forget-user 42 --yes/);
});

running('NO_PRIMARY, NOT_PRIMARY, BAD_TITLE and BAD_GENRE say what to do', async () => {
  const s = new PrimarySession();
  const hints: [string, RegExp][] = [
    ['NO_PRIMARY', /no primary is elected.*wait a few seconds and issue it again: add-movie "Heat 2 \(2026\)" Action.*status/],
    ['NOT_PRIMARY', /try again in a moment.*status shows the primary/],
    ['BAD_TITLE', /in quotes with its year in parentheses/],
    ['BAD_GENRE', /genres are Action/],
  ];
  for (const [code, hint] of hints) {
    s.next = { ok: false, code: code as never, message: `${code} from the service`, tried: [] };
    const r = await runLine(s, 'add-movie "Heat 2 (2026)" Action');
    assert.ok(r.kind === 'error' && r.code === code, code);
    if (r.kind === 'error') assert.match(r.hint, hint, `${code}: ${r.hint}`);
  }
  assert.match(errorOf({ code: 'NO_PRIMARY', message: 'm' }, 'forget-user 3 --yes').hint, /forget-user 3 --yes/);
});

running('an answer without the outcome is an error, not a made-up id', async () => {
  const s = new PrimarySession();
  s.next = { ok: true, kind: 'update', uid: 'u' as UpdateId, ts: {} as VTS, servedBy: [PRIMARY], copies: {} };
  const r = await runLine(s, 'add-movie "Heat 2 (2026)"');
  assert.ok(r.kind === 'error' && r.code === 'INTERNAL');
});

// ---------------------------------------------------------------------------
// Text for people: the cluster and the trace

const text = suite('primary in status and trace text');

const replica = (name: string, role: 'leader' | 'follower' | 'candidate' | 'none', term: number) => ({
  name,
  id: `${name}.x` as ReplicaId,
  url: 'http://h',
  status: 'ACTIVE' as const,
  phase: 'serving' as const,
  valueTS: {} as VTS,
  replicaTS: {} as VTS,
  logLength: 0,
  executed: 0,
  lag: 0,
  lastGossipAt: null,
  primary: { role, term, leader: role === 'leader' ? (`${name}.x` as ReplicaId) : null, commit: 0 },
});

text('status names the primary and its term, and marks its row', () => {
  const v: ClusterView = { replicas: [replica('rm1', 'follower', 3), replica('rm2', 'leader', 3)], frontends: [], primary: { id: 'rm2.x' as ReplicaId, name: 'rm2', term: 3 }, via: 'fe1', at: 0 };
  const out = formatCluster(v);
  assert.match(out, /^primary rm2 · term 3$/m);
  assert.match(out, /rm2 \(primary\)/);
  assert.not.match(out, /rm1 \(primary\)/);
});

text('status says when there is no primary: an election, or replicas without --voters', () => {
  const electing: ClusterView = { replicas: [replica('rm1', 'candidate', 4)], frontends: [], primary: null, via: 'fe1', at: 0 };
  assert.match(formatCluster(electing), /^no primary \(election\)$/m);
  const off: ClusterView = { replicas: [replica('rm1', 'none', 0)], frontends: [], primary: null, via: 'fe1', at: 0 };
  assert.match(formatCluster(off), /no primary \(the replicas run without --voters/);
  const old: ClusterView = { replicas: [], frontends: [], via: 'fe1', at: 0 };
  assert.not.match(formatCluster(old), /primary/, 'nothing said when nothing is known');
});

text('the trace says a forced update went to the primary, and shows elections and commits', () => {
  const chose = formatTrace({ kind: 'chose', fe: 'fe1', requestId: 'r1' as never, chosen: [{ rm: 'rm2.x' as ReplicaId, status: 'ACTIVE', inflight: 0 }], retry: false, at: 0, reason: 'primary', term: 3 } as never);
  assert.match(chose, /chose rm2\.x \(ACTIVE, 0 in flight\) as the primary \(term 3\) for r1/);
  const redirect = formatTrace({ kind: 'chose', fe: 'fe1', requestId: 'r1' as never, chosen: [{ rm: 'rm3.x' as ReplicaId, status: 'ACTIVE', inflight: 0 }], retry: true, at: 0, reason: 'redirect' } as never);
  assert.match(redirect, /retries with rm3\.x .* as the primary named by a replica/);
  assert.match(formatTrace({ kind: 'elected', rm: 'rm2.x' as ReplicaId, term: 4, at: 0 }), /rm2\.x elected primary for term 4/);
  assert.match(formatTrace({ kind: 'committed', rm: 'rm2.x' as ReplicaId, seq: 7, uid: 'u1' as UpdateId, at: 0 }), /rm2\.x committed u1 as forced #7/);
});

// ---------------------------------------------------------------------------
// The program: no person to ask

const program = suite('client program without a person to ask');

program('-e "forget-user 42" fails with exit 1 and says to add --yes, without reaching the service', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/client/main.ts'), '--naming', 'http://127.0.0.1:9', '--user', '1', '-e', 'forget-user 42'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stdout, /needs confirmation/);
  assert.match(r.stdout, /forget-user 42 --yes/);
});

program('--json prints the CONFIRM failure as one JSON object', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/client/main.ts'), '--naming', 'http://127.0.0.1:9', '--user', '1', '--json'], {
    cwd: root,
    encoding: 'utf8',
    input: 'forget-user 42\n',
    timeout: 30_000,
  });
  assert.is(r.status, 1, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { ok: boolean; result: CommandResult };
  assert.is(out.ok, false);
  assert.ok(out.result.kind === 'error' && out.result.code === 'CONFIRM');
});

parse.run();
confirm.run();
running.run();
text.run();
program.run();
