/**
 * A 30-second chaos run over real processes (naming, 2 front ends, 4
 * replicas, 8 clients, every component behind a fault proxy): replicas,
 * front ends and naming are killed and restarted, the elected primary too,
 * statuses flip, links are delayed, lossy and cut; clients add movies
 * (forced) and forget users (immediate) among their ratings; after healing
 * the checker must find no violation.
 *
 * The seed is fixed so the fault plan is the same on every run (process
 * timing is not); set HEARSAY_CHAOS_SEED to try another one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce } from '../helpers/cluster.js';
import { formatSummary, runChaos } from '../../chaos/run.js';

buildOnce();

const seed = Number(process.env.HEARSAY_CHAOS_SEED ?? 20_251_121);

const test = suite('chaos run');

test(`a 30-second chaos run (seed ${seed}) keeps every session guarantee, loses no update, keeps one id per movie and forgotten users forgotten, and converges`, async () => {
  // The suite often shares two CPUs with other suites: allow a little more than `npm run chaos` does.
  const s = await runChaos({ seed, durationMs: 30_000, minAvailability: 0.7 });
  console.log(formatSummary(s));
  const done = Object.values(s.faults).reduce((n, f) => n + f.done, 0);
  assert.ok(done >= 10, `${done} faults injected`);
  assert.ok(s.faults['rm-kill'].done + s.faults['rm-partition'].done + s.faults['rm-offline'].done >= 1, 'at least one replica was made unavailable');
  assert.ok(s.result.ops >= 100, `${s.result.ops} operations`);
  assert.ok(s.result.acked >= 20, `${s.result.acked} updates acknowledged`);
  assert.ok(s.convergedMs !== null, 'replicas converged');
  const f = s.result.forced;
  assert.ok(f.addMovie.acked >= 5, `${f.addMovie.acked} movies added (forced)`);
  assert.ok(f.forgetUser.acked >= 1, `${f.forgetUser.acked} users forgotten (immediate)`);
  assert.ok(f.failovers.some((x) => x.ms !== null), `the primary was killed and forced updates went on (${f.failovers.length} kills)`);
  assert.equal(s.result.violations, [], `violations (replay with npm run chaos -- --duration 30 --seed ${seed})`);
});

test.run();
