/**
 * A hearsay cluster with a fault proxy in front of every component.
 *
 * Each component listens on a port of its own and advertises its proxy's URL
 * (`--port P --advertise http://127.0.0.1:<proxy port>`); the naming
 * service is given to everyone as its proxy's URL. So every connection
 * between components, and from clients to front ends and naming, passes a
 * proxy the chaos run controls. A restarted component gets a new port and
 * its proxy is pointed at it: peers keep using the same URL.
 *
 * The harness itself talks to replicas directly on their own ports (with the
 * cluster secret) to introspect them and to read their rows after healing,
 * so its own view is never delayed or cut by a fault.
 *
 * Replicas elect a primary for forced and immediate updates: each gets
 * `--voters` (every replica name of the cluster) and `--state-dir` (one
 * folder of the run); a restarted replica keeps its name and that folder, so
 * it keeps its term, vote and forced log.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { configFor, type Config } from '../src/core/config.js';
import type { RequestId } from '../src/core/ids.js';
import type { Query } from '../src/core/ops.js';
import type { Introspection, ReplicaEmit, ReplicaListen, ReplicaStatus, Reply, RmQueryReply } from '../src/core/protocol.js';
import { rngFromState, seedFrom } from '../src/core/rng.js';
import * as V from '../src/core/vts.js';
import { waitForMembers } from '../src/client/wait.js';
import { FaultProxy } from './proxy.js';
import { freePort, spawnComponent, type Kind, type Proc } from './procs.js';

export interface ChaosClusterOptions {
  readonly replicas: readonly string[];
  readonly frontends: readonly string[];
  readonly secret: string;
  readonly profile: 'test' | 'default';
  readonly seed: number;
  /** Component logs go to <logDir>/<name>.log (restarts append). */
  readonly logDir: string;
  readonly dataFile?: string | undefined;
  readonly readyTimeoutMs?: number | undefined;
  /** Replicas that elect the primary (default: all of `replicas`); false: none, forced updates are refused. */
  readonly voters?: readonly string[] | false | undefined;
  /** Folder of the replicas' durable primary state (default: <logDir>/state). */
  readonly stateDir?: string | undefined;
}

interface Member {
  readonly name: string;
  readonly kind: Kind;
  readonly proxy: FaultProxy;
  proc: Proc | undefined;
  port: number;
  starts: number;
  /** A start in progress. */
  starting: Promise<void> | undefined;
}

type RmSocket = Socket<ReplicaEmit, ReplicaListen>;

export class ChaosCluster {
  readonly config: Config;
  private readonly members = new Map<string, Member>();
  private readonly admin = new Map<string, { port: number; socket: RmSocket }>();
  private reqSeq = 0;
  private closed = false;

  readonly voters: readonly string[];
  readonly stateDir: string;

  private constructor(readonly o: ChaosClusterOptions) {
    this.config = configFor(o.profile);
    this.voters = o.voters === false ? [] : (o.voters ?? o.replicas);
    this.stateDir = o.stateDir ?? path.join(o.logDir, 'state');
    mkdirSync(this.stateDir, { recursive: true });
  }

