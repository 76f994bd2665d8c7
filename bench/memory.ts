/**
 * Memory: resident set size (VmRSS from /proc/<pid>/status) of every process
 * of a fresh cluster right after it loaded the data file, after a run of
 * updates, and once the replicas have converged after it ("settled"); with
 * the replicas' log lengths and executed-update tables from introspection.
 *
 * The updates overwrite a bounded set of rows (16 clients × 50 movies each),
 * so the data itself does not grow: what grows, if anything, is the
 * algorithm's bookkeeping (log, executed table).
 */
import type { Introspection } from '../src/core/protocol.js';
import { Cluster } from '../tests/helpers/cluster.js';
import { runLoad } from './clients.js';
import { rssMB } from './proc.js';
import { now } from './stats.js';
import type { MemoryResult, ProcessMemory, ReplicaGrowth } from './types.js';
import { BENCH_USER_BASE, type Workload } from './workload.js';

export interface MemoryOptions {
  readonly workload: Workload;
  readonly frontends: number;
  readonly replicas: number;
  readonly updates: number;
  readonly clients: number;
  readonly maxMs: number;
  readonly log: (line: string) => void;
}

async function introspectAll(c: Cluster): Promise<Map<string, Introspection>> {
  const out = new Map<string, Introspection>();
  await Promise.all(
    c.replicas.map(async (p) => {
      try {
        out.set(p.name, await c.introspect(p.name, 10_000));
      } catch {
        /* reported as missing */
      }
    }),
  );
  return out;
}

async function rssAll(c: Cluster): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  for (const p of [c.naming, ...c.frontends, ...c.replicas]) out.set(p.name, await rssMB(p.pid));
  return out;
}

export async function measureMemory(o: MemoryOptions): Promise<MemoryResult> {
  const c = await Cluster.start({ frontends: o.frontends, replicas: o.replicas, profile: 'default', readyTimeoutMs: 60_000 });
  try {
    await c.waitForConvergence(30_000, 200);
    const rssLoad = await rssAll(c);
    const insLoad = await introspectAll(c);
    o.log(`memory: after load: ${[...rssLoad].map(([n, mb]) => `${n} ${mb?.toFixed(1)} MB`).join(', ')}`);

    const firstRm = c.replicas[0]!;
    const trace: { updates: number; mb: number }[] = [];
    const first = await rssMB(firstRm.pid);
    if (first !== null) trace.push({ updates: 0, mb: first });
    const every = Math.max(1000, Math.round(o.updates / 10 / 1000) * 1000);
    let lastLogged = 0;
    const t0 = now();
    const r = await runLoad({
      naming: c.namingUrl,
      config: c.config,
      workload: o.workload,
      clients: o.clients,
      firstIndex: 0,
      userBase: BENCH_USER_BASE + 200_000,
      durationMs: o.maxMs,
      maxOps: o.updates,
      seed: 9,
      updatesOnly: true,
      ownMovies: 50,
      progress: (ops) => {
        if (ops - lastLogged < every) return;
        lastLogged = ops;
        void rssMB(firstRm.pid).then((mb) => {
          if (mb !== null) trace.push({ updates: ops, mb });
        });
        o.log(`memory: ${ops} updates (${Math.round((ops / (now() - t0)) * 1000)} /s)`);
      },
    });
    const rssAfter = await rssAll(c);
    const insAfter = await introspectAll(c);
    const last = await rssMB(firstRm.pid);
    if (last !== null) trace.push({ updates: r.ops, mb: last });
    try {
      await c.waitForConvergence(30_000, 200);
    } catch (e) {
      o.log(`memory: replicas did not converge after the updates: ${(e as Error).message.slice(0, 300)}`);
    }
    const rssSettled = await rssAll(c);
    const insSettled = await introspectAll(c);
    const processes: ProcessMemory[] = [c.naming, ...c.frontends, ...c.replicas].map((p) => ({
      name: p.name,
      kind: p.kind,
      pid: p.pid,
      afterLoadMB: rssLoad.get(p.name) ?? null,
      afterUpdatesMB: rssAfter.get(p.name) ?? null,
      settledMB: rssSettled.get(p.name) ?? null,
    }));
    const replicas: ReplicaGrowth[] = c.replicas.map((p) => {
      const a = insLoad.get(p.name);
      const b = insAfter.get(p.name);
      const s = insSettled.get(p.name);
      return {
        name: p.name,
        logLengthAfterLoad: a?.logLength ?? null,
        logLengthAfterUpdates: b?.logLength ?? null,
        logLengthSettled: s?.logLength ?? null,
        executedAfterLoad: a?.executed ?? null,
        executedAfterUpdates: b?.executed ?? null,
        executedSettled: s?.executed ?? null,
        tableAfterUpdates: b ? Object.keys(b.table).length : null,
        ratings: s?.ratings ?? b?.ratings ?? null,
      };
    });
    return {
      updates: r.ops,
      updatesPerSec: (r.ops / r.durationMs) * 1000,
      failed: r.failed,
      processes,
      replicas,
      rssTrace: trace.sort((x, y) => x.updates - y.updates),
    };
  } finally {
    await c.close();
  }
}
