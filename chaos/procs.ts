/**
 * Starting and stopping component processes for chaos runs, with the
 * project's process conventions: compiled JS (`node dist/src/<kind>/main.js`,
 * never tsx), the `hearsay <kind> <name> ready at <url>` line awaited with a
 * deadline, logs (stderr) to a file, every process stopped by its PID, and an
 * exit hook that SIGKILLs whatever this process started and did not stop.
 *
 * tests/helpers/cluster.ts does the same for ordinary tests; chaos runs need
 * what it does not offer: a chosen port and `--advertise` per process (the
 * fault proxy sits in front of each component), restarting the naming
 * service, and running a process inside a network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Kind = 'naming' | 'frontend' | 'replica';

const MAIN: Record<Kind, string> = {
  naming: 'dist/src/naming/main.js',
  frontend: 'dist/src/frontend/main.js',
  replica: 'dist/src/replica/main.js',
};

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        if (c.pid) process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

export interface SpawnOptions {
  readonly kind: Kind;
  readonly name: string;
  readonly args: readonly string[];
  readonly secret?: string | undefined;
  /** Append the process's stderr to this file. */
  readonly logFile?: string | undefined;
  readonly readyTimeoutMs?: number | undefined;
  /** Run inside this network namespace (`ip netns exec NS node …`). */
  readonly netns?: string | undefined;
}

export class Proc {
  url = '';
  dead = false;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private tail = '';
  private readonly file: WriteStream | undefined;

  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly child: ChildProcess,
    logFile: string | undefined,
  ) {
    if (child.pid === undefined) throw new Error(`could not start ${kind} ${name}`);
    this.pid = child.pid;
    live.add(child);
    this.file = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => this.append(d));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.dead = true;
        live.delete(child);
        this.append(`[${this.name} pid ${this.pid} exited: ${signal ?? `code ${code}`}]\n`);
        this.file?.end();
        resolve({ code, signal });
      });
    });
  }

  append(text: string): void {
    this.tail = (this.tail + text).slice(-16_384);
    this.file?.write(text);
  }

  logTail(lines = 20): string {
    return this.tail.split('\n').slice(-lines - 1).join('\n');
  }

  /** Sends a signal by PID (nothing if the process is gone). */
  signal(sig: NodeJS.Signals): void {
    if (this.dead) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* gone */
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves on exit. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.dead) return;
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Starts a component and resolves once it printed its ready line; rejects (after killing it) otherwise. */
export function spawnComponent(o: SpawnOptions): Promise<Proc> {
  hookExit();
  const nodeArgs = [path.join(ROOT, MAIN[o.kind]), ...o.args, '--name', o.name];
  const env = { ...process.env, ...(o.secret ? { HEARSAY_SECRET: o.secret } : {}) };
  const child = o.netns
    ? spawn('ip', ['netns', 'exec', o.netns, process.execPath, ...nodeArgs], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new Proc(o.kind, o.name, child, o.logFile);
  const timeoutMs = o.readyTimeoutMs ?? 20_000;
  return new Promise<Proc>((resolve, reject) => {
    let out = '';
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(p);
    };
    const fail = (why: string) => {
      p.signal('SIGKILL');
      finish(new Error(`${o.kind} ${o.name} ${why}\n--- last lines of its log ---\n${p.logTail(20)}`));
    };
    const timer = setTimeout(() => fail(`printed no ready line within ${timeoutMs} ms`), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      if (done) {
        p.append(`[stdout] ${d}`);
        return;
      }
      out += d;
      const m = new RegExp(`^hearsay ${o.kind} (\\S+) ready at (\\S+)\\s*$`, 'm').exec(out);
      if (m) {
        p.url = m[2]!;
        finish();
      }
    });
    void p.exited.then(({ code, signal }) => fail(`exited before it was ready (${signal ?? `code ${code}`})`));
  });
}

/** A port that was free a moment ago on `host` (the kernel picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
