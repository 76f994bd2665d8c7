/**
 * The client's commands: every command parses, bad input gets an error with a
 * hint, titles resolve to movies by the documented rules, and results and
 * failures come back as structured results (checked against a fake session).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId, userId, type ReplicaId, type UpdateId } from '../../src/core/ids.js';
import type { MovieSummary, Query, QueryResult, Update } from '../../src/core/ops.js';
import type { ClientReply, ClusterView, ReplicaStatus } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';
import { COMMAND_HELP, isSuccess, parseCommand, resolveMovie, runCommand, runLine, titleForms, type CommandSession } from '../../src/client/commands.js';

// ---------------------------------------------------------------------------
// parseCommand

const parse = suite('parseCommand');

parse('every command parses into its structured form', () => {
  assert.equal(parseCommand('search toy story'), { name: 'search', words: 'toy story' });
  assert.equal(parseCommand('search love --genre Comedy'), { name: 'search', words: 'love', genre: 'Comedy' });
  assert.equal(parseCommand('search --genre=Sci-Fi'), { name: 'search', words: '', genre: 'Sci-Fi' });
  assert.equal(parseCommand('movie 1'), { name: 'movie', movie: { id: 1 } });
  assert.equal(parseCommand('movie Toy Story (1995)'), { name: 'movie', movie: { title: 'Toy Story (1995)' } });
  assert.equal(parseCommand('avg #12'), { name: 'avg', movie: { id: 12 } });
  assert.equal(parseCommand('get toy story'), { name: 'get', movie: { title: 'toy story' } });
  assert.equal(parseCommand('rate 1 4.5'), { name: 'rate', movie: { id: 1 }, stars: 4.5 });
  assert.equal(parseCommand('rate toy story 3'), { name: 'rate', movie: { title: 'toy story' }, stars: 3 });
  assert.equal(parseCommand('rate "Heist, The (1999)" 0.5'), { name: 'rate', movie: { title: 'Heist, The (1999)' }, stars: 0.5 });
  assert.equal(parseCommand('delete 1'), { name: 'delete', movie: { id: 1 } });
  assert.equal(parseCommand('mine'), { name: 'mine' });
  assert.equal(parseCommand('user 7'), { name: 'user', user: 7 });
  assert.equal(parseCommand('status'), { name: 'status' });
  assert.equal(parseCommand('set rm2 offline'), { name: 'set', rm: 'rm2', status: 'OFFLINE' });
  assert.equal(parseCommand('set rm1 ACTIVE'), { name: 'set', rm: 'rm1', status: 'ACTIVE' });
  assert.equal(parseCommand('set rm3 overloaded'), { name: 'set', rm: 'rm3', status: 'OVERLOADED' });
  assert.equal(parseCommand('help'), { name: 'help' });
  assert.equal(parseCommand('help rate'), { name: 'help', topic: 'rate' });
  assert.equal(parseCommand('quit'), { name: 'quit' });
  assert.equal(parseCommand('trace on'), { name: 'trace', on: true });
  assert.equal(parseCommand('trace OFF'), { name: 'trace', on: false });
  assert.equal(parseCommand('clear'), { name: 'clear' });
});

parse('command names ignore case and surrounding space; a few aliases work', () => {
  assert.equal(parseCommand('  RATE 1 5  '), { name: 'rate', movie: { id: 1 }, stars: 5 });
  assert.equal(parseCommand('exit'), { name: 'quit' });
  assert.equal(parseCommand('help exit'), { name: 'help', topic: 'quit' });
});

function isErr(x: unknown): x is { error: string; hint: string } {
  return typeof x === 'object' && x !== null && 'error' in x && 'hint' in x;
}

parse('bad input is an error with a hint saying what to do', () => {
  const cases: [string, RegExp][] = [
    ['', /help/],
    ['frobnicate 1', /help/],
    ['search', /search/],
    ['search x --genre', /genre/],
    ['movie', /movie ID\|TITLE/],
    ['movie 0', /1 to/],
    ['movie 99999999999', /1 to/],
    ['rate 1', /rate ID\|TITLE STARS/],
    ['rate 1 4.3', /0\.5 to 5 in half steps, e\.g\. rate 1 4\.5/],
    ['rate 1 6', /half steps/],
    ['rate 1 0', /half steps/],
    ['rate 1 four', /half steps/],
    ['rate 1 NaN', /half steps/],
    ['rate 1 1e0', /half steps/],
    ['mine please', /mine/],
    ['user', /user ID/],
    ['user -3', /user ids/],
    ['user 1.5', /user ids/],
    ['set rm1', /set RM/],
    ['set rm1 sleepy', /active, overloaded or offline/],
    ['set "rm 1" offline', /replica names/],
    ['help nothing', /commands:/],
    ['trace', /trace on\|off/],
    ['trace maybe', /trace on\|off/],
    ['status now', /status/],
  ];
  for (const [line, hint] of cases) {
    const r = parseCommand(line);
    assert.ok(isErr(r), `"${line}" should not parse, got ${JSON.stringify(r)}`);
    if (isErr(r)) {
      assert.ok(r.error.length > 0, line);
      assert.match(r.hint, hint, `hint for "${line}": ${r.hint}`);
    }
  }
});

parse('help covers every command with a usage and an example that parses', () => {
  for (const h of COMMAND_HELP) {
    const c = parseCommand(h.example);
    assert.not.ok(isErr(c), `example of ${h.name} does not parse: ${h.example}`);
    if (!isErr(c)) assert.is(c.name, h.name);
    assert.ok(h.usage.startsWith(h.name), h.usage);
    assert.ok(h.explains.length > 10, h.name);
  }
  const names = COMMAND_HELP.map((h) => h.name).sort();
  assert.equal(names, ['add-movie', 'avg', 'clear', 'delete', 'forget-user', 'get', 'help', 'mine', 'movie', 'quit', 'rate', 'search', 'set', 'status', 'trace', 'user']);
});

// ---------------------------------------------------------------------------
// A fake session: a tiny in-memory service

const MOVIES: MovieSummary[] = [
  { movieId: movieId(1), title: 'Toy Story (1995)', genres: ['Animation'] },
  { movieId: movieId(2), title: 'Toy Story 2 (1999)', genres: ['Animation'] },
  { movieId: movieId(3), title: 'Heist, The (1999)', genres: ['Crime'] },
  { movieId: movieId(4), title: 'Hamlet (1990)', genres: ['Drama'] },
  { movieId: movieId(5), title: 'Hamlet (1996)', genres: ['Drama'] },
  { movieId: movieId(6), title: 'Unique Lighthouse (2001)', genres: ['Drama'] },
  ...Array.from({ length: 14 }, (_, i) => ({ movieId: movieId(100 + i), title: `Night ${i} (2000)`, genres: ['Horror'] })),
];

class FakeSession implements CommandSession {
  readonly user = userId(42);
  readonly queries: Query[] = [];
  readonly updates: Update[] = [];
  ratings = new Map<number, { rating: number; timestamp: number }>();
  failNext: ClientReply | undefined;
  watched: boolean | undefined;
  private seq = 0;

  frontend() {
    return 'fe1';
  }
  watch(trace: boolean) {
    this.watched = trace;
  }
  private reply(result: QueryResult): ClientReply {
    return { ok: true, kind: 'query', result, ts: {} as VTS, servedBy: ['rm1.a' as ReplicaId], valueTS: {} as VTS };
  }
  async query(q: Query): Promise<ClientReply> {
    this.queries.push(q);
    if (this.failNext) {
      const f = this.failNext;
      this.failNext = undefined;
      return f;
    }
    const movie = (id: number) => MOVIES.find((m) => m.movieId === id);
    const unknown: ClientReply = { ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie with id ${'movieId' in q ? q.movieId : '?'}`, tried: [] };
    switch (q.kind) {
      case 'search': {
        const words = q.words.toLowerCase().split(/\s+/).filter(Boolean);
        const all = MOVIES.filter((m) => words.every((w) => m.title.toLowerCase().includes(w)));
        return this.reply({ kind: 'search', movies: all.slice(0, q.limit ?? 20), total: all.length });
      }
      case 'movie': {
        const m = movie(q.movieId);
        return m ? this.reply({ kind: 'movie', movieId: m.movieId, title: m.title, genres: m.genres, average: 4, count: 2 }) : unknown;
      }
      case 'avg': {
        const m = movie(q.movieId);
        return m ? this.reply({ kind: 'avg', movieId: m.movieId, title: m.title, average: 4, count: 2 }) : unknown;
      }
      case 'get': {
        const m = movie(q.movieId);
        const r = this.ratings.get(q.movieId);
        return m ? this.reply({ kind: 'get', userId: q.userId, movieId: m.movieId, title: m.title, rating: r?.rating ?? null, timestamp: r?.timestamp ?? null }) : unknown;
      }
      case 'mine':
        return this.reply({ kind: 'mine', userId: q.userId, ratings: [] });
    }
  }
  async update(op: Update): Promise<ClientReply> {
    this.updates.push(op);
    if (this.failNext) {
      const f = this.failNext;
      this.failNext = undefined;
      return f;
    }
    if (op.kind !== 'rate' && op.kind !== 'delete') return { ok: false, code: 'NO_PRIMARY', message: 'this fake has no primary', tried: [] };
    if (!MOVIES.some((m) => m.movieId === op.movieId)) return { ok: false, code: 'UNKNOWN_MOVIE', message: `there is no movie with id ${op.movieId}`, tried: ['rm1.a' as ReplicaId] };
    if (op.kind === 'rate') this.ratings.set(op.movieId, { rating: op.rating, timestamp: op.timestamp });
    else this.ratings.delete(op.movieId);
    return { ok: true, kind: 'update', uid: `42:x:${++this.seq}` as UpdateId, ts: {} as VTS, servedBy: ['rm1.a', 'rm2.b'] as ReplicaId[], copies: {} };
  }
  async cluster(): Promise<ClusterView> {
    return { replicas: [], frontends: [], via: 'fe1', at: 0 };
  }
  async setStatus(rm: string, status: ReplicaStatus) {
    if (rm !== 'rm1') return { ok: false as const, code: 'BAD_REQUEST', message: `there is no replica named "${rm}"; known replicas: rm1` };
    return { ok: true as const, status };
  }
}

// ---------------------------------------------------------------------------
// Title resolution

const titles = suite('title resolution');

titles('a title is known with and without its year, and with a trailing article moved to the front', () => {
  assert.equal(titleForms('Heist, The (1999)').sort(), ['heist, the', 'heist, the (1999)', 'the heist', 'the heist (1999)']);
  assert.equal(titleForms('Toy Story (1995)').sort(), ['toy story', 'toy story (1995)']);
  assert.equal(titleForms('Untitled').sort(), ['untitled']);
});

titles('an exact title wins over other matches, ignoring case, with or without the year', async () => {
  const s = new FakeSession();
  for (const t of ['toy story', 'TOY STORY (1995)', 'Toy  Story']) {
    const r = await resolveMovie(s, { title: t }, 'movie');
    assert.equal(r, { movieId: 1, title: 'Toy Story (1995)' }, t);
  }
  assert.equal(await resolveMovie(s, { title: 'toy story 2' }, 'movie'), { movieId: 2, title: 'Toy Story 2 (1999)' });
  assert.equal(await resolveMovie(s, { title: 'the heist' }, 'movie'), { movieId: 3, title: 'Heist, The (1999)' });
});

titles('a single match wins', async () => {
  const s = new FakeSession();
  assert.equal(await resolveMovie(s, { title: 'lighthouse' }, 'avg'), { movieId: 6, title: 'Unique Lighthouse (2001)' });
});

titles('several matches give at most 10 candidates to choose from', async () => {
  const s = new FakeSession();
  const r = await resolveMovie(s, { title: 'night' }, 'rate');
  assert.ok('kind' in r && r.kind === 'choose');
  if ('kind' in r && r.kind === 'choose') {
    assert.is(r.candidates.length, 10);
    assert.is(r.total, 14);
    assert.is(r.command, 'rate');
    assert.equal(r.candidates[0], { movieId: 100, title: 'Night 0 (2000)' });
  }
});

titles('several exact titles (remakes) are offered together', async () => {
  const s = new FakeSession();
  const r = await resolveMovie(s, { title: 'hamlet' }, 'movie');
  assert.ok('kind' in r && r.kind === 'choose');
  if ('kind' in r && r.kind === 'choose') assert.equal(r.candidates.map((c) => c.movieId), [4, 5]);
  assert.equal(await resolveMovie(s, { title: 'hamlet (1996)' }, 'movie'), { movieId: 5, title: 'Hamlet (1996)' });
});

titles('no match is an unknown-movie error that suggests searching', async () => {
  const s = new FakeSession();
  const r = await resolveMovie(s, { title: 'zzz' }, 'get');
  assert.ok('kind' in r && r.kind === 'error');
  if ('kind' in r && r.kind === 'error') {
    assert.is(r.code, 'UNKNOWN_MOVIE');
    assert.match(r.hint, /search for it: search WORDS/);
  }
});

titles('an id needs no search', async () => {
  const s = new FakeSession();
  assert.equal(await resolveMovie(s, { id: 7 }, 'movie'), { movieId: 7, title: undefined });
  assert.is(s.queries.length, 0);
});

// ---------------------------------------------------------------------------
// Running commands

const running = suite('runCommand');

running('rate stamps the time on the client, records the rating and reads back', async () => {
  const s = new FakeSession();
  const before = Math.floor(Date.now() / 1000);
  const r = await runLine(s, 'rate toy story 4.5');
  const after = Math.floor(Date.now() / 1000);
  assert.is(r.kind, 'rated');
  if (r.kind === 'rated') {
    assert.is(r.movieId, 1);
    assert.is(r.title, 'Toy Story (1995)');
    assert.is(r.rating, 4.5);
    assert.ok(r.timestamp >= before && r.timestamp <= after);
    assert.equal(r.served?.servedBy, ['rm1.a', 'rm2.b']);
  }
  const u = s.updates[0]!;
  assert.equal({ ...u, timestamp: 0 }, { kind: 'rate', userId: 42, movieId: 1, rating: 4.5, timestamp: 0 });
  const g = await runLine(s, 'get 1');
  assert.is(g.kind === 'get' && g.rating, 4.5);
  const d = await runLine(s, 'delete 1');
  assert.is(d.kind, 'deleted');
  const g2 = await runLine(s, 'get 1');
  assert.is(g2.kind === 'get' && g2.rating, null);
});

running('rating an unknown id is refused, suggesting a search', async () => {
  const s = new FakeSession();
  const r = await runLine(s, 'rate 999 4');
  assert.is(r.kind, 'error');
  if (r.kind === 'error') {
    assert.is(r.code, 'UNKNOWN_MOVIE');
    assert.match(r.hint, /search for it: search WORDS/);
  }
  assert.is(s.ratings.size, 0);
});

running('a rating the service refuses explains the allowed values', async () => {
  const s = new FakeSession();
  const r = await runCommand(s, { name: 'rate', movie: { id: 1 }, stars: 7 });
  assert.is(r.kind, 'error');
  if (r.kind === 'error') assert.match(r.hint, /use 0\.5 to 5 in half steps, e\.g\. rate 1 4\.5/);
});

running('no replica available names the replicas tried and suggests waiting', async () => {
  const s = new FakeSession();
  s.failNext = { ok: false, code: 'UNAVAILABLE', message: 'no replica could serve this request (rm1.a: no answer within 700 ms)', tried: ['rm1.a', 'rm2.b'] as ReplicaId[] };
  const r = await runLine(s, 'avg 1');
  assert.is(r.kind, 'error');
  if (r.kind === 'error') {
    assert.match(r.message, /rm1\.a/);
    assert.match(r.message, /rm2\.b/);
    assert.match(r.hint, /try again in a moment; see status/);
  }
});

running('search, movie, avg, mine, user, status, set, help, trace, quit give their results', async () => {
  const s = new FakeSession();
  const search = await runLine(s, 'search toy');
  assert.ok(search.kind === 'search' && search.total === 2 && search.movies.length === 2);
  assert.is((await runLine(s, 'movie 1')).kind, 'movie');
  assert.is((await runLine(s, 'avg 1')).kind, 'avg');
  const mine = await runLine(s, 'mine');
  assert.ok(mine.kind === 'ratings' && mine.mine && mine.userId === 42);
  const other = await runLine(s, 'user 7');
  assert.ok(other.kind === 'ratings' && !other.mine && other.userId === 7);
  assert.is((await runLine(s, 'status')).kind, 'status');
  assert.equal(await runLine(s, 'set rm1 offline'), { kind: 'statusSet', rm: 'rm1', status: 'OFFLINE' });
  const bad = await runLine(s, 'set rm9 offline');
  assert.ok(bad.kind === 'error' && /status/.test(bad.hint));
  const help = await runLine(s, 'help rate');
  assert.ok(help.kind === 'help' && help.entries.length === 1 && help.entries[0]!.name === 'rate');
  assert.equal(await runLine(s, 'trace on'), { kind: 'trace', on: true });
  assert.is(s.watched, true);
  assert.equal(await runLine(s, 'quit'), { kind: 'quit' });
});

running('an ambiguous title is not a success; errors are not successes', async () => {
  const s = new FakeSession();
  const r = await runLine(s, 'get night');
  assert.is(r.kind, 'choose');
  assert.not.ok(isSuccess(r));
  assert.not.ok(isSuccess(await runLine(s, 'nonsense')));
  assert.ok(isSuccess(await runLine(s, 'avg 1')));
});

running('a session that throws becomes an error result, never an exception', async () => {
  const s = new FakeSession();
  s.query = async () => {
    throw new Error('boom');
  };
  const r = await runLine(s, 'avg 1');
  assert.is(r.kind, 'error');
  if (r.kind === 'error') assert.match(r.message, /boom/);
});

parse.run();
titles.run();
running.run();
