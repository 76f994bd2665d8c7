/**
 * Turns a run's results into the targets table, markdown (stdout and
 * results.md), JSON (results.json) and the latency chart (latency.svg).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { round, type Summary } from './stats.js';
import { latencyChart } from './svg.js';
import { ORDERING_KINDS, type BenchResults, type OrderingsResult, type ScenarioResult, type Target, type ThroughputRow } from './types.js';
import { FUNCTIONS, QUERY_FUNCTIONS, type Fn } from './workload.js';

// ---------------------------------------------------------------------------
// Targets

function ms(x: number): string {
  return `${round(x)} ms`;
}

/** A "≤ limit" target: met or missed, and by how much. */
function atMost(id: string, what: string, target: string, measured: number, limit: number, show: (x: number) => string): Target {
  if (!Number.isFinite(measured)) return { id, what, target, measured: 'not measured', met: null, note: 'not measured' };
  const met = measured <= limit;
  const factor = limit > 0 ? measured / limit : Infinity;
  return {
    id,
    what,
    target,
    measured: show(measured),
    met,
    note: met ? `met (${round(factor * 100)}% of the limit)` : `missed by ${round(factor)}× the limit`,
  };
}

/** A "≥ floor" target. */
function atLeast(id: string, what: string, target: string, measured: number, floor: number, show: (x: number) => string): Target {
  if (!Number.isFinite(measured)) return { id, what, target, measured: 'not measured', met: null, note: 'not measured' };
  const met = measured >= floor;
  return {
    id,
    what,
    target,
    measured: show(measured),
    met,
    note: met ? `met (${round(measured / floor)}× the minimum)` : `missed: ${round((measured / floor) * 100)}% of the target (${show(floor - measured)} short)`,
  };
}

function notMeasured(id: string, what: string, target: string, why: string): Target {
  return { id, what, target, measured: 'not measured', met: null, note: why };
}

