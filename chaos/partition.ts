/**
 * Replicas on separate hosts (network namespaces, netns.ts), one of them
 * cut off by a real network partition and healed, under client load; the
 * history is judged by the same checker as the chaos run.
 *
 * Layout: naming, one front end and the clients in the root namespace on
 * the bridge address; each replica in a namespace of its own with its own
 * address. The partition takes the victim's link down: it keeps running,
 * cannot reach naming (its lease runs out and the others retire it) nor its
 * peers, and nobody can reach it; when the link comes back it registers
 * again and catches up by gossip. The replicas elect a primary among
 * themselves, so the clients' forced and immediate updates go on while a
 * majority is connected.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { configFor } from '../src/core/config.js';
import { movieId, userId, type RequestId } from '../src/core/ids.js';
import type { Introspection, ReplicaEmit, ReplicaListen, Reply, RmQueryReply } from '../src/core/protocol.js';
import * as V from '../src/core/vts.js';
import { waitForMembers } from '../src/client/wait.js';
import { check, rowKey, type BaseRow, type CheckResult, type FinalReplica } from './checker.js';
import { ackedMovieIds } from './forced.js';
import { History } from './history.js';
import { NetLab } from './netns.js';
import { ROOT, spawnComponent, type Proc } from './procs.js';
import { chooseData } from './run.js';
import { Workload } from './workload.js';

export interface PartitionOptions {
  readonly seed: number;
  /** Client load before, during and after the partition: each a third. */
  readonly durationMs: number;
  readonly replicas?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface PartitionSummary {
  readonly result: CheckResult;
  readonly convergedMs: number | null;
  readonly runDir: string;
  readonly victim: string;
  readonly victimLeft: boolean;
  readonly leftovers: readonly string[];
}

type RmSocket = Socket<ReplicaEmit, ReplicaListen>;

