/**
 * The fault schedule is a function of the seed: the same seed gives the same
 * plan, different seeds differ, and the plan keeps to the fault model (one
 * replica unavailable at a time, naming partitions shorter than the lease).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeStep, FAULT_KINDS, planDigest, planFaults, type Topology } from '../../chaos/faults.js';

const topo: Topology = { replicas: ['rm1', 'rm2', 'rm3', 'rm4'], frontends: ['fe1', 'fe2'], naming: 'naming' };
const opts = { leaseMs: 1000 };

const test = suite('fault schedule');

test('the same seed gives the same plan; another seed another', () => {
  const a = planFaults(42, 600_000, topo, opts);
  const b = planFaults(42, 600_000, topo, opts);
  assert.equal(a, b);
  assert.is(planDigest(a), planDigest(b));
  assert.is.not(planDigest(planFaults(43, 600_000, topo, opts)), planDigest(a));
});

test('a ten-minute plan uses every kind of fault, in time order, inside the run', () => {
  const plan = planFaults(7, 600_000, topo, opts);
  const kinds = new Set(plan.map((s) => s.kind));
  for (const k of FAULT_KINDS) assert.ok(kinds.has(k), `plan has ${k}`);
  for (let i = 1; i < plan.length; i++) assert.ok(plan[i - 1]!.at <= plan[i]!.at);
  assert.ok(plan.every((s) => s.at >= 0 && s.at < 600_000));
  assert.ok(plan.length > 300, `${plan.length} steps`);
});

test('at most one replica is unavailable at a time, and naming partitions stay under half a lease', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const plan = planFaults(seed, 120_000, topo, opts);
    const rm = plan.filter((s) => s.kind === 'rm-kill' || s.kind === 'rm-offline' || s.kind === 'rm-partition');
    for (let i = 1; i < rm.length; i++) {
      assert.ok(rm[i]!.at >= rm[i - 1]!.at + rm[i - 1]!.durationMs + 1500, `seed ${seed}: replica faults overlap`);
    }
    for (const s of plan.filter((x) => x.kind === 'naming-partition')) assert.ok(s.durationMs <= 500);
    const fe = plan.filter((s) => s.kind === 'fe-kill' || s.kind === 'fe-partition');
    for (let i = 1; i < fe.length; i++) assert.ok(fe[i]!.at >= fe[i - 1]!.at + fe[i - 1]!.durationMs, `seed ${seed}: front-end faults overlap`);
  }
});

test('a short run still has faults, and steps describe themselves', () => {
  const plan = planFaults(1, 30_000, topo, opts);
  assert.ok(plan.length >= 15, `${plan.length} steps in 30 s`);
  assert.match(describeStep({ at: 1500, kind: 'link-drop', target: 'rm2', durationMs: 800, dropRate: 0.1 }), /\+1\.5s link-drop rm2 \(for 800 ms, drop 10%\)/);
});

test.run();
