/**
 * The floor: what the machine costs before hearsay does anything.
 *
 * - one hop: this process → a bare socket.io echo server (another process);
 * - two hops: this process → a relay → the echo server, the shape of
 *   client → front end → replica;
 * - the store: sql.js queries on the loaded data file, in this process.
 *
 * Every other latency is quoted as a ratio to the two-hop median taken in
 * the same run.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { Query } from '../src/core/ops.js';
import { loadSqliteStore } from '../src/replica/store/sqlite-store.js';
import { startProc, tsNode, type Proc } from './proc.js';
import { now, summarize, type Summary } from './stats.js';
import { random, randomQuery, type Workload } from './workload.js';
import { connected } from '../src/core/sockets.js';

export interface FloorResult {
  readonly oneHop: Summary;
  readonly twoHop: Summary;
  /** sql.js time per query kind, in this process. */
  readonly store: Record<'avg' | 'get' | 'mine' | 'search' | 'movie', Summary>;
  readonly loadMs: number;
}

export interface FloorOptions {
  readonly warmup: number;
  readonly roundTrips: number;
  readonly storeQueries: number;
  readonly dataFile: string;
  readonly workload: Workload;
  readonly log: (line: string) => void;
}

/** A payload shaped like a query request (request id, a 4-entry timestamp, a query). */
function payload(i: number): unknown {
  return {
    requestId: `bench-${i}`,
    prev: { 'rm1.a1b2c3': 1200 + i, 'rm2.d4e5f6': 1180, 'rm3.a7b8c9': 1195, 'rm4.f0e1d2': 1203 },
    query: { kind: 'get', userId: 1 + (i % 600), movieId: 1 + (i % 9000) },
  };
}

async function open(url: string): Promise<Socket> {
  const s = connect(url, { transports: ['websocket'], reconnection: false });
  await connected(s, url);
  return s;
}

async function roundTrips(s: Socket, n: number, into?: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await s.timeout(5000).emitWithAck('echo', payload(i));
    into?.push(now() - t0);
  }
}

export async function measureFloor(o: FloorOptions): Promise<FloorResult> {
  const procs: Proc[] = [];
  const sockets: Socket[] = [];
  try {
    const echoCmd = tsNode('bench/floor-server.ts', ['echo']);
    const echo = await startProc(echoCmd.cmd, echoCmd.args, { ready: /ready at (\S+)/, timeoutMs: 15_000 });
    procs.push(echo);
    const relayCmd = tsNode('bench/floor-server.ts', ['relay', '--to', echo.url]);
    const relay = await startProc(relayCmd.cmd, relayCmd.args, { ready: /ready at (\S+)/, timeoutMs: 15_000 });
    procs.push(relay);
    const one = await open(echo.url);
    const two = await open(relay.url);
    sockets.push(one, two);
    await roundTrips(one, o.warmup);
    await roundTrips(two, o.warmup);
    // Alternate blocks so drift in machine load hits both alike.
    const oneHop: number[] = [];
    const twoHop: number[] = [];
    const block = 250;
    for (let done = 0; done < o.roundTrips; done += block) {
      const n = Math.min(block, o.roundTrips - done);
      await roundTrips(one, n, oneHop);
      await roundTrips(two, n, twoHop);
    }
    o.log(`floor: ${oneHop.length} round trips each, one hop p50 ${summarize(oneHop).p50.toFixed(3)} ms, two hops p50 ${summarize(twoHop).p50.toFixed(3)} ms`);

    const t0 = now();
    const store = await loadSqliteStore(o.dataFile);
    const loadMs = now() - t0;
    const kinds = ['avg', 'get', 'mine', 'search', 'movie'] as const;
    const times: Record<(typeof kinds)[number], number[]> = { avg: [], get: [], mine: [], search: [], movie: [] };
    const rnd = random(11);
    try {
      for (let round = 0; round < 2; round++) {
        const keep = round === 1; // round 0 warms up
        const n = keep ? o.storeQueries : Math.min(o.warmup, o.storeQueries);
        for (let i = 0; i < n; i++) {
          for (const k of kinds) {
            const q: Query = randomQuery(rnd, o.workload, k);
            const s0 = now();
            store.query(q);
            if (keep) times[k].push(now() - s0);
          }
        }
      }
    } finally {
      store.close();
    }
    return {
      oneHop: summarize(oneHop),
      twoHop: summarize(twoHop),
      store: { avg: summarize(times.avg), get: summarize(times.get), mine: summarize(times.mine), search: summarize(times.search), movie: summarize(times.movie) },
      loadMs,
    };
  } finally {
    for (const s of sockets) s.close();
    await Promise.all(procs.map((p) => p.stop()));
  }
}
