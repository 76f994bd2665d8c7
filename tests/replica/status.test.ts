/**
 * The replica status rules (src/replica/status.ts): random changes, commands
 * that pause them, and OVERLOADED under real load with hysteresis.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testConfig } from '../../src/core/config.js';
import type { ReplicaStatus } from '../../src/core/protocol.js';
import { StatusController, type StatusConfig } from '../../src/replica/status.js';

const base: StatusConfig = { ...testConfig };

async function waitFor(what: string, f: () => boolean, deadlineMs = 3000): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (!f()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const t = suite('replica status');

t('more requests in flight than the limit report OVERLOADED; back to ACTIVE at half the limit', () => {
  const changes: ReplicaStatus[] = [];
  const s = new StatusController({ config: { ...base, overloadInflight: 10 }, random: false, rand: Math.random, onChange: (st) => changes.push(st) });
  s.load(10);
  assert.is(s.status, 'ACTIVE');
  s.load(11);
  assert.is(s.status, 'OVERLOADED');
  s.load(8);
  assert.is(s.status, 'OVERLOADED', 'no flapping just under the limit');
  s.load(5);
  assert.is(s.status, 'ACTIVE');
  assert.equal(changes, ['OVERLOADED', 'ACTIVE']);
  s.close();
});

t('OFFLINE set by command wins over load; OVERLOADED by command stays under no load', () => {
  const s = new StatusController({ config: { ...base, overloadInflight: 2 }, random: false, rand: Math.random, onChange: () => {} });
  s.command('OFFLINE');
  s.load(50);
  assert.is(s.status, 'OFFLINE');
  s.command('OVERLOADED');
  s.load(0);
  assert.is(s.status, 'OVERLOADED');
  s.command('ACTIVE');
  assert.is(s.status, 'ACTIVE');
  s.close();
});

t('random changes visit OFFLINE and OVERLOADED and always come back from OFFLINE', async () => {
  const seen = new Set<ReplicaStatus>();
  let offlineSince = 0;
  let longestOffline = 0;
  const cfg: StatusConfig = { ...base, statusChangeMeanMs: 5, statusOfflineShare: 0.3, statusOverloadedShare: 0.3, statusOfflineMaxMs: 150 };
  const s = new StatusController({
    config: cfg,
    random: true,
    rand: Math.random,
    onChange: (st) => {
      seen.add(st);
      if (st === 'OFFLINE') offlineSince = performance.now();
      else if (offlineSince) {
        longestOffline = Math.max(longestOffline, performance.now() - offlineSince);
        offlineSince = 0;
      }
    },
  });
  await waitFor('all three statuses', () => seen.has('OFFLINE') && seen.has('OVERLOADED') && seen.has('ACTIVE') && offlineSince === 0, 10_000);
  s.close();
  assert.ok(longestOffline < cfg.statusOfflineMaxMs + 200, `offline spells are bounded (longest ${longestOffline.toFixed(0)} ms)`);
});

t('a status set by command pauses random changes', async () => {
  let changes = 0;
  const s = new StatusController({ config: { ...base, statusChangeMeanMs: 2, statusOfflineShare: 0.5, statusOverloadedShare: 0.5 }, random: true, rand: Math.random, onChange: () => changes++ });
  await waitFor('a random change', () => changes > 0);
  s.command('OVERLOADED');
  const after = changes;
  await new Promise((r) => setTimeout(r, 300)); // ~150 random changes would have happened by now
  assert.is(s.status, 'OVERLOADED');
  assert.is(changes, after);
  s.close();
});

t.run();