export function evaluateTargets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const floor = r.floor?.twoHop.p50;
  const normal = r.latency.find((s) => s.id === 'normal');
  for (const fn of FUNCTIONS) {
    const isQuery = QUERY_FUNCTIONS.includes(fn);
    const limit = isQuery ? 2 : 3;
    const f = normal?.functions[fn];
    const what = `${isQuery ? 'query' : 'update'} p50: ${fn}`;
    const target = `≤ ${limit}× two-hop floor`;
    if (!f || !floor || f.all.n === 0) out.push(notMeasured(`p50-${fn}`, what, target, 'not measured'));
    else out.push(atMost(`p50-${fn}`, what, target, f.all.p50 / floor, limit, (x) => `${round(x)}×`));
  }
  for (const fn of FUNCTIONS) {
    const f = normal?.functions[fn];
    const what = `p99: ${fn}`;
    if (!f || !floor || f.all.n === 0) out.push(notMeasured(`p99-${fn}`, what, '≤ 10× two-hop floor', 'not measured'));
    else out.push(atMost(`p99-${fn}`, what, '≤ 10× two-hop floor', f.all.p99 / floor, 10, (x) => `${round(x)}×`));
  }
  const t16 = r.throughput.filter((t) => t.clients === 16).sort((a, b) => b.opsPerSec - a.opsPerSec)[0];
  if (t16) {
    out.push(atLeast('ops-16', 'throughput, 16 clients', '≥ 5,000 ops/s', t16.opsPerSec, 5000, (x) => `${Math.round(x)} ops/s`));
  } else out.push(notMeasured('ops-16', 'throughput, 16 clients', '≥ 5,000 ops/s', 'not measured'));
  if (r.throughput.length > 0) {
    const bad = r.throughput.reduce((s, t) => s + t.wrong + t.stale, 0);
    out.push({
      id: 'consistency',
      what: 'wrong or stale answers (all throughput runs)',
      target: '0',
      measured: String(bad),
      met: bad === 0,
      note: bad === 0 ? 'met' : `missed: ${bad} violations`,
    });
  } else out.push(notMeasured('consistency', 'wrong or stale answers', '0', 'not measured'));
  for (const s of r.latency.filter((x) => x.id !== 'normal')) {
    out.push({
      id: `no-fail-${s.id}`,
      what: `scenario ${s.title}: failed requests after the failover`,
      target: '0',
      measured: `${s.failedAfterFailover} (${s.failed} in all)`,
      met: s.failedAfterFailover === 0,
      note: s.failedAfterFailover === 0 ? 'met' : `missed: ${s.failedAfterFailover} failed after the failover`,
    });
    const worst = worstAfterRatio(s, normal);
    if (worst) out.push(atMost(`p50-after-${s.id}`, `scenario ${s.title}: p50 once failed over (worst function: ${worst.fn})`, '≤ 1.5× scenario 1', worst.ratio, 1.5, (x) => `${round(x)}×`));
    else out.push(notMeasured(`p50-after-${s.id}`, `scenario ${s.title}: p50 once failed over`, '≤ 1.5× scenario 1', 'no requests after the failover'));
    if (s.lostUpdates !== undefined) {
      out.push({
        id: `lost-${s.id}`,
        what: `scenario ${s.title}: acknowledged updates lost`,
        target: '0',
        measured: String(s.lostUpdates),
        met: s.lostUpdates === 0,
        note: s.lostUpdates === 0 ? 'met' : `missed: ${s.lostUpdates} lost`,
      });
    }
  }
  for (const c of r.convergence) {
    out.push(
      atMost(`conv-${c.replicas}`, `convergence, ${c.replicas} replicas (median)`, `≤ ${c.targetRounds} gossip rounds`, c.rounds, c.targetRounds, (x) => `${round(x)} rounds (${ms(x * c.gossipIntervalMs)})`),
    );
  }
  if (r.memory) {
    const rms = r.memory.processes.filter((p) => p.kind === 'replica');
    const load = Math.max(...rms.map((p) => p.afterLoadMB ?? NaN));
    out.push(atMost('rm-rss', `replica RSS with ${r.setup.ratings.toLocaleString('en-US')} ratings (largest)`, '≤ 100 MB', load, 100, (x) => `${round(x)} MB`));
    // Flat: from the end of the first tenth of the updates (allocation warm-up) to the end.
    const growth = Math.max(...rms.map((p) => (p.afterUpdatesMB ?? NaN) - (p.afterWarmupMB ?? NaN)));
    const rel = Math.max(...rms.map((p) => (p.afterUpdatesMB ?? NaN) / (p.afterWarmupMB ?? NaN)));
    out.push({
      ...atMost(
        'rm-rss-flat',
        `replica RSS growth from update ${r.memory.warmupUpdates.toLocaleString('en-US')} to ${r.memory.updates.toLocaleString('en-US')} (largest)`,
        '≤ +10% (flat)',
        rel - 1,
        0.1,
        (x) => `${round(x * 100)}%`,
      ),
      measured: Number.isFinite(growth) ? `${growth >= 0 ? '+' : ''}${round(growth)} MB (${round((rel - 1) * 100)}%)` : 'not measured',
    });
    // The executed-update table is kept for the dedup window, so RSS may rise until the window is full; the second half shows whether it then stays flat.
    const tr = r.memory.rssTrace;
    const half = tr.find((x) => x.updates >= r.memory!.updates / 2);
    const end = tr[tr.length - 1];
    if (half && end && end.updates > half.updates) {
      out.push({
        ...atMost(
          'rm-rss-second-half',
          `first replica's RSS growth over the second half of the updates (${half.updates.toLocaleString('en-US')} to ${end.updates.toLocaleString('en-US')})`,
          '≤ +10% (flat)',
          end.mb / half.mb - 1,
          0.1,
          (x) => `${round(x * 100)}%`,
        ),
        measured: `${round(half.mb)} → ${round(end.mb)} MB (${end.mb >= half.mb ? '+' : ''}${round((end.mb / half.mb - 1) * 100)}%)`,
      });
    }
    const logs = r.memory.replicas.map((x) => x.logLengthAfterUpdates ?? NaN);
    const maxLog = Math.max(...logs);
    out.push(atMost('rm-log', `replica update log after ${r.memory.updates.toLocaleString('en-US')} updates (longest)`, '≤ 1,000 records (bounded)', maxLog, 1000, (x) => `${Math.round(x)} records`));
  } else {
    out.push(notMeasured('rm-rss', 'replica RSS', '≤ 100 MB', 'not measured'));
  }
  if (r.startup && r.startup.wallMs !== null) {
    out.push(atMost('startup', `start-up of ${r.startup.command} (wall, median)`, '< 1 s', r.startup.wallMs, 1000, ms));
  } else out.push(notMeasured('startup', 'start-up', '< 1 s', 'not measured'));
  return out;
}

