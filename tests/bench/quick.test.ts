/**
 * A smoke run of the benchmark (`--tiny`: every section, smallest counts):
 * it completes and writes well-formed results. Only the shape is checked,
 * never a speed: machines differ.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SCENARIOS, type BenchResults } from '../../bench/types.js';
import { FUNCTIONS } from '../../bench/workload.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEADLINE_MS = 300_000;

const built = spawnSync('bash', [path.join(ROOT, 'bin/ensure-built.sh')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
if (built.status !== 0) throw new Error('bin/ensure-built.sh failed');

const test = suite('bench --tiny');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

let run: Run | undefined;
const dirs: string[] = [];

async function benchOnce(): Promise<Run> {
  if (run) return run;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hearsay-bench-'));
  dirs.push(dir);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/main.ts'), '--tiny', '--out', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => {
    // SIGTERM makes the bench stop every process it started, by PID.
    if (child.pid) process.kill(child.pid, 'SIGTERM');
  }, DEADLINE_MS);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    run = { code, stdout, stderr, dir };
    return run;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every number in the results is finite and non-negative; null appears only where "not measured" is allowed. */
function walk(v: unknown, at: string, nullable: ReadonlySet<string>, problems: string[]): void {
  if (v === null) {
    const key = at.split('.').pop() ?? '';
    if (!nullable.has(key)) problems.push(`${at} is null`);
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) problems.push(`${at} = ${v}`);
  } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`, nullable, problems));
  else if (typeof v === 'object') for (const [k, x] of Object.entries(v as object)) walk(x, `${at}.${k}`, nullable, problems);
}

const NULLABLE = new Set([
  'failoverMs',
  'longestRequestMs',
  'hops',
  'launcherMs',
  'wallMs',
  'exitMs',
  'afterLoadMB',
  'afterWarmupMB',
  'afterUpdatesMB',
  'settledMB',
  'met',
  'logLengthSettled',
  'executedSettled',
  // Failover of the primary: none in time, no new primary seen.
  'ms',
  'medianMs',
  'maxMs',
  'newPrimary',
  'newTerm',
]);

test('the tiny benchmark run completes with every section and exit status 0', async () => {
  const r = await benchOnce();
  assert.is(r.code, 0, `exit status ${r.code}; stderr tail:\n${r.stderr.slice(-3000)}`);
});

test('results.json has every section, every scenario and every function, with finite non-negative numbers', async () => {
  const r = await benchOnce();
  const res = JSON.parse(readFileSync(path.join(r.dir, 'results.json'), 'utf8')) as BenchResults;
  assert.is(res.version, 1);
  assert.is(res.mode, 'tiny');
  assert.equal(res.failures, [], 'no section failed');
  const problems: string[] = [];
  walk(res, 'results', NULLABLE, problems);
  assert.equal(problems, [], problems.join('\n'));

  assert.ok(res.floor, 'floor measured');
  assert.ok(res.floor!.oneHop.n > 0 && res.floor!.twoHop.n > 0);
  for (const k of ['avg', 'get', 'mine', 'search', 'movie'] as const) assert.ok(res.floor!.store[k].n > 0, `store ${k}`);

  assert.equal(
    res.latency.map((s) => s.id),
    SCENARIOS.map((s) => s.id),
  );
  for (const s of res.latency) {
    for (const fn of FUNCTIONS) {
      const f = s.functions[fn];
      assert.ok(f, `${s.id}: ${fn} present`);
      assert.ok(f.all.n > 0, `${s.id}: ${fn} measured`);
      assert.ok(f.all.p50 <= f.all.p99 + 1e-9, `${s.id}: ${fn} p50 ≤ p99`);
      if (s.id !== 'normal') assert.ok(f.afterFailover, `${s.id}: ${fn} has figures once failed over`);
    }
    if (s.id !== 'normal') {
      assert.ok(s.killed, `${s.id}: names what was killed`);
      assert.type(s.failedAfterFailover, 'number');
    }
  }
  assert.type(res.latency.find((s) => s.id === 'newest-rm-killed')?.lostUpdates, 'number');

  assert.ok(res.throughput.length >= 2);
  for (const t of res.throughput) {
    assert.ok(t.ops > 0 && t.opsPerSec > 0, `throughput with ${t.clients} clients`);
    assert.type(t.wrong, 'number');
    assert.type(t.stale, 'number');
  }
  assert.ok(res.convergence.length >= 1 && res.convergence[0]!.trials > 0, 'convergence measured');
  assert.ok(res.memory, 'memory measured');
  assert.is(res.memory!.processes.filter((p) => p.kind === 'replica').length, 4);
  assert.is(res.memory!.processes.filter((p) => p.kind === 'frontend').length, 2);
  assert.ok(res.startup && res.startup.wallMs !== null, 'start-up measured');
  const o = res.orderings;
  assert.ok(o, 'orderings measured');
  for (const k of ['rate', 'addMovie', 'forgetUser'] as const) {
    assert.ok(o![k].n > 0, `${k} measured`);
    assert.is(o![k].n + o!.failed[k], o!.rounds, `${k}: every round counted, ok or failed`);
  }
  assert.ok(o!.failover.trials.length >= 1, 'the primary was killed');
  assert.ok(o!.failover.trials.every((t) => t.ms !== null), 'forced updates were acknowledged again after every kill');
  assert.ok(res.targets.length > 10);
  for (const t of res.targets) assert.ok(t.met === true || t.met === false || t.met === null, `${t.id}: met is a boolean or null`);
});

test('the markdown report (stdout and results.md) is made of well-formed tables and names each section', async () => {
  const r = await benchOnce();
  const md = readFileSync(path.join(r.dir, 'results.md'), 'utf8');
  assert.ok(r.stdout.includes(md.trim()), 'stdout carries the same report');
  for (const h of ['# hearsay benchmark results', '## Targets', '## 1. Floor', '## 2. Response time', '## 3. Throughput', '## 4. Convergence', '## 5. Memory', '## 6. Start-up', '## 7. Forced and immediate updates']) {
    assert.ok(md.includes(h), `has "${h}"`);
  }
  // Each table: header, separator, rows, all with the same number of cells.
  const lines = md.split('\n');
  let tables = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|')) continue;
    const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    assert.match(lines[i + 1] ?? '', /^\|( ---:? \|)+$/, `separator after table header at line ${i + 1}`);
    const width = cells(lines[i]!);
    let j = i;
    while (j < lines.length && lines[j]!.startsWith('|')) {
      assert.ok(lines[j]!.endsWith('|'), `line ${j + 1} ends with |`);
      assert.is(cells(lines[j]!), width, `line ${j + 1} has as many cells as its header`);
      j++;
    }
    tables++;
    i = j;
  }
  assert.ok(tables >= 8, `${tables} tables`);
  for (const fn of FUNCTIONS) assert.match(md, new RegExp(`^\\| ${fn} \\|`, 'm'));
});

test('latency.svg is an SVG document', async () => {
  const r = await benchOnce();
  const svg = readFileSync(path.join(r.dir, 'latency.svg'), 'utf8');
  assert.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trim().endsWith('</svg>'));
  assert.match(svg, /<polyline /);
});

test.run();
