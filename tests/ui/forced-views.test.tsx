/**
 * The terminal UI drawn by ink (ink-testing-library), with a fake session
 * playing an elected primary: the cluster panel says "primary", add-movie
 * shows the new movie's id, and forget-user sends nothing until y.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { render } from 'ink-testing-library';
import { App } from '../../src/client/ui/App.js';
import { FakeSession } from './fake-session.js';

const quiet = { info() {}, warn() {}, error() {} };
// eslint-disable-next-line no-control-regex
const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/** Every screen drawn, unmounted after each test even when it fails (a mounted one keeps the process alive). */
const mounted: { unmount(): void }[] = [];
test.after.each(() => {
  for (const m of mounted.splice(0)) m.unmount();
});

function start(session: FakeSession) {
  const inst = render(<App session={session} history={[]} log={quiet} color={false} columns={80} rows={24} />);
  mounted.push(inst);
  const frame = () => plain(inst.lastFrame());
  const typeLine = (line: string) => {
    for (const ch of line) inst.stdin.write(ch);
    inst.stdin.write('\r');
  };
  const waitFor = async (what: string, check: () => boolean, ms = 3000) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${frame()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { inst, frame, typeLine, waitFor };
}

test('the cluster panel names the primary in words: "primary rm2 · term 3" and "rm2 primary"', async () => {
  const session = new FakeSession();
  session.primary = 'rm2';
  const t = start(session);
  await t.waitFor('the primary', () => t.frame().includes('primary rm2 · term 3'));
  assert.match(t.frame(), /rm2 primary\s+● ACTIVE/);
  assert.match(t.frame(), /rm1\s+● ACTIVE/);
  session.primary = null;
  session.emit('cluster', session.view());
  await t.waitFor('the election', () => t.frame().includes('no primary (election)'));
  assert.not.match(t.frame(), /rm2 primary/);
});

test('add-movie shows the id the primary gave and the forced update number', async () => {
  const session = new FakeSession();
  session.primary = 'rm2';
  const t = start(session);
  t.typeLine('add-movie "Heat 2 (2026)" Action|Crime');
  await t.waitFor('the answer', () => t.frame().includes('as movie #9743'));
  assert.match(t.frame(), /forced update #1/);
  assert.match(t.frame(), /sequenced by primary rm2/);
  assert.equal(session.updates, [{ kind: 'addMovie', title: 'Heat 2 (2026)', genres: ['Action', 'Crime'] }]);
});

test('forget-user asks first and sends nothing before y; y sends it', async () => {
  const session = new FakeSession();
  session.primary = 'rm2';
  const t = start(session);
  t.typeLine('forget-user 42');
  await t.waitFor('the question', () => t.frame().includes('Forget user 42? Every rating of user 42 will be removed on every replica. y/N'));
  assert.match(t.frame(), /^y\/N ›/m);
  // Give a wrongly eager UI time to send: nothing may go out before the answer.
  await new Promise((r) => setTimeout(r, 100));
  assert.is(session.updates.length, 0);
  t.typeLine('y');
  await t.waitFor('the answer', () => t.frame().includes('forgot user 42'));
  assert.equal(session.updates, [{ kind: 'forgetUser', userId: 42 }]);
});

test('forget-user: any answer but y cancels, and nothing is sent', async () => {
  const session = new FakeSession();
  session.primary = 'rm2';
  const t = start(session);
  t.typeLine('forget-user 42');
  await t.waitFor('the question', () => /^y\/N ›/m.test(t.frame()));
  t.typeLine('n');
  await t.waitFor('the cancellation', () => t.frame().includes('cancelled: user 42 was not forgotten'));
  t.typeLine('forget-user 42');
  await t.waitFor('the question again', () => /^y\/N ›/m.test(t.frame()));
  t.typeLine('avg 1');
  await t.waitFor('the second cancellation', () => t.frame().split('cancelled: user 42').length === 3);
  assert.is(session.updates.length, 0);
  assert.is(session.queries.length, 0, 'the other command typed as an answer was not run either');
  assert.match(t.frame(), /^›$/m, 'the prompt is back to normal');
});

test('NO_PRIMARY is explained with what to do', async () => {
  const session = new FakeSession();
  session.primary = null;
  const t = start(session);
  t.typeLine('add-movie "Heat 2 (2026)"');
  await t.waitFor('the error', () => t.frame().includes('no primary could sequence'));
  assert.match(t.frame().replace(/\s+/g, ' '), /no primary is elected right now/);
});

test.run();