  static async start(o: ChaosClusterOptions): Promise<ChaosCluster> {
    const c = new ChaosCluster(o);
    try {
      await c.add('naming', 'naming');
      await c.startMember('naming');
      await Promise.all([...o.replicas.map((n) => c.add(n, 'replica')), ...o.frontends.map((n) => c.add(n, 'frontend'))]);
      // The first replica serves from the data file; the others join it and recover from it.
      const [first, ...rest] = o.replicas;
      if (first) await c.startMember(first);
      await Promise.all([...rest, ...o.frontends].map((n) => c.startMember(n)));
      await waitForMembers({ naming: c.namingUrl, secret: o.secret, config: c.config, frontends: o.frontends.length, replicas: o.replicas.length, timeoutMs: 20_000 });
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  private async add(name: string, kind: Kind): Promise<void> {
    const proxy = await FaultProxy.start({ targetPort: 1, rng: rngFromState(seedFrom(`proxy:${this.o.seed}:${name}`)), name });
    this.members.set(name, { name, kind, proxy, proc: undefined, port: 0, starts: 0, starting: undefined });
  }

  /** The naming service's URL (its proxy). */
  get namingUrl(): string {
    return this.member('naming').proxy.url;
  }

  names(kind?: Kind): string[] {
    return [...this.members.values()].filter((m) => kind === undefined || m.kind === kind).map((m) => m.name);
  }

  proxy(name: string): FaultProxy {
    return this.member(name).proxy;
  }

  proxies(): FaultProxy[] {
    return [...this.members.values()].map((m) => m.proxy);
  }

  isUp(name: string): boolean {
    const m = this.member(name);
    return m.proc !== undefined && !m.proc.dead && m.starting === undefined;
  }

  /** How many times the component was started (1 = never restarted). */
  starts(name: string): number {
    return this.member(name).starts;
  }

  /** The real port the component listens on now. */
  port(name: string): number {
    return this.member(name).port;
  }

  private member(name: string): Member {
    const m = this.members.get(name);
    if (!m) throw new Error(`no component named ${name}`);
    return m;
  }

  /** SIGKILL, and wait for the exit. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    await m.starting?.catch(() => undefined);
    if (m.proc && !m.proc.dead) await m.proc.kill();
  }

  /**
   * Starts the component (again) on a new port behind its proxy. A start that
   * fails (e.g. the naming service is down while a replica registers) is
   * retried until it works or `giveUpMs` has passed.
   */
  startMember(name: string, giveUpMs = 60_000): Promise<void> {
    const m = this.member(name);
    if (m.starting) return m.starting;
    const run = async () => {
      const deadline = Date.now() + giveUpMs;
      for (let attempt = 1; ; attempt++) {
        if (this.closed) throw new Error('the cluster is closed');
        const port = await freePort();
        m.port = port;
        m.proxy.setTarget(port);
        const args = ['--host', '127.0.0.1', '--port', String(port), '--advertise', m.proxy.url, '--profile', this.o.profile];
        if (m.kind !== 'naming') args.push('--naming', this.namingUrl);
        if (m.kind === 'replica') {
          args.push('--no-random-status');
          if (this.o.dataFile) args.push('--data', this.o.dataFile);
          if (this.voters.length > 0) args.push('--voters', this.voters.join(','));
          args.push('--state-dir', this.stateDir);
        }
        try {
          m.proc = await spawnComponent({
            kind: m.kind,
            name,
            args,
            secret: this.o.secret,
            logFile: path.join(this.o.logDir, `${name}.log`),
            readyTimeoutMs: this.o.readyTimeoutMs ?? 20_000,
          });
          m.starts++;
          return;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, Math.min(2000, 300 * attempt)));
        }
      }
    };
    m.starting = run().finally(() => {
      m.starting = undefined;
    });
    return m.starting;
  }

  // ---- direct access to replicas (with the secret, bypassing the proxies) ---

  private adminSocket(name: string): RmSocket {
    const m = this.member(name);
    if (m.kind !== 'replica') throw new Error(`${name} is not a replica`);
    const cur = this.admin.get(name);
    if (cur && cur.port === m.port) return cur.socket;
    cur?.socket.close();
    const socket: RmSocket = io(`http://127.0.0.1:${m.port}`, { transports: ['websocket'], auth: { secret: this.o.secret }, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
    socket.on('connect_error', () => undefined);
    this.admin.set(name, { port: m.port, socket });
    return socket;
  }

  async introspect(name: string, timeoutMs = 5000): Promise<Introspection> {
    if (!this.isUp(name)) throw new Error(`${name} is down`);
    const r = (await this.adminSocket(name).timeout(timeoutMs).emitWithAck('introspect', {})) as Reply<{ state: Introspection }>;
    if (!r.ok) throw new Error(`introspect ${name}: ${r.code}: ${r.message}`);
    return r.state;
  }

  async query(name: string, query: Query, timeoutMs = 3000): Promise<RmQueryReply> {
    const requestId = `chaos-admin-${++this.reqSeq}` as RequestId;
    return (await this.adminSocket(name).timeout(timeoutMs).emitWithAck('query', { requestId, prev: V.zero(), query })) as RmQueryReply;
  }

  async setStatusDirect(name: string, status: ReplicaStatus, timeoutMs = 2000): Promise<void> {
    const r = (await this.adminSocket(name).timeout(timeoutMs).emitWithAck('setStatus', { status })) as Reply<{ status: ReplicaStatus }>;
    if (!r.ok) throw new Error(`setStatus ${name}: ${r.code}: ${r.message}`);
  }

  /** Stops everything (TERM, then KILL), closes the proxies. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.admin.values()) a.socket.close();
    this.admin.clear();
    const all = [...this.members.values()];
    await Promise.all(all.map((m) => m.starting?.catch(() => undefined)));
    await Promise.all(all.filter((m) => m.kind !== 'naming').map((m) => m.proc?.stop()));
    await Promise.all(all.filter((m) => m.kind === 'naming').map((m) => m.proc?.stop()));
    await Promise.all(all.map((m) => m.proxy.close()));
  }
}
