/**
 * The benchmark clients' answer checks (read your writes, monotonic reads on
 * their own rows) against a stand-in service that can be told to misbehave:
 * a checker that never fires would make "0 wrong or stale" meaningless.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BenchClient, type CheckCounts, type SessionLike } from '../../bench/clients.js';
import type { Workload } from '../../bench/workload.js';
import type { ReplicaId, UpdateId } from '../../src/core/ids.js';
import type { Query, QueryResult, Update } from '../../src/core/ops.js';
import type { ClientReply } from '../../src/core/protocol.js';
import type { VTS } from '../../src/core/vts.js';

const test = suite('bench answer checks');

const workload: Workload = { movies: [1, 2, 3], words: ['night'], genres: ['Drama'], users: [1], pairs: [[1, 1]], ratings: 1 };
const RM = 'rm1.x' as ReplicaId;

type Mode = 'good' | 'stale' | 'made-up' | 'fail-updates';

/** An in-memory service: one replica, every update applied at once, unless told otherwise. */
class FakeSession implements SessionLike {
  prev: VTS = {};
  mode: Mode = 'good';
  private n = 0;
  private rows = new Map<string, number | null>();
  /** The state as it was when `freeze()` was called (served in 'stale' mode). */
  private frozen: { rows: Map<string, number | null>; n: number } | undefined;

  freeze(): void {
    this.frozen = { rows: new Map(this.rows), n: this.n };
  }

  async update(op: Update): Promise<ClientReply> {
    // The bench clients only rate and delete.
    if (op.kind !== 'rate' && op.kind !== 'delete') throw new Error(`the fake service does not take ${op.kind}`);
    if (this.mode === 'fail-updates') {
      // Applied, but the reply is lost: the client cannot know.
      this.rows.set(`${op.userId}/${op.movieId}`, op.kind === 'rate' ? op.rating : null);
      this.n++;
      return { ok: false, code: 'TIMEOUT', message: 'lost reply', tried: [] };
    }
    this.rows.set(`${op.userId}/${op.movieId}`, op.kind === 'rate' ? op.rating : null);
    const ts = { [RM]: ++this.n } as VTS;
    this.prev = ts;
    return { ok: true, kind: 'update', uid: `u${this.n}` as UpdateId, ts, servedBy: [RM], copies: {} };
  }

  async query(q: Query): Promise<ClientReply> {
    const state = this.mode === 'stale' && this.frozen ? this.frozen : { rows: this.rows, n: this.n };
    const valueTS = { [RM]: state.n } as VTS;
    let result: QueryResult;
    if (q.kind === 'get') {
      let rating = state.rows.get(`${q.userId}/${q.movieId}`) ?? null;
      if (this.mode === 'made-up') rating = 4.5 + 0.25; // a value nobody wrote
      result = { kind: 'get', userId: q.userId, movieId: q.movieId, title: 't', rating, timestamp: rating === null ? null : 1 };
    } else if (q.kind === 'mine') {
      const ratings = [...state.rows]
        .filter(([k, v]) => k.startsWith(`${q.userId}/`) && v !== null)
        .map(([k, v]) => ({ movieId: Number(k.split('/')[1]) as never, title: 't', rating: v as number, timestamp: 1 }));
      result = { kind: 'mine', userId: q.userId, ratings };
    } else result = { kind: 'search', movies: [], total: 0 };
    const ts = { [RM]: Math.max(state.n, this.prev[RM] ?? 0) } as VTS;
    this.prev = ts;
    return { ok: true, kind: 'query', result, ts, servedBy: [RM], valueTS };
  }

  async close(): Promise<void> {}
}

function client(s: FakeSession): { c: BenchClient; checks: CheckCounts } {
  const checks: CheckCounts = { wrong: 0, stale: 0, violations: [] };
  return { c: new BenchClient(0, s, 1_000_001, workload, checks, 5, 3), checks };
}

async function writeAll(c: BenchClient): Promise<void> {
  for (let i = 0; i < 12; i++) await c.run(i % 4 === 3 ? 'delete' : 'rate');
}

test('a service that keeps every promise gives no violation', async () => {
  const s = new FakeSession();
  const { c, checks } = client(s);
  for (let i = 0; i < 200; i++) await c.run((['rate', 'get', 'mine', 'delete', 'get', 'search'] as const)[i % 6]!);
  assert.is(checks.wrong, 0);
  assert.is(checks.stale, 0);
  assert.equal(checks.violations, []);
});

test('answers from an older state than the session has seen are counted as stale', async () => {
  const s = new FakeSession();
  const { c, checks } = client(s);
  s.freeze();
  await writeAll(c);
  s.mode = 'stale';
  for (let i = 0; i < 10; i++) await c.run(i % 2 ? 'get' : 'mine');
  assert.ok(checks.stale >= 10, `stale ${checks.stale}`);
  assert.is(checks.wrong, 0);
  assert.match(checks.violations.join('\n'), /older than the session/);
});

test('a value the client never wrote is counted as wrong', async () => {
  const s = new FakeSession();
  const { c, checks } = client(s);
  await writeAll(c);
  s.mode = 'made-up';
  for (let i = 0; i < 5; i++) await c.run('get');
  assert.is(checks.wrong, 5);
  assert.match(checks.violations[0] ?? '', /^wrong: .*get movie \d+ gave 4\.75/);
});

test('after a failed update the row is unknown until written again: either value is accepted', async () => {
  const s = new FakeSession();
  const { c, checks } = client(s);
  await writeAll(c);
  s.mode = 'fail-updates';
  for (let i = 0; i < 6; i++) await c.run('rate');
  s.mode = 'good';
  for (let i = 0; i < 20; i++) await c.run(i % 2 ? 'get' : 'mine');
  assert.is(checks.wrong + checks.stale, 0, checks.violations.join('\n'));
});

test.run();