function worstAfterRatio(s: ScenarioResult, normal: ScenarioResult | undefined): { fn: Fn; ratio: number } | undefined {
  if (!normal) return undefined;
  let worst: { fn: Fn; ratio: number } | undefined;
  for (const fn of FUNCTIONS) {
    const a = s.functions[fn]?.afterFailover;
    const b = normal.functions[fn]?.all;
    if (!a || !b || a.n === 0 || b.n === 0 || b.p50 <= 0) continue;
    const ratio = a.p50 / b.p50;
    if (!worst || ratio > worst.ratio) worst = { fn, ratio };
  }
  return worst;
}

// ---------------------------------------------------------------------------
// Markdown

/** CPU milliseconds per operation, summed over the replicas, front ends and naming, beyond what the idle cluster uses. */
export function cpuPerOp(t: ThroughputRow, idle: Readonly<Record<string, number>> = {}): { replica: number; frontend: number; naming: number } {
  const sum = (re: RegExp) =>
    Object.entries(t.clusterCpu)
      .filter(([n]) => re.test(n))
      .reduce((a, [n, share]) => a + Math.max(0, share - (idle[n] ?? 0)), 0);
  const k = t.ops > 0 ? t.durationMs / t.ops : 0;
  return { replica: sum(/^rm/) * k, frontend: sum(/^fe/) * k, naming: sum(/^naming$/) * k };
}

/** "rm1 95%, fe1 60%, …" busiest first. */
export function busiest(cpu: Readonly<Record<string, number>>, n = 7): string {
  return Object.entries(cpu)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, share]) => `${name} ${Math.round(share * 100)}%`)
    .join(', ');
}

