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
  readonly violations: Violation[] = [];

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
  read(time: number, client: string, replica: string, q: Query, observed: ReadonlyMap<string, Version>): void {
    const k = this.known(client);
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
      const got = observed.get(key);
      if (!got || compareVersions(got, want) < 0) {
        const wroteIt = this.lastWrite.get(client)?.get(key);
        const rule = pastRules.has(key) ? 'writes follow reads' : wroteIt && compareVersions(wroteIt, want) === 0 ? 'read your writes' : 'monotonic reads';
        this.violations.push({ time, rule, detail: `${client} read ${key} at ${replica}: got ${fmt(got)}, had seen ${fmt(want)} (${q.kind})` });
      }
    }
    for (const [key, v] of observed) this.learn(client, key, v);
  }
}
