/**
 * The simulator's judge. It sees every reply a client gets, with the version
 * of every row the answering replica read (a simulator-only view of the
 * store), and checks the session guarantees as Bayou defines them, per row:
 *
 * - read-your-writes: a read never shows a row older than a write this
 *   client has had acknowledged;
 * - monotonic reads: a read never shows a row older than one this client
 *   has already read;
 * - monotonic writes: a client's later write to a row has a greater version
 *   than its earlier ones (so it wins everywhere);
 * - writes follow reads (causality across rows): whoever observes a write
 *   also observes everything its writer had seen or written before issuing it.
 *
 * "Older" is the last-writer-wins version order, which extends causality.
 *
 * A forgotten user (immediate forgetUser) has a user tombstone with the
 * forget's version: it stands for every row of that user, so a row the
 * replica dropped counts as observed at the tombstone's version, and a client
 * that had a forget acknowledged must never again see a row of that user
 * older than the forget (read-your-writes for the forget).
 */
import { compareVersions, type Query, type Version } from '../core/ops.js';

export interface Violation {
  readonly time: number;
  readonly rule: string;
  readonly detail: string;
}

const fmt = (v: Version | undefined) => (v ? `(${v.order}, ${v.uid || 'base'})` : 'none');

export class SessionChecker {
  /** client → row key → newest version it has seen or written. */
  private readonly knowledge = new Map<string, Map<string, Version>>();
  /** client → row key → version of its newest acknowledged write. */
  private readonly lastWrite = new Map<string, Map<string, Version>>();
  /** uid → the writer's knowledge when it issued that write (its causal past). */
  private readonly pastOf = new Map<string, Map<string, Version>>();
  /** client → user → version of the newest forget of that user it has had acknowledged. */
  private readonly forgets = new Map<string, Map<number, Version>>();
  readonly violations: Violation[] = [];

  /** An acknowledged forget of `userId` with version `v`. */
  forgot(client: string, userId: number, v: Version): void {
    let f = this.forgets.get(client);
    if (!f) this.forgets.set(client, (f = new Map()));
    const cur = f.get(userId);
    if (!cur || compareVersions(v, cur) > 0) f.set(userId, v);
  }

  /** A client issues a write: remember what it had seen, which the write now depends on. */
  issued(client: string, uid: string): void {
    this.pastOf.set(uid, new Map(this.known(client)));
  }

  private known(client: string): Map<string, Version> {
    let k = this.knowledge.get(client);
    if (!k) this.knowledge.set(client, (k = new Map()));
    return k;
  }

  private learn(client: string, key: string, v: Version): void {
    const k = this.known(client);
    const cur = k.get(key);
    if (!cur || compareVersions(v, cur) > 0) k.set(key, v);
  }

  /** An acknowledged write of row `key` with version `v`. */
  wrote(time: number, client: string, key: string, v: Version): void {
    let w = this.lastWrite.get(client);
    if (!w) this.lastWrite.set(client, (w = new Map()));
    const prev = w.get(key);
    if (prev && compareVersions(v, prev) <= 0) {
      this.violations.push({ time, rule: 'monotonic writes', detail: `${client} wrote ${key} at ${fmt(v)} after ${fmt(prev)}` });
    }
    w.set(key, v);
    this.learn(client, key, v);
  }

  /** A read answered by `replica`, which read rows `observed` (key → version, tombstones included). */
  read(time: number, client: string, replica: string, q: Query, observed: ReadonlyMap<string, Version>, forgotten: ReadonlyMap<number, Version> = new Map()): void {
    const k = this.known(client);
    const userOf = (key: string) => Number(key.split(':')[0]);
    /** The version a row effectively has at the replica: a user tombstone above it hides it. */
    const effective = (key: string): Version | undefined => {
      const row = observed.get(key);
      const tomb = forgotten.get(userOf(key));
      if (!tomb) return row;
      return !row || compareVersions(tomb, row) > 0 ? tomb : row;
    };
    const myForgets = this.forgets.get(client);
    if (myForgets) {
      for (const [key, v] of observed) {
        const f = myForgets.get(userOf(key));
        const eff = effective(key)!;
        if (f && compareVersions(v, f) < 0 && compareVersions(eff, f) < 0) {
          this.violations.push({ time, rule: 'read your writes (forget)', detail: `${client} read ${key} at ${replica} at ${fmt(v)} after forgetting user ${userOf(key)} at ${fmt(f)} (${q.kind})` });
        }
      }
    }
    // What the observed writes depend on must be visible in this same answer too.
    const pastRules = new Map<string, string>();
    for (const v of observed.values()) {
      const past = this.pastOf.get(v.uid);
      if (!past) continue;
      for (const [key, pv] of past) {
        const cur = k.get(key);
        if (!cur || compareVersions(pv, cur) > 0) {
          k.set(key, pv);
          pastRules.set(key, `causal past of ${v.uid}`);
        }
      }
    }
    const inScope = (key: string): boolean => {
      const [u, m] = key.split(':').map(Number);
      switch (q.kind) {
        case 'get':
          return u === q.userId && m === q.movieId;
        case 'mine':
          return u === q.userId;
        case 'avg':
        case 'movie':
          return m === q.movieId;
        case 'search':
          return false;
      }
    };
    for (const [key, want] of k) {
      if (!inScope(key)) continue;
      const got = effective(key);
      if (!got || compareVersions(got, want) < 0) {
        const wroteIt = this.lastWrite.get(client)?.get(key);
        const rule = pastRules.has(key) ? 'writes follow reads' : wroteIt && compareVersions(wroteIt, want) === 0 ? 'read your writes' : 'monotonic reads';
        this.violations.push({ time, rule, detail: `${client} read ${key} at ${replica}: got ${fmt(got)}, had seen ${fmt(want)} (${q.kind})` });
      }
    }
    for (const key of observed.keys()) this.learn(client, key, effective(key)!);
  }
}