/** A markdown table; the first column (and any listed in `left`) left-aligned, the rest right-aligned. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[], left: readonly number[] = []): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map((_, i) => (i === 0 || left.includes(i) ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map(line)].join('\n');
}

const f2 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : String(round(x)));

function sumRow(name: string, s: Summary, floor?: number): (string | number)[] {
  const row: (string | number)[] = [name, s.n, f2(s.mean), f2(s.p50), f2(s.p95), f2(s.p99)];
  if (floor !== undefined) row.push(floor > 0 ? [s.mean, s.p50, s.p95, s.p99].map((x) => f1(x / floor)).join(' / ') : '–');
  return row;
}

/** Ratios: one decimal (two below 10). */
const f1 = (x: number) => (!Number.isFinite(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export function toMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`# hearsay benchmark results`);
  out.push('');
  out.push(
    `Run ${r.startedAt} (${r.mode} mode, ${round(r.durationMs / 1000)} s) on ${m.cpus} × ${m.cpuModel}, ${Math.round(m.memoryMB / 1024)} GB, Node ${m.node}, ${m.platform}; load average (1/5/15 min) at start ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')}${m.loadAvgEnd ? `, at the end ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}.`,
  );
  out.push(
    `Cluster: ${r.setup.frontends} front ends, ${r.setup.replicas} replicas, naming, all separate processes on 127.0.0.1; data file ${r.setup.dataFile} (${r.setup.ratings.toLocaleString('en-US')} ratings); profile ${r.setup.profile} (gossip every ${r.setup.gossipIntervalMs} ms). Times in ms; ratios are to the two-hop floor measured in the same run.`,
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(table(['target', 'limit', 'measured', 'result'], r.targets.map((t) => [t.what, t.target, t.measured, `${t.met === null ? '–' : t.met ? '**met**' : '**missed**'} ${t.note.replace(/^(met|missed:?) ?/, '')}`.trim()]), [1, 2, 3]));
  out.push('');

  if (r.floor) {
    const f = r.floor;
    out.push('## 1. Floor');
    out.push('');
    out.push(table(['round trip', 'n', 'mean', 'p50', 'p95', 'p99'], [sumRow('socket.io, one hop (client → echo)', f.oneHop), sumRow('socket.io, two hops (client → relay → echo)', f.twoHop)]));
    out.push('');
    out.push(`sql.js on the loaded store, in-process (load ${f2(f.loadMs)} ms):`);
    out.push('');
    out.push(table(['query', 'n', 'mean', 'p50', 'p95', 'p99'], (['avg', 'get', 'mine', 'search', 'movie'] as const).map((k) => sumRow(k, f.store[k]))));
    out.push('');
  }

  if (r.latency.length > 0) {
    const floor = r.floor?.twoHop.p50 ?? 0;
    out.push('## 2. Response time per client function');
    out.push('');
    for (const s of r.latency) {
      out.push(`### Scenario ${s.title}`);
      out.push('');
      const info = [`${s.clients} clients, ${s.requests} requests`];
      if (s.killed) info.push(`killed: ${s.killed}`);
      if (s.id !== 'normal') {
        info.push(`failed requests: ${s.failed} (after the failover: ${s.failedAfterFailover})`);
        info.push(`failover time: ${s.failoverMs === null ? '–' : `${f2(s.failoverMs)} ms`}`);
        info.push(`longest request across the kill: ${s.longestRequestMs === null ? '–' : `${f2(s.longestRequestMs)} ms`}`);
      } else if (s.failed > 0) info.push(`failed requests: ${s.failed}`);
      if (s.lostUpdates !== undefined) info.push(`acknowledged updates lost: ${s.lostUpdates}`);
      const errs = Object.entries(s.errors);
      if (errs.length) info.push(`errors: ${errs.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
      out.push(`${info.join('; ')}.`);
      out.push('');
      out.push(table(['function', 'n', 'mean', 'p50', 'p95', 'p99', '× floor: mean / p50 / p95 / p99'], FUNCTIONS.map((fn) => sumRow(fn, s.functions[fn].all, floor))));
      out.push('');
      if (s.id !== 'normal') {
        out.push('Once failed over:');
        out.push('');
        const normal = r.latency.find((x) => x.id === 'normal');
        out.push(
          table(
            ['function', 'n', 'mean', 'p50', 'p95', 'p99', '× floor: mean / p50 / p95 / p99', 'p50 × scenario 1'],
            FUNCTIONS.map((fn) => {
              const a = s.functions[fn].afterFailover;
              if (!a || a.n === 0) return [fn, 0, '–', '–', '–', '–', '–', '–'];
              const base = normal?.functions[fn].all.p50;
              return [...sumRow(fn, a, floor), base ? f1(a.p50 / base) : '–'];
            }),
          ),
        );
        out.push('');
      }
    }
  }

  if (r.throughput.length > 0) {
    out.push('## 3. Throughput (90% queries, 10% updates)');
    out.push('');
    out.push(
      table(
        ['clients', 'generator', 'ops/s', 'ops', 'p50', 'p99', 'query p50', 'update p50', 'failed', 'wrong', 'stale', 'generator CPU', 'cluster CPU (total; busiest)'],
        r.throughput.map((t) => [
          t.clients,
          t.generator === 'processes' ? `${t.procs} processes` : 'this process',
          Math.round(t.opsPerSec),
          t.ops,
          f2(t.all.p50),
          f2(t.all.p99),
          f2(t.queries.p50),
          f2(t.updates.p50),
          t.failed,
          t.wrong,
          t.stale,
          `${Math.round(t.generatorCpu * 100)}% of a core`,
          `${Math.round(Object.values(t.clusterCpu).reduce((a, b) => a + b, 0) * 100)}%; ${busiest(t.clusterCpu, 3)}`,
        ]),
      ),
    );
    out.push('');
    const idle = Object.values(r.idleCpu).reduce((a, b) => a + b, 0);
    out.push(
      `CPU is a share of one core (this machine has ${r.machine.cpus} cores). The idle cluster (no client) used ${Math.round(idle * 100)}% (${busiest(r.idleCpu, 3)}). CPU time per operation beyond that, summed over the processes of a kind, is the figure the machine's load affects least:`,
    );
    out.push('');
    out.push(
      table(
        ['clients', 'generator', 'replicas (ms/op)', 'front ends (ms/op)', 'naming (ms/op)', 'cluster (ms/op)'],
        r.throughput.map((t) => {
          const per = cpuPerOp(t, r.idleCpu);
          return [t.clients, t.generator === 'processes' ? `${t.procs} processes` : 'this process', f2(per.replica), f2(per.frontend), f2(per.naming), f2(per.replica + per.frontend + per.naming)];
        }),
      ),
    );
    out.push('');
    const errs = r.throughput.filter((t) => t.failed > 0);
    if (errs.length) {
      out.push(`Failed requests: ${errs.map((t) => `${t.clients} clients (${t.generator}): ${Object.entries(t.errors).map(([k, n]) => `${k} ×${n}`).join(', ')}`).join('; ')}.`);
      out.push('');
    }
    const v = r.throughput.flatMap((t) => t.violations);
    if (v.length) {
      out.push('Violations:');
      out.push('');
      for (const line of v.slice(0, 20)) out.push(`- ${line}`);
      out.push('');
    }
    out.push('![latency against concurrent clients](latency.svg)');
    out.push('');
  }

  if (r.convergence.length > 0) {
    out.push('## 4. Convergence (acknowledged update → applied at every replica)');
    out.push('');
    out.push(
      table(
        ['replicas', 'trials', 'p50 ms', 'max ms', 'rounds (time / interval)', 'gossip hops (trace events)', 'target rounds', 'timed out'],
        r.convergence.map((c) => [c.replicas, c.trials, f2(c.ms.p50), f2(c.ms.max), f2(c.rounds), f2(c.hops), c.targetRounds, c.timedOut]),
      ),
    );
    out.push('');
  }

  if (r.memory) {
    const mem = r.memory;
    out.push(`## 5. Memory (RSS, MB) after load and after ${mem.updates.toLocaleString('en-US')} updates`);
    out.push('');
    out.push(
      `${mem.updates.toLocaleString('en-US')} updates (rate and delete, overwriting ${mem.rows} rows: the data does not grow) ran at ${Math.round(mem.updatesPerSec)} /s; ${mem.failed} failed${
        mem.failed > 0 ? ` (${Object.entries(mem.errors).map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''
      }. "Settled" is after the replicas converged.${
        mem.baseline ? ` For scale: a bare Node process has ${f2(mem.baseline.nodeMB)} MB; one that has only loaded the data file into the sql.js store, ${f2(mem.baseline.nodeWithStoreMB)} MB.` : ''
      }`,
    );
    out.push('');
    out.push(
      table(
        ['process', 'after load', `after ${mem.warmupUpdates.toLocaleString('en-US')} updates`, `after ${mem.updates.toLocaleString('en-US')} updates`, 'settled'],
        mem.processes.map((p) => [`${p.kind} ${p.name}`, f2(p.afterLoadMB), f2(p.afterWarmupMB), f2(p.afterUpdatesMB), f2(p.settledMB)]),
      ),
    );
    out.push('');
    out.push(
      table(
        ['replica', 'log: after load / updates / settled', 'executed table: after load / updates / settled', 'timestamp table entries', 'ratings'],
        mem.replicas.map((x) => [
          x.name,
          `${f2(x.logLengthAfterLoad)} / ${f2(x.logLengthAfterUpdates)} / ${f2(x.logLengthSettled)}`,
          `${f2(x.executedAfterLoad)} / ${f2(x.executedAfterUpdates)} / ${f2(x.executedSettled)}`,
          f2(x.tableAfterUpdates),
          f2(x.ratings),
        ]),
      ),
    );
    out.push('');
    if (mem.rssTrace.length > 1) {
      out.push(`RSS of the first replica during the updates: ${mem.rssTrace.map((p) => `${p.updates}: ${f2(p.mb)}`).join(', ')}.`);
      out.push('');
    }
  }

  if (r.startup) {
    const s = r.startup;
    out.push('## 6. Start-up');
    out.push('');
    out.push(
      table(
        ['command', 'runs', 'launcher says', 'wall: spawn → all registered', 'wall: spawn → exit after quit'],
        [[`\`${s.command}\``, s.runs, s.launcherMs === null ? '–' : `${f2(s.launcherMs)} ms`, s.wallMs === null ? '–' : `${f2(s.wallMs)} ms`, s.exitMs === null ? '–' : `${f2(s.exitMs)} ms`]],
      ),
    );
    out.push('');
  }

  if (r.orderings) out.push(...orderingsSection(r.orderings, r.floor?.twoHop.p50 ?? 0), '');

  if (r.failures.length > 0) {
    out.push('## Sections that failed');
    out.push('');
    for (const f of r.failures) out.push(`- ${f.section}: ${f.error.split('\n')[0]}`);
    out.push('');
  }
  if (r.notes.length > 0) {
    out.push('## Notes');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/** Section 7: forced and immediate updates next to causal ones, and the primary's failover. */
export function orderingsSection(o: OrderingsResult, floor: number): string[] {
  const out: string[] = [];
  const rateP50 = o.rate.p50;
  out.push('## 7. Forced and immediate updates');
  out.push('');
  out.push(
    `One client through one front end, one request at a time, ${o.rounds} rounds of: \`rate\` (causal: two replicas log it), \`addMovie\` (forced: the primary sequences it and a majority of voters logs it before it is applied) and \`forgetUser\` of a data-file user (immediate: the primary first gathers every live replica's timestamp; median ${f2(o.removedMedian)} ratings removed). Ratios: × the two-hop floor${floor > 0 ? ` (${f2(floor)} ms)` : ''}, and × the p50 of the rates of the same rounds (${f2(rateP50)} ms).`,
  );
  out.push('');
  const ratio = (x: number, by: number) => (by > 0 ? f1(x / by) : '–');
  out.push(
    table(
      ['update', 'ordering', 'n', 'mean', 'p50', 'p95', 'p99', '× floor: p50 / p95 / p99', '× rate p50: p50 / p95 / p99', 'failed'],
      ORDERING_KINDS.map(({ id, ordering }) => {
        const s = o[id];
        return [id, ordering, s.n, f2(s.mean), f2(s.p50), f2(s.p95), f2(s.p99), [s.p50, s.p95, s.p99].map((x) => ratio(x, floor)).join(' / '), [s.p50, s.p95, s.p99].map((x) => ratio(x, rateP50)).join(' / '), o.failed[id]];
      }),
      [1],
    ),
  );
  out.push('');
  const errs = Object.entries(o.errors);
  if (errs.length) {
    out.push(`Errors: ${errs.map(([k, n]) => `${k} ×${n}`).join(', ')}.`);
    out.push('');
  }
  const t = o.failover.trials;
  if (t.length > 0) {
    out.push(
      `Failover: the primary was SIGKILLed ${t.length} time(s), and addMovie issued at once until one was acknowledged: median ${o.failover.medianMs === null ? '–' : `${f2(o.failover.medianMs)} ms`}, max ${o.failover.maxMs === null ? '–' : `${f2(o.failover.maxMs)} ms`} from the kill to that acknowledgement. The killed replica was restarted (same name and state folder) before the next trial.`,
    );
    out.push('');
    out.push(
      table(
        ['trial', 'killed (term)', 'kill → forced update acknowledged', 'requests', 'errors on the way', 'new primary (term)'],
        t.map((x, i) => [
          i + 1,
          `${x.killed} (${x.term})`,
          x.ms === null ? 'none in time' : `${f2(x.ms)} ms`,
          x.attempts,
          Object.entries(x.errors)
            .map(([k, n]) => `${k} ×${n}`)
            .join(', ') || 'none',
          x.newPrimary === null ? '–' : `${x.newPrimary} (${x.newTerm ?? '?'})`,
        ]),
        [1, 4, 5],
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------
// Files

export function chartOf(r: BenchResults): string {
  const rows = [...r.throughput].sort((a, b) => a.clients - b.clients);
  // One point per client count: the best run (in-process or processes).
  const best = new Map<number, (typeof rows)[number]>();
  for (const t of rows) {
    const b = best.get(t.clients);
    if (!b || t.opsPerSec > b.opsPerSec) best.set(t.clients, t);
  }
  return latencyChart(
    [...best.values()].map((t) => ({ clients: t.clients, p50: t.all.p50, p99: t.all.p99, opsPerSec: t.opsPerSec })),
    { title: 'hearsay: latency against concurrent clients (90% queries)', floorMs: r.floor?.twoHop.p50 },
  );
}

/** Writes results.json, results.md and latency.svg into `dir` (each atomically). */
export async function writeOutputs(dir: string, r: BenchResults, markdown: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['results.json', `${JSON.stringify(r, roundingReplacer, 2)}\n`],
    ['results.md', markdown.endsWith('\n') ? markdown : `${markdown}\n`],
    ['latency.svg', chartOf(r)],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const to = path.join(dir, name);
    const tmp = `${to}.tmp-${process.pid}`;
    await writeFile(tmp, text);
    await rename(tmp, to);
    written.push(to);
  }
  return written;
}

/** Rounds floats in the JSON to a few significant decimals; non-finite numbers become null. */
function roundingReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? (Number.isInteger(value) ? value : round(value)) : null;
  return value;
}
