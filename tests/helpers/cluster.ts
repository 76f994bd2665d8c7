/**
 * A real hearsay cluster for tests and benchmarks: a naming service, F front
 * ends and R replicas, each its own `node dist/src/<kind>/main.js` process on
 * 127.0.0.1 with a free port.
 *
 *   import { buildOnce, Cluster } from '../helpers/cluster.js';
 *   buildOnce();                                   // compiles src/ once (synchronously)
 *   const c = await Cluster.start({ frontends: 2, replicas: 3 });
 *   try {
 *     const s = await c.session(42);               // a client Session (src/client/session.ts)
 *     await c.kill('rm2');                         // SIGKILL, waits for the exit
 *     await c.waitForMembers({ replicas: 2 });     // asks the naming service
 *     await c.restart('rm2');                      // same name and state folder, new incarnation
 *     const st = await c.introspect('rm1');        // replica internals (uses the secret)
 *   } finally {
 *     await c.close();                             // TERM, KILL after a grace, by PID
 *   }
 *
 * Also: `addReplica/addFrontend(name?)`, `stop(name)` (graceful), `proc(name)`
 * (pid, url, logTail()), `frontends`/`replicas` (live ones), `all()`, `pids()`,
 * `namingUrl`, `secret`, `config`, `movieIds(n)` (ids of existing movies: ids
 * have gaps), `setStatus(rm, status)`, `rmCall(rm, ms, f)` (any replica call
 * with the secret), `waitForList(pred)` (a condition on naming's list, e.g. a
 * killed member gone), `waitForConvergence()` (all replicas serving with the
 * same valueTS and digest).
 *
 * Guarantees:
 * - Every process is started by this helper with a known PID and stopped by
 *   PID: `close()` sends SIGTERM, then SIGKILL after `graceMs`, and resolves
 *   once every process has exited. If the test process itself exits without
 *   calling close(), an exit hook SIGKILLs whatever is still running.
 * - `start` resolves once every process printed its `hearsay <kind> <name>
 *   ready at <url>` line (front ends and replicas print it after registering)
 *   and the naming service lists them all; it rejects, after stopping what it
 *   started, with the failing component's name and the tail of its log.
 * - Each process's stderr (its log) is kept in memory (the last ~256 KiB) and,
 *   with `logDir`, written to `<logDir>/<name>.log`.
 * - A cluster secret is generated (or taken from options) and given to the
 *   processes through the environment (HEARSAY_SECRET), never on a command line.
 * - Replicas elect a primary for forced/immediate updates: every replica gets
 *   `--voters` = the names of the replicas the cluster starts with (rm1..rmN;
 *   ones added later get the same list, so they do not vote) and
 *   `--state-dir` = one temporary folder of the cluster (removed by close()),
 *   so a replica restarted under its name keeps its term, vote and log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { configFor, type Config } from '../../src/core/config.js';
import { userId as toUserId } from '../../src/core/ids.js';
import type { Introspection, Member, ReplicaListen, ReplicaEmit, ReplicaStatus, Reply } from '../../src/core/protocol.js';
import type { Socket } from 'socket.io-client';
import { Session, type SessionOptions } from '../../src/client/session.js';
import { waitForMembers, type WaitResult } from '../../src/client/wait.js';
import { connected } from '../../src/core/sockets.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let built = false;
/** Compiles the project once per test process (bin/ensure-built.sh, synchronously). Throws if the build fails. */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync('bash', [path.join(ROOT, 'bin/ensure-built.sh')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`bin/ensure-built.sh failed (exit ${r.status})`);
  built = true;
}

export type Kind = 'naming' | 'frontend' | 'replica';

