/**
 * The seeded cluster simulator over the real replica and front-end cores.
 * `npm run sim -- --seeds 1000` explores more; a failing seed replays with
 * `npm run sim -- --seed S --trace`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSeed } from '../../src/sim/world.js';

const SEEDS = Number(process.env.HEARSAY_SIM_SEEDS ?? 300);

test(`${SEEDS} seeded runs with faults keep every session guarantee and converge after healing`, () => {
  const failed: string[] = [];
  let faults = 0;
  let ops = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runSeed({ seed });
    faults += r.stats.crashes + r.stats.isolations + r.stats.partitions + r.stats.statusChanges;
    ops += r.stats.ops;
    if (!r.ok) failed.push(`seed ${seed}: ${r.violations[0]?.rule}: ${r.violations[0]?.detail} (replay: npm run sim -- --seed ${seed} --trace)`);
  }
  assert.ok(faults > SEEDS * 5, `faults were injected (${faults})`);
  assert.ok(ops > SEEDS * 50, `clients did work (${ops} operations)`);
  assert.equal(failed, []);
});

test('forced and immediate updates: unique movie ids and forgotten ratings stay forgotten across primary crashes', () => {
  // The main run above checks these too; this one makes sure the runs really exercised them.
  let forced = 0;
  let immediate = 0;
  let primaryCrashes = 0;
  let elections = 0;
  const failed: string[] = [];
  for (let seed = 1001; seed <= 1000 + Math.max(40, SEEDS / 5); seed++) {
    const r = runSeed({ seed });
    forced += r.stats.forcedAcked;
    immediate += r.stats.immediateAcked;
    primaryCrashes += r.stats.primaryCrashes;
    elections += r.stats.elections;
    if (!r.ok) failed.push(`seed ${seed}: ${r.violations[0]?.rule}: ${r.violations[0]?.detail}`);
  }
  assert.equal(failed, []);
  assert.ok(primaryCrashes >= 10, `the primary crashed while clients worked (${primaryCrashes} times)`);
  assert.ok(elections > primaryCrashes, `new primaries took over (${elections} elections)`);
  assert.ok(forced >= 100, `forced updates were acknowledged (${forced})`);
  assert.ok(immediate >= 30, `immediate updates were acknowledged (${immediate})`);
});

test('the same seed replays exactly', () => {
  const a: string[] = [];
  const b: string[] = [];
  const ra = runSeed({ seed: 4242, trace: (l) => a.push(l) });
  const rb = runSeed({ seed: 4242, trace: (l) => b.push(l) });
  assert.ok(a.length > 50);
  assert.equal(a, b);
  assert.equal(ra.stats, rb.stats);
});

test('the checker catches clients that forget their session timestamp', () => {
  let caught = 0;
  const rules = new Set<string>();
  for (let seed = 1; seed <= 60; seed++) {
    const r = runSeed({ seed, sabotage: 'forget-session' });
    if (!r.ok) caught++;
    for (const v of r.violations) rules.add(v.rule);
  }
  assert.ok(caught >= 10, `caught in ${caught} of 60 runs`);
  assert.ok(rules.has('read your writes') || rules.has('monotonic reads'), [...rules].join(', '));
});

test('a fault-free run converges quickly and collects every log record', () => {
  const r = runSeed({ seed: 7, faults: false, replicas: 5 });
  assert.ok(r.ok, JSON.stringify(r.violations.slice(0, 2)));
  assert.ok(r.stats.convergeMs >= 0 && r.stats.convergeMs < 1000, `converged in ${r.stats.convergeMs} ms`);
  assert.is(r.stats.dropped, 0);
});

test.run();
