/**
 * The clients of a chaos run: Sessions (src/client/session.ts) in this
 * process, each issuing a seeded mix of queries and updates one at a time
 * and recording every operation in the history.
 *
 * - Several clients share a user id, so the same rows are written
 *   concurrently by different sessions.
 * - Writes go to a small set of hot movies, so rows are rewritten often.
 * - Every update carries a unique rating timestamp (`stamp`), so whatever a
 *   read returns names the write it saw.
 * - Reads are mostly of the client's own user's rows (get, mine), some of
 *   another user's (so causality crosses sessions), and some averages and
 *   searches (with hostile text) for load.
 * - A few updates are forced or immediate: addMovie (3 % of operations),
 *   mostly with a title nobody used, sometimes with one an earlier add had
 *   acknowledged (now and then in other case or spacing: the same movie), and
 *   forgetUser (1 %) of a user the clients write as, usually the client's
 *   own. Like every update they are sent once by the session, which retries
 *   a request nobody answered with the same uid.
 */
import type { Config } from '../src/core/config.js';
import { movieId, userId, type MovieId, type UserId } from '../src/core/ids.js';
import { GENRES, type Query, type Update } from '../src/core/ops.js';
import { rngFromState, seedFrom, type Rng } from '../src/core/rng.js';
import * as V from '../src/core/vts.js';
import { Session } from '../src/client/session.js';
import type { ClientReply } from '../src/core/protocol.js';
import type { History } from './history.js';

/** First rating timestamp handed out; base data ends in 2018 (≈1.54e9), so stamps never collide with it. */
export const STAMP_BASE = 2_000_000_000;

export interface ClientSpec {
  readonly name: string;
  readonly user: number;
}

export interface WorkloadOptions {
  readonly seed: number;
  readonly namingUrl: string;
  readonly config: Config;
  readonly clients: readonly ClientSpec[];
  readonly hotMovies: readonly number[];
  readonly history: History;
  /** Pause between two operations of one client, uniform in [0, thinkMs]. */
  readonly thinkMs?: number | undefined;
  /**
   * Breaks the clients on purpose, to show the checker catches it: with
   * 'forget-session' every request is sent with an empty session timestamp
   * and through the other front end than the last one (a front end's own
   * prev would otherwise still order what its clients see).
   */
  readonly sabotage?: 'forget-session' | undefined;
}

/** Search texts that look like SQL or carry terminal controls: they must change nothing and display safely. */
export const HOSTILE_TEXT: readonly string[] = [
  "'; DROP TABLE ratings; --",
  "x' OR '1'='1",
  '%',
  '_',
  '\\',
  '"; DELETE FROM movies WHERE 1=1; --',
  '\x1b[2J\x1b[H',
  '\x1b]0;pwned\x07',
  'love\x1b[31m',
  '\u202eevil',
  'NULL',
  ')) UNION SELECT * FROM ratings --',
];

const WORDS = ['the', 'love', 'night', 'war', 'man', 'city', 'story', 'day', 'king', 'dark', 'toy'];

export class Client {
  private session: Session | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private adds = 0;
  readonly rng: Rng;

  constructor(
    readonly spec: ClientSpec,
    private readonly w: Workload,
  ) {
    this.rng = rngFromState(seedFrom(`chaos:${w.o.seed}:client:${spec.name}`));
  }

