/**
 * Replicas on separate hosts: each replica runs in a network namespace of
 * its own; one is cut off by a real partition (its link goes down) under
 * client load and healed; the checker must find no violation and every
 * namespace and link the test created must be gone afterwards. Where
 * namespaces cannot be created (not Linux, not root, no iproute2) the test
 * says so and why.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce } from '../helpers/cluster.js';
import { netnsSupport } from '../../chaos/netns.js';
import { runNetnsPartition } from '../../chaos/partition.js';

const support = netnsSupport();
if (support.ok) buildOnce();

const test = suite('network partition across namespaces');

test('a replica cut off by a network partition and healed: sessions stay consistent, nothing is lost, all converge', async () => {
  if (!support.ok) {
    console.log(`SKIPPED: replicas in separate network namespaces: ${support.why}`);
    return;
  }
  const s = await runNetnsPartition({ seed: 7, durationMs: 18_000, log: (l) => console.log(l) });
  const r = s.result;
  console.log(
    `netns partition: ${r.ops} ops (${r.acked} updates acknowledged, of which ${r.forced.addMovie.acked} addMovie and ${r.forced.forgetUser.acked} forgetUser), availability ${(r.availability.share * 100).toFixed(1)}%, converged ${s.convergedMs} ms, ${r.violations.length} violations; logs ${s.runDir}`,
  );
  for (const v of r.violations.slice(0, 20)) console.log(`  [${v.rule}] ${v.detail}`);
  assert.equal(s.leftovers, [], 'every namespace and link created was removed');
  assert.ok(r.acked >= 20, `${r.acked} updates acknowledged`);
  assert.ok(s.victimLeft, 'the naming service noticed the partitioned replica was gone');
  assert.ok(s.convergedMs !== null, 'replicas converged after healing');
  assert.equal(r.violations, []);
});

test.run();
