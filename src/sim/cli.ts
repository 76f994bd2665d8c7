/**
 * `npm run sim -- --seeds 1000` runs that many seeds and prints every failing
 * one; `npm run sim -- --seed S [--trace]` replays one seed exactly.
 * Other flags: `--from N` (first seed), `--replicas N`, `--fault-ms MS`,
 * `--sabotage forget-session|lose-disk` (break the system on purpose: the
 * checks must then fail for some seeds).
 */
import { runSeed, type SimResult } from './world.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));

function report(r: SimResult): void {
  console.log(`seed ${r.seed}: ${r.ok ? 'ok' : 'FAILED'} — ${JSON.stringify(r.stats)}`);
  for (const v of r.violations.slice(0, 20)) console.log(`  at ${v.time} ms: ${v.rule}: ${v.detail}`);
  if (!r.ok) console.log(`  replay: npm run sim -- --seed ${r.seed} --trace`);
}

const sabotage = arg('sabotage');
if (sabotage !== undefined && sabotage !== 'forget-session' && sabotage !== 'lose-disk') {
  console.error(`--sabotage must be forget-session or lose-disk, got "${sabotage}"`);
  process.exit(2);
}
const base = { replicas: num('replicas'), faultMs: num('fault-ms'), sabotage: sabotage as 'forget-session' | 'lose-disk' | undefined };
const one = num('seed');
if (one !== undefined) {
  const r = runSeed({ seed: one, ...base, trace: process.argv.includes('--trace') ? (l) => console.log(l) : undefined });
  report(r);
  process.exit(r.ok ? 0 : 1);
}
const count = num('seeds') ?? 100;
const from = num('from') ?? 1;
const started = performance.now();
let failed = 0;
let maxLog = 0;
let ops = 0;
let faults = 0;
let forced = 0;
let immediate = 0;
let primaryCrashes = 0;
for (let seed = from; seed < from + count; seed++) {
  const r = runSeed({ seed, ...base });
  maxLog = Math.max(maxLog, r.stats.maxLogAfterGc);
  ops += r.stats.ops;
  faults += r.stats.crashes + r.stats.isolations + r.stats.partitions + r.stats.statusChanges;
  forced += r.stats.forcedAcked;
  immediate += r.stats.immediateAcked;
  primaryCrashes += r.stats.primaryCrashes;
  if (!r.ok) {
    failed++;
    report(r);
  }
}
const secs = (performance.now() - started) / 1000;
console.log(
  `${count} seeds (${from}..${from + count - 1}) in ${secs.toFixed(1)} s (${(count / secs).toFixed(1)} seeds/s): ` +
    `${failed} failed; ${ops} client operations (${forced} forced, ${immediate} immediate acknowledged), ${faults} faults (${primaryCrashes} primary crashes); largest log after GC ${maxLog}`,
);
process.exit(failed === 0 ? 0 : 1);