  async connect(): Promise<void> {
    this.session = await Session.connect({ naming: this.w.o.namingUrl, user: userId(this.spec.user), config: this.w.o.config });
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops issuing; resolves once the operation in flight has completed. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async close(): Promise<void> {
    await this.session?.close();
  }

  private async run(): Promise<void> {
    const think = this.w.o.thinkMs ?? 60;
    while (this.running) {
      const next = this.next();
      await this.perform(next);
      if (think > 0) await new Promise((r) => setTimeout(r, this.rng.int(0, think)));
    }
  }

  /** The next operation, from this client's seeded generator. */
  next(): { query: Query } | { update: Update } {
    const r = this.rng;
    const hot = this.w.o.hotMovies;
    const me = userId(this.spec.user);
    const someone = (): UserId => (r.chance(0.8) ? me : userId(r.pick(this.w.users)));
    const movie = (): MovieId => movieId(r.pick(hot));
    const x = r.next();
    if (x < 0.3) return { query: { kind: 'get', userId: someone(), movieId: movie() } };
    if (x < 0.42) return { query: { kind: 'mine', userId: someone() } };
    if (x < 0.47) return { query: { kind: r.chance(0.5) ? 'avg' : 'movie', movieId: movie() } };
    if (x < 0.52) {
      const words = r.chance(0.4) ? r.pick(HOSTILE_TEXT) : r.pick(WORDS);
      return { query: { kind: 'search', words, ...(r.chance(0.2) ? { genre: r.chance(0.5) ? 'Drama' : r.pick(HOSTILE_TEXT) } : {}) } };
    }
    if (x < 0.55) return { update: { kind: 'addMovie', title: this.title(), genres: r.shuffle([...GENRES]).slice(0, r.int(1, 3)) } };
    if (x < 0.56) return { update: { kind: 'forgetUser', userId: r.chance(0.75) ? me : userId(r.pick(this.w.users)) } };
    const stamp = this.w.nextStamp();
    if (x < 0.9) return { update: { kind: 'rate', userId: me, movieId: movie(), rating: r.int(1, 10) / 2, timestamp: stamp } };
    return { update: { kind: 'delete', userId: me, movieId: movie(), timestamp: stamp } };
  }

  /** A title for addMovie: new (named after this client and a counter), or one an acknowledged add used. */
  private title(): string {
    const r = this.rng;
    const known = this.w.addedTitles;
    if (known.length === 0 || !r.chance(0.2)) return `Chaos ${this.spec.name} ${++this.adds} (${r.int(1950, 2030)})`;
    const t = r.pick(known);
    if (!r.chance(0.3)) return t;
    // The same movie written otherwise: case and spacing do not make a new title.
    return r.chance(0.5) ? t.toUpperCase() : t.replace(/ /g, '  ');
  }

  private send(u: Update): Promise<ClientReply> {
    const s = this.session!;
    if (u.kind === 'addMovie') return s.addMovie(u.title, u.genres);
    if (u.kind === 'forgetUser') return s.forgetUser(u.userId);
    return s.update(u);
  }

  async perform(op: { query: Query } | { update: Update }, final = false): Promise<void> {
    const s = this.session!;
    const h = this.w.o.history;
    if (this.w.o.sabotage === 'forget-session') {
      const others = s.frontends().filter((m) => m.name !== s.frontend());
      if (others.length > 0) await s.useFrontend(this.rng.pick(others).name).catch(() => undefined);
      s.prev = V.zero();
    }
    const rec = h.invoke({
      client: this.spec.name,
      user: this.spec.user,
      kind: 'query' in op ? 'query' : 'update',
      ...op,
      prevBefore: s.prev,
      feBefore: s.frontend(),
      final,
    });
    const reply = 'query' in op ? await s.query(op.query) : await this.send(op.update);
    h.complete(rec, reply, s.prev, s.frontend());
    if (reply.ok && reply.kind === 'update' && reply.result?.kind === 'addMovie' && !reply.result.existed) this.w.addedTitles.push(reply.result.title);
  }

  /** After healing: read every hot row of this client's user, and all its ratings. */
  async finalReads(): Promise<void> {
    const me = userId(this.spec.user);
    for (const m of this.w.o.hotMovies) await this.perform({ query: { kind: 'get', userId: me, movieId: movieId(m) } }, true);
    await this.perform({ query: { kind: 'mine', userId: me } }, true);
  }
}

export class Workload {
  readonly clients: Client[];
  readonly users: number[];
  /** Titles of movies added (acknowledged as new) so far, for adds of an existing title. */
  readonly addedTitles: string[] = [];
  private stamp = STAMP_BASE;

  constructor(readonly o: WorkloadOptions) {
    this.clients = o.clients.map((c) => new Client(c, this));
    this.users = [...new Set(o.clients.map((c) => c.user))];
  }

  nextStamp(): number {
    return ++this.stamp;
  }

  async connect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.connect()));
  }

  start(): void {
    for (const c of this.clients) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
  }

  async finalReads(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.finalReads()));
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