export async function runNetnsPartition(o: PartitionOptions): Promise<PartitionSummary> {
  const log = o.log ?? (() => undefined);
  const n = o.replicas ?? 3;
  const runDir = mkdtempSync(path.join(os.tmpdir(), `hearsay-netns-${o.seed}-`));
  const secret = randomBytes(24).toString('base64url');
  const config = configFor('test');
  const dataFile = path.join(ROOT, 'data', 'data.sqlite');
  const { users, hotMovies, base } = await chooseData(o.seed, dataFile);
  const lab = NetLab.create(n);
  const procs: Proc[] = [];
  const admin = new Map<string, RmSocket>();
  let workload: Workload | undefined;
  const leftovers: string[] = [];
  try {
    log(`netns: lab ${lab.prefix} on ${lab.subnet}.0/24, logs in ${runDir}`);
    const start = async (kind: 'naming' | 'frontend' | 'replica', name: string, args: string[], netns?: string) => {
      const p = await spawnComponent({ kind, name, args: [...args, '--profile', 'test'], secret, netns, logFile: path.join(runDir, `${name}.log`), readyTimeoutMs: 30_000 });
      procs.push(p);
      return p;
    };
    const naming = await start('naming', 'naming', ['--host', lab.hostIp, '--port', '0']);
    const rms: Proc[] = [];
    // The replicas elect a primary for forced and immediate updates; its state survives in runDir/state.
    const voters = Array.from({ length: n }, (_, i) => `rm${i + 1}`).join(',');
    const stateDir = path.join(runDir, 'state');
    for (let i = 1; i <= n; i++) {
      const args = ['--host', lab.ipOf(i), '--port', '0', '--naming', naming.url, '--no-random-status', '--data', dataFile, '--voters', voters, '--state-dir', stateDir];
      rms.push(await start('replica', `rm${i}`, args, lab.ns(i)));
    }
    await start('frontend', 'fe1', ['--host', lab.hostIp, '--port', '0', '--naming', naming.url]);
    await waitForMembers({ naming: naming.url, secret, config, frontends: 1, replicas: n, timeoutMs: 30_000 });
    for (const rm of rms) {
      const s: RmSocket = io(rm.url, { transports: ['websocket'], auth: { secret }, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
      s.on('connect_error', () => undefined);
      admin.set(rm.name, s);
    }
    const introspect = async (name: string): Promise<Introspection> => {
      const r = (await admin.get(name)!.timeout(3000).emitWithAck('introspect', {})) as Reply<{ state: Introspection }>;
      if (!r.ok) throw new Error(`introspect ${name}: ${r.code}`);
      return r.state;
    };

    const history = new History();
    const clients = [0, 0, 1, 2].map((u, i) => ({ name: `c${i + 1}`, user: users[u]! }));
    workload = new Workload({ seed: o.seed, namingUrl: naming.url, config, clients, hotMovies, history });
    await workload.connect();
    workload.start();
    const third = Math.round(o.durationMs / 3);
    await new Promise((r) => setTimeout(r, third));

    // The partition.
    const victimIndex = 2;
    const victim = `rm${victimIndex}`;
    const rec = history.fault({ kind: 'rm-partition', target: victim, plannedAt: third, rmUnavailable: true });
    lab.cut(victimIndex);
    rec.startedAt = history.now();
    rec.outcome = 'done';
    rec.note = `link of ${lab.ns(victimIndex)} down`;
    log(`netns: ${victim} cut off at ${(rec.startedAt / 1000).toFixed(1)} s`);
    // Wait until naming declares it gone (its lease ran out), then some more.
    const cutAt = rec.startedAt;
    let victimLeft = false;
    const deadline = Date.now() + third;
    while (Date.now() < deadline && !victimLeft) {
      try {
        const list = await waitForMembers({ naming: naming.url, secret, config, replicas: 0, serving: false, timeoutMs: 2000 });
        victimLeft = !list.replicas.some((m) => m.name === victim);
      } catch {
        /* ask again */
      }
      if (!victimLeft) await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, third - (history.now() - cutAt))));
    lab.heal(victimIndex);
    rec.endedAt = history.now();
    log(`netns: ${victim} healed at ${(rec.endedAt / 1000).toFixed(1)} s (naming had ${victimLeft ? '' : 'not '}declared it gone)`);
    await new Promise((r) => setTimeout(r, third));
    await workload.stop();

    // Convergence.
    const healedAt = performance.now();
    let convergedMs: number | null = null;
    while (performance.now() - healedAt < 30_000) {
      try {
        const st = await Promise.all(rms.map((r) => introspect(r.name)));
        if (st.every((s) => s.phase === 'serving' && s.digest === st[0]!.digest && V.equals(s.valueTS, st[0]!.valueTS))) {
          convergedMs = Math.round(performance.now() - healedAt);
          break;
        }
      } catch {
        /* not answering yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`netns: ${convergedMs === null ? 'no convergence' : `converged ${convergedMs} ms after the load stopped`}`);
    await workload.finalReads();
    const finals: FinalReplica[] = [];
    let q = 0;
    for (const rm of rms) {
      const st = await introspect(rm.name);
      const rows = new Map<string, BaseRow>();
      for (const u of users) {
        const r = (await admin.get(rm.name)!.timeout(5000).emitWithAck('query', { requestId: `netns-final-${++q}` as RequestId, prev: V.zero(), query: { kind: 'mine', userId: userId(u) } })) as RmQueryReply;
        if (!r.ok || r.result.kind !== 'mine') throw new Error(`final read at ${rm.name} failed`);
        for (const x of r.result.ratings) rows.set(rowKey(u, x.movieId), { rating: x.rating, timestamp: x.timestamp });
      }
      // Every movie a client was told it added, under its id.
      const movies = new Map<number, string | null>();
      for (const id of ackedMovieIds(history.ops)) {
        const r = (await admin.get(rm.name)!.timeout(5000).emitWithAck('query', { requestId: `netns-final-${++q}` as RequestId, prev: V.zero(), query: { kind: 'movie', movieId: movieId(id) } })) as RmQueryReply;
        if (!r.ok && r.code !== 'UNKNOWN_MOVIE') throw new Error(`final read of movie ${id} at ${rm.name} failed: ${r.code}`);
        movies.set(id, r.ok && r.result.kind === 'movie' ? r.result.title : null);
      }
      finals.push({ name: rm.name, id: st.id, phase: st.phase, digest: st.digest, valueTS: st.valueTS, rows, movies });
    }
    const result = check({ ops: history.ops, faults: history.faults, base, users, final: { replicas: finals, convergedMs, convergeBoundMs: 30_000 } });
    history.writeJsonl(path.join(runDir, 'history.jsonl'));
    return { result, convergedMs, runDir, victim, victimLeft, leftovers };
  } finally {
    for (const s of admin.values()) s.close();
    await workload?.close().catch(() => undefined);
    await Promise.all(procs.filter((p) => p.kind !== 'naming').map((p) => p.stop()));
    await Promise.all(procs.map((p) => p.stop()));
    lab.destroy();
    leftovers.push(...lab.leftovers());
    if (leftovers.length) log(`netns: left behind: ${leftovers.join(', ')}`);
  }
}
