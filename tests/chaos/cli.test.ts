/**
 * `npm run chaos` flags: defaults, every flag, and bad input refused with a
 * reason (exit status 2 in main).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main, parseChaosArgs } from '../../chaos/main.js';

const test = suite('chaos command line');

test('defaults: 60 s, a random seed, intensity 1, availability 0.8', () => {
  const a = parseChaosArgs([]);
  assert.ok(typeof a === 'object' && !('error' in a));
  if (typeof a !== 'object' || 'error' in a) return;
  assert.is(a.durationS, 60);
  assert.ok(Number.isInteger(a.seed) && a.seed >= 0);
  assert.is(a.intensity, 1);
  assert.is(a.minAvailability, 0.8);
  assert.is(a.quiet, false);
});

test('every flag, in both spellings', () => {
  assert.equal(parseChaosArgs(['--duration', '600', '--seed=42', '--intensity', '2', '--min-availability=0.9', '--quiet', '--sabotage', 'forget-session']), {
    durationS: 600,
    seed: 42,
    intensity: 2,
    minAvailability: 0.9,
    quiet: true,
    sabotage: 'forget-session',
  });
  assert.is(parseChaosArgs(['--help']), 'help');
});

test('bad flags are refused with a reason', () => {
  for (const argv of [['--duration', '1'], ['--duration', 'x'], ['--seed', '-1'], ['--seed', '1.5'], ['--intensity', '0'], ['--min-availability', '2'], ['--sabotage', 'x'], ['--seed'], ['--what']]) {
    const r = parseChaosArgs(argv);
    assert.ok(typeof r === 'object' && 'error' in r, `${argv.join(' ')} is refused`);
  }
});

test('main exits 2 on bad flags without starting anything', async () => {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.is(await main(['--duration', 'soon']), 2);
  } finally {
    process.stderr.write = write;
  }
});

test.run();
