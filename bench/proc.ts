/**
 * Child processes of the benchmark itself (echo/relay servers, load
 * generators): started, waited on for their "ready at" line with a deadline,
 * and stopped by PID. Every process started here is remembered so an
 * interrupted run still stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The URL from the ready line. */
  readonly url: string;
  /** Last lines of stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

const live = new Set<Proc>();

/** Node with the TypeScript loader, for the benchmark's own helper processes (one process each: no wrapper to orphan). */
export function tsNode(script: string, args: readonly string[]): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: ['--import', 'tsx', path.join(ROOT, script), ...args] };
}

export async function startProc(
  cmd: string,
  args: readonly string[],
  o: { ready: RegExp; timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean },
): Promise<Proc> {
  const child = spawn(cmd, args, {
    cwd: o.cwd ?? ROOT,
    env: o.env ?? process.env,
    stdio: o.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pid = child.pid;
  let tail = '';
  child.stderr!.on('data', (b: Buffer) => {
    tail = (tail + b.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  exited.then(() => {
    done = true;
  });
  const proc: Proc = {
    pid,
    child,
    url: '',
    stderrTail: () => tail,
    exited,
    stop: async (graceMs = 3000) => {
      live.delete(proc);
      if (done) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  live.add(proc);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${path.basename(args[args.length - 1] ?? cmd)}: no ready line within ${o.timeoutMs} ms\n${tail}`)), o.timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = o.ready.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1] ?? '');
      }
    };
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void proc.stop(0);
      reject(e);
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => fail(new Error(`${cmd} ${args.join(' ')} exited (${code}) before it was ready\n${tail}`)));
  });
  (proc as { url: string }).url = url;
  return proc;
}

/** Stops every process started here that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(1000)));
}

/** Kills the remaining children synchronously (for process exit). */
export function killAllNow(): void {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  live.clear();
}

/** Resident set size of a process in MB (VmRSS from /proc), or null where /proc is not available. */
export async function rssMB(pid: number): Promise<number | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; null where unavailable. */
export async function cpuMs(pid: number): Promise<number | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ: 100 on every mainstream architecture. */
const CLOCK_TICKS = 100;