export interface ClusterOptions {
  frontends?: number;
  replicas?: number;
  /** Timing profile for every process and for helper clients (default 'test'). */
  profile?: 'test' | 'default';
  /** Cluster secret (default: random). */
  secret?: string;
  /** Data file for the replicas (default: data/data.sqlite). */
  dataFile?: string;
  /** Keep replicas' random status changes (default false: `--no-random-status`). */
  randomStatus?: boolean;
  /** Write each process's log to `<logDir>/<name>.log`. */
  logDir?: string;
  /** How long each process may take to print its ready line, and all to register (default 20 s). */
  readyTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when stopping (default 2 s). */
  graceMs?: number;
  /** Port for the naming service (default 0: any free port). */
  namingPort?: number;
  /** Extra command-line arguments per kind. */
  extraArgs?: Partial<Record<Kind, readonly string[]>>;
  /** Passed through to the processes' environment (added to process.env). */
  env?: Record<string, string>;
  /** Names of the replicas that elect the primary (default: the names of the replicas started with the cluster); false: none (forced updates refused). */
  voters?: readonly string[] | false;
  /** Folder for the replicas' durable primary state (default: a temporary folder removed by close()). */
  stateDir?: string;
}

export interface Proc {
  readonly kind: Kind;
  readonly name: string;
  readonly pid: number;
  /** The URL from the ready line. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  readonly dead: boolean;
  /** The last lines of its log (stderr). */
  logTail(lines?: number): string;
  /** The whole kept log (up to ~256 KiB). */
  log(): string;
}

const MAIN: Record<Kind, string> = {
  naming: 'dist/src/naming/main.js',
  frontend: 'dist/src/frontend/main.js',
  replica: 'dist/src/replica/main.js',
};

const LOG_KEEP = 256 * 1024;

/** Every process any Cluster started in this test process and not yet seen exit: the safety net. */
const live = new Set<ChildProcess>();
/** Temporary state folders of clusters not closed yet (removed by the same hook). */
const tempDirs = new Set<string>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        if (c.pid) process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
}

class ProcImpl implements Proc {
  url = '';
  pid: number;
  dead = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private buf = '';
  private file: WriteStream | undefined;

  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly child: ChildProcess,
    logDir: string | undefined,
  ) {
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = child.pid;
    live.add(child);
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      this.file = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => this.append(d));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.dead = true;
        live.delete(child);
        this.append(`[${name} exited: ${signal ?? `code ${code}`}]\n`);
        this.file?.end();
        resolve({ code, signal });
      });
    });
  }

  append(text: string): void {
    this.buf += text;
    if (this.buf.length > LOG_KEEP) this.buf = this.buf.slice(-LOG_KEEP / 2);
    this.file?.write(text);
  }

  log(): string {
    return this.buf;
  }

  logTail(lines = 20): string {
    return this.buf.split('\n').slice(-lines - 1).join('\n');
  }
}

