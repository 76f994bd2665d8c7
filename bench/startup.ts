/**
 * Start-up: `bin/main.sh 2 4` with `quit` piped in, timed from outside —
 * spawn → the launcher's "cluster up" line (every member registered, replicas
 * serving, as the launcher checks with the naming service), and spawn → exit
 * after the client ran `quit` and everything was stopped — next to the figure
 * the launcher prints itself.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './proc.js';
import { median, now } from './stats.js';
import type { StartupResult } from './types.js';

export interface StartupOptions {
  readonly runs: number;
  readonly frontends: number;
  readonly replicas: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

interface OneRun {
  launcherMs: number | null;
  upMs: number | null;
  exitMs: number;
  code: number | null;
  output: string;
}

function once(o: StartupOptions): Promise<OneRun> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn('bash', [path.join(ROOT, 'bin/main.sh'), String(o.frontends), String(o.replicas), '1'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    let upMs: number | null = null;
    let launcherMs: number | null = null;
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /cluster up in ([\d.]+) s/.exec(err);
      if (m && upMs === null) {
        upMs = now() - t0;
        launcherMs = Number(m[1]) * 1000;
      }
    });
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stdin.end('quit\n');
    const timer = setTimeout(() => {
      // The launcher stops everything it started on SIGTERM; KILL it if even that hangs.
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, o.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ launcherMs, upMs, exitMs: now() - t0, code, output: `${err}${out}`.slice(-2000) });
    });
  });
}

export async function measureStartup(o: StartupOptions): Promise<StartupResult> {
  const runs: OneRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await once(o);
    o.log(`startup: run ${i + 1}: launcher ${r.launcherMs ?? '–'} ms, up after ${r.upMs === null ? '–' : Math.round(r.upMs)} ms, exit ${Math.round(r.exitMs)} ms (status ${r.code})`);
    if (r.upMs === null) throw new Error(`bin/main.sh ${o.frontends} ${o.replicas} did not report the cluster up (status ${r.code}):\n${r.output}`);
    runs.push(r);
  }
  const pick = (f: (r: OneRun) => number | null) => {
    const xs = runs.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return {
    command: `bin/main.sh ${o.frontends} ${o.replicas}`,
    runs: runs.length,
    launcherMs: pick((r) => r.launcherMs),
    wallMs: pick((r) => r.upMs),
    exitMs: pick((r) => r.exitMs),
    output: runs[runs.length - 1]?.output.split('\n').find((l) => l.includes('cluster up')) ?? '',
  };
}