/** Sends `signal` to a process by PID (no error if it is gone). */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export class Cluster {
  readonly secret: string;
  readonly config: Config;
  readonly profile: 'test' | 'default';
  private readonly o: ClusterOptions;
  private readonly procs = new Map<string, ProcImpl>();
  /** Every process ever started, restarts included. */
  private readonly history: ProcImpl[] = [];
  private readonly sessions = new Set<Session>();
  private namingProc!: ProcImpl;
  private feSeq = 0;
  private rmSeq = 0;
  private closed = false;
  /** The replicas' state folder; `ownStateDir`: created here, removed by close(). */
  readonly stateDir: string;
  private readonly ownStateDir: boolean;
  /** The voter list every replica gets (empty: none). */
  readonly voters: readonly string[];

  private constructor(o: ClusterOptions) {
    this.o = o;
    this.secret = o.secret ?? randomBytes(24).toString('base64');
    this.profile = o.profile ?? 'test';
    this.config = configFor(this.profile);
    this.ownStateDir = o.stateDir === undefined;
    this.stateDir = o.stateDir ?? mkdtempSync(path.join(tmpdir(), 'hearsay-state-'));
    if (this.ownStateDir) tempDirs.add(this.stateDir);
    this.voters = o.voters === false ? [] : (o.voters ?? Array.from({ length: o.replicas ?? 3 }, (_, i) => `rm${i + 1}`));
  }

  /** Starts naming, then the front ends (fe1..) and replicas (rm1..) in parallel; resolves when all are registered. */
  static async start(o: ClusterOptions = {}): Promise<Cluster> {
    buildOnce();
    hookExit();
    const c = new Cluster(o);
    try {
      c.namingProc = await c.spawn('naming', 'naming', ['--port', String(o.namingPort ?? 0)]);
      const starts: Promise<Proc>[] = [];
      for (let i = 0; i < (o.replicas ?? 3); i++) starts.push(c.addReplica());
      for (let i = 0; i < (o.frontends ?? 1); i++) starts.push(c.addFrontend());
      const results = await Promise.allSettled(starts);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await c.waitForMembers({ frontends: c.frontends.length, replicas: c.replicas.length, timeoutMs: o.readyTimeoutMs ?? 20_000 });
      return c;
    } catch (e) {
      await c.close();
      // Test runners tend to hide errors thrown in setup hooks; say it here too.
      process.stderr.write(`Cluster.start failed: ${(e as Error).message}\n`);
      throw e;
    }
  }

  /** The naming service's URL. */
  get namingUrl(): string {
    return this.namingProc.url;
  }

  get naming(): Proc {
    return this.namingProc;
  }

  /** Live (not exited) front-end processes, in start order. */
  get frontends(): Proc[] {
    return [...this.procs.values()].filter((p) => p.kind === 'frontend' && !p.dead);
  }

  /** Live (not exited) replica processes, in start order. */
  get replicas(): Proc[] {
    return [...this.procs.values()].filter((p) => p.kind === 'replica' && !p.dead);
  }

  /** Every process started so far (including exited ones), by name. */
  all(): Proc[] {
    return [...this.procs.values()];
  }

  proc(name: string): Proc {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process named ${name} in this cluster (have ${[...this.procs.keys()].join(', ')})`);
    return p;
  }

  /** PIDs of every process started (alive or not, restarts included). */
  pids(): number[] {
    return this.history.map((p) => p.pid);
  }

  /** Starts one more replica (default name rm<N+1>); resolves after its ready line. */
  addReplica(name = `rm${++this.rmSeq}`): Promise<Proc> {
    const args = ['--naming', this.namingUrl];
    if (this.o.dataFile) args.push('--data', this.o.dataFile);
    if (!this.o.randomStatus) args.push('--no-random-status');
    if (this.voters.length > 0) args.push('--voters', this.voters.join(','));
    args.push('--state-dir', this.stateDir);
    return this.spawn('replica', name, args);
  }

  /** Starts one more front end (default name fe<N+1>); resolves after its ready line. */
  addFrontend(name = `fe${++this.feSeq}`): Promise<Proc> {
    return this.spawn('frontend', name, ['--naming', this.namingUrl]);
  }

  /** Sends a signal (default SIGKILL) to a process by PID and waits until it has exited. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process named ${name}`);
    if (p.dead) return;
    signalPid(p.pid, signal);
    await p.exited;
  }

  /** Stops a process gracefully (SIGTERM, SIGKILL after the grace) and waits for its exit. */
  async stop(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.dead) return;
    await this.terminate([p]);
  }

  /**
   * Starts a stopped or killed front end or replica again with the same name
   * (a replica gets a new incarnation id and keeps its state folder, so the
   * primary's term, vote and log survive). Kills it first if it still runs.
   */
  async restart(name: string): Promise<Proc> {
    const p = this.proc(name);
    if (!p.dead) await this.kill(name);
    if (p.kind === 'replica') return this.addReplica(name);
    if (p.kind === 'frontend') return this.addFrontend(name);
    throw new Error('restarting the naming service is not supported by this helper (start a new cluster)');
  }

  /** Waits (asking the naming service) until enough members are registered; replicas must be serving. */
  waitForMembers(want: { frontends?: number; replicas?: number; names?: string[]; timeoutMs?: number }): Promise<WaitResult> {
    return waitForMembers({
      naming: this.namingUrl,
      secret: this.secret,
      config: this.config,
      frontends: want.frontends ?? 0,
      replicas: want.replicas ?? 0,
      names: want.names ?? [],
      timeoutMs: want.timeoutMs ?? 10_000,
    });
  }

  /**
   * Resolves when `pred(members)` holds for the naming service's list (all
   * kinds), checked on every change; rejects after `timeoutMs` with the last list.
   */
  async waitForList(pred: (members: Member[]) => boolean, timeoutMs = 5000): Promise<Member[]> {
    const { NamingClient } = await import('../../src/naming/client.js');
    const quiet = { info() {}, warn() {}, error() {} };
    const nc = new NamingClient({ url: this.namingUrl, secret: this.secret, log: quiet, config: this.config });
    let last: Member[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Member[]>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`condition on the naming list not met within ${timeoutMs} ms; it lists ${last.map((m) => m.name).join(', ') || 'nobody'}`)), timeoutMs);
        nc.watch(undefined, (list) => {
          last = list;
          if (pred(list)) resolve(list);
        });
      });
    } finally {
      if (timer) clearTimeout(timer);
      await nc.close();
    }
  }

  /** A client Session on this cluster (closed by `close()` if still open). */
  async session(user: number, extra: Partial<SessionOptions> = {}): Promise<Session> {
    const s = await Session.connect({ naming: this.namingUrl, user: toUserId(user), config: this.config, ...extra });
    this.sessions.add(s);
    return s;
  }

  /**
   * Ids of existing movies (ids have gaps), the `n` smallest, asked through a
   * front end with a search that matches every title. At most 200.
   */
  async movieIds(n: number): Promise<number[]> {
    const s = await Session.connect({ naming: this.namingUrl, user: toUserId(1), config: this.config });
    try {
      const r = await s.query({ kind: 'search', words: '', limit: Math.min(200, Math.max(1, n)) });
      if (!r.ok || r.kind !== 'query') throw new Error(`search for movie ids failed: ${JSON.stringify(r)}`);
      return (r.result as { movies: { movieId: number }[] }).movies.map((m) => m.movieId);
    } finally {
      await s.close();
    }
  }

  /** Calls a replica's `introspect` (with the cluster secret). */
  async introspect(name: string, timeoutMs = 3000): Promise<Introspection> {
    const r = await this.rmCall<Reply<{ state: Introspection }>>(name, timeoutMs, (s) => s.timeout(timeoutMs).emitWithAck('introspect', {}));
    if (!r.ok) throw new Error(`introspect ${name}: ${r.code}: ${r.message}`);
    return r.state;
  }

  /** Sets a replica's status directly (with the cluster secret). */
  async setStatus(name: string, status: ReplicaStatus, timeoutMs = 3000): Promise<void> {
    const r = await this.rmCall<Reply<{ status: ReplicaStatus }>>(name, timeoutMs, (s) => s.timeout(timeoutMs).emitWithAck('setStatus', { status }));
    if (!r.ok) throw new Error(`setStatus ${name}: ${r.code}: ${r.message}`);
  }

  /** Opens a socket to a replica with the secret, runs `f`, closes it. */
  async rmCall<R>(name: string, timeoutMs: number, f: (s: Socket<ReplicaEmit, ReplicaListen>) => Promise<R>): Promise<R> {
    const p = this.proc(name);
    if (p.kind !== 'replica') throw new Error(`${name} is not a replica`);
    const s: Socket<ReplicaEmit, ReplicaListen> = io(p.url, { transports: ['websocket'], auth: { secret: this.secret }, reconnection: false, timeout: timeoutMs });
    try {
      await connected(s, `${name} at ${p.url}`, timeoutMs + 1000);
      return await f(s);
    } finally {
      s.disconnect();
    }
  }

  /**
   * Waits until every live replica reports the same valueTS and digest (and
   * no replica is recovering), polling introspect every `everyMs`.
   * Resolves with the introspections; rejects after `timeoutMs` showing them.
   */
  async waitForConvergence(timeoutMs = 10_000, everyMs = 100): Promise<Introspection[]> {
    const deadline = Date.now() + timeoutMs;
    let last: Introspection[] = [];
    for (;;) {
      try {
        last = await Promise.all(this.replicas.map((r) => this.introspect(r.name)));
        const first = last[0];
        if (
          first &&
          last.every((x) => x.phase === 'serving' && x.digest === first.digest && JSON.stringify(x.valueTS) === JSON.stringify(first.valueTS))
        ) {
          return last;
        }
      } catch {
        /* a replica may be between lives; ask again */
      }
      if (Date.now() >= deadline) {
        throw new Error(`replicas did not converge within ${timeoutMs} ms: ${last.map((x) => `${x.name} ${x.phase} valueTS ${JSON.stringify(x.valueTS)} digest ${x.digest.slice(0, 12)}`).join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Stops every session and process (TERM, then KILL after the grace); resolves when all have exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.sessions].map((s) => s.close().catch(() => {})));
    this.sessions.clear();
    // Front ends and replicas first (they deregister), then naming.
    await this.terminate(this.history.filter((p) => p.kind !== 'naming'));
    await this.terminate(this.history.filter((p) => p.kind === 'naming'));
    if (this.ownStateDir) {
      rmSync(this.stateDir, { recursive: true, force: true });
      tempDirs.delete(this.stateDir);
    }
  }

  private async terminate(list: ProcImpl[]): Promise<void> {
    const alive = list.filter((p) => !p.dead);
    if (alive.length === 0) return;
    for (const p of alive) signalPid(p.pid, 'SIGTERM');
    const grace = setTimeout(() => {
      for (const p of alive) if (!p.dead) signalPid(p.pid, 'SIGKILL');
    }, this.o.graceMs ?? 2000);
    await Promise.all(alive.map((p) => p.exited));
    clearTimeout(grace);
  }

  /** Starts one process and waits for its ready line (or its death, or the deadline). */
  private spawn(kind: Kind, name: string, args: string[]): Promise<ProcImpl> {
    if (this.closed) return Promise.reject(new Error('the cluster is closed'));
    const child = spawn(process.execPath, [path.join(ROOT, MAIN[kind]), ...args, '--name', name, '--profile', this.profile, ...(this.o.extraArgs?.[kind] ?? [])], {
      cwd: ROOT,
      env: { ...process.env, ...this.o.env, HEARSAY_SECRET: this.secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new ProcImpl(kind, name, child, this.o.logDir);
    this.procs.set(name, p);
    this.history.push(p);
    const timeoutMs = this.o.readyTimeoutMs ?? 20_000;
    return new Promise<ProcImpl>((resolve, reject) => {
      let out = '';
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.stdout?.removeListener('data', onData);
        if (err) reject(err);
        else resolve(p);
      };
      const fail = (why: string) => {
        signalPid(p.pid, 'SIGKILL');
        finish(new Error(`${kind} ${name} ${why}\n--- last lines of its log ---\n${p.logTail(30)}`));
      };
      const timer = setTimeout(() => fail(`printed no ready line within ${timeoutMs} ms`), timeoutMs);
      const onData = (d: string) => {
        out += d;
        const m = new RegExp(`^hearsay ${kind} (\\S+) ready at (\\S+)\\s*$`, 'm').exec(out);
        if (m) {
          p.url = m[2]!;
          p.append(`[ready line: ${m[0].trim()}]\n`);
          finish();
        }
      };
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', onData);
      // Keep draining stdout after the ready line so the process never blocks on a full pipe.
      child.stdout?.on('data', (d: string) => {
        if (done) p.append(`[stdout] ${d}`);
      });
      void p.exited.then(({ code, signal }) => fail(`exited before it was ready (${signal ?? `code ${code}`})`));
    });
  }
}
