import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { render } from 'ink-testing-library';
import type { ReplicaId, RequestId } from '../../src/core/ids.js';
import type { TraceEvent } from '../../src/core/protocol.js';
import { App } from '../../src/client/ui/App.js';
import { textWidth } from '../../src/client/ui/text.js';
import { FakeSession } from './fake-session.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const quiet = { info() {}, warn() {}, error() {} };
// eslint-disable-next-line no-control-regex
const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/** Set by each test to the current screen, for failure messages. */
let lastShown: (() => string) | undefined;

async function waitFor(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastShown ? `; the screen:\n${lastShown()}` : ""}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function start(o: { columns?: number; rows?: number; traceOn?: boolean; session?: FakeSession; onQuit?: () => void } = {}) {
  const session = o.session ?? new FakeSession();
  const inst = render(
    <App session={session} history={[]} log={quiet} color={false} columns={o.columns ?? 80} rows={o.rows ?? 24} traceOn={o.traceOn ?? false} onQuit={o.onQuit} />,
  );
  const frame = () => plain(inst.lastFrame());
  lastShown = frame;
  const typeLine = async (line: string) => {
    for (const ch of line) inst.stdin.write(ch);
    inst.stdin.write('\r');
  };
  return { session, inst, frame, typeLine };
}

test('cluster panel: every replica status is shown as a word and a symbol, not by colour alone', async () => {
  const t = start();
  t.session.status.set('rm2', 'OFFLINE');
  t.session.status.set('rm3', 'OVERLOADED');
  t.session.emit('cluster', t.session.view());
  await waitFor('the statuses', () => t.frame().includes('○ OFFLINE'));
  const f = t.frame();
  assert.match(f, /rm1\s+● ACTIVE/);
  assert.match(f, /rm2\s+○ OFFLINE/);
  assert.match(f, /rm3\s+◐ OVERLOADED/);
  assert.match(f, /FE fe1 .*◀ this session/);
  t.inst.unmount();
});

test('results: avg shows the title, the average as stars and as 3.92, and the count', async () => {
  const t = start();
  await t.typeLine('avg 1');
  await waitFor('the answer', () => t.frame().includes('3.92'));
  const f = t.frame();
  assert.match(f, /Toy Story \(1995\)\s+#1/);
  assert.match(f, /★★★★☆ 3\.92 {2}average of 215 ratings/);
  t.inst.unmount();
});

test('set rm2 offline: the cluster panel shows OFFLINE', async () => {
  const t = start();
  await t.typeLine('set rm2 offline');
  await waitFor('OFFLINE in the panel', () => /rm2\s+○ OFFLINE/.test(t.frame()));
  assert.match(t.frame(), /rm2 is now ○ OFFLINE/);
  t.inst.unmount();
});

test('rate then get: the new rating is read back (read-your-writes through the session)', async () => {
  const t = start();
  await t.typeLine('rate 1 4.5');
  await waitFor('the rating', () => t.frame().includes('✓ rated Toy Story (1995)'));
  await t.typeLine('get 1');
  await waitFor('the read', () => /your rating ★★★★½ 4\.5/.test(t.frame()));
  t.inst.unmount();
});

test('an ambiguous title lists numbered candidates; typing a number re-runs the command with that movie', async () => {
  const t = start();
  await t.typeLine('avg toy');
  await waitFor('the candidates', () => t.frame().includes('type a number to pick one'));
  assert.match(t.frame(), /pick 1-3 ›/);
  await t.typeLine('2');
  await waitFor('the chosen movie', () => /› 2 → Toy Story 2 \(1999\) #3114\nToy Story 2 \(1999\)\s+#3114/.test(t.frame()));
  t.inst.unmount();
});

test('errors are plain words with what to do next, never a stack trace', async () => {
  const t = start();
  await t.typeLine('rate 1 7');
  await waitFor('the error', () => t.frame().includes('✗ 7 is not a rating'));
  assert.match(t.frame(), /→ use 0\.5 to 5 in half steps/);
  await t.typeLine('avg 999');
  await waitFor('the error', () => t.frame().includes('✗ there is no movie 999'));
  assert.not.match(t.frame(), /at .*\.ts:\d+/);
  t.inst.unmount();
});

test('text from the data cannot control the terminal: escape codes in a title are dropped', async () => {
  const t = start();
  const { MOVIES } = await import('./fake-session.js');
  MOVIES.push({ movieId: 77, title: 'Bad\x1b[31m\x1b]0;owned\x07 Movie\x07 (2000)', genres: ['Drama'] });
  await t.typeLine('movie 77');
  await waitFor('the movie', () => t.frame().includes('Bad Movie (2000)'));
  assert.not.ok((t.inst.lastFrame() ?? '').includes('\x1b'), 'no escape reaches the screen');
  t.inst.unmount();
});

test('Tab completes a movie title from the service', async () => {
  const t = start();
  for (const ch of 'avg jum') t.inst.stdin.write(ch);
  t.inst.stdin.write('\t');
  await waitFor('the completed title', () => t.frame().trimEnd().endsWith('› avg Jumanji'));
  assert.ok(t.session.queries.some((q) => q.kind === 'search' && q.words === 'jum'));
  t.inst.unmount();
});

test('keys that arrive together (a paste, a terminal multiplexer) are still separate keys: Enter submits, Tab completes', async () => {
  const t = start();
  t.inst.stdin.write('avg 2\r');
  await waitFor('the answer', () => t.frame().includes('Jumanji (1995)  #2'));
  t.inst.stdin.write('get jum\t');
  await waitFor('the completion', () => t.frame().trimEnd().endsWith('› get Jumanji'));
  t.inst.stdin.write('x\x7f\r');
  await waitFor('the read', () => t.frame().includes('you have not rated it'));
  t.inst.unmount();
});

test('editing keys that arrive with text act where they arrive: ctrl-u clears what came before it', async () => {
  const t = start();
  try {
    t.inst.stdin.write('avg');
    await waitFor('the typed text', () => t.frame().trimEnd().endsWith('› avg'));
    t.inst.stdin.write('\x15avg 2\r');
    await waitFor('the answer', () => t.frame().includes('Jumanji (1995)  #2'));
    assert.not.match(t.frame(), /avgavg/);
    t.inst.stdin.write('get x\x17avg 1\x01\x05\r');
    await waitFor('the second answer', () => t.frame().includes('› get avg 1') || t.frame().includes('Toy Story (1995)  #1'));
    assert.match(t.frame(), /› get avg 1/, 'ctrl-w removed the word "x" only; ctrl-a and ctrl-e moved the cursor, inserting nothing');
  } finally {
    t.inst.unmount();
  }
});

test('up arrow recalls the previous command', async () => {
  const t = start();
  await t.typeLine('avg 2');
  await waitFor('the answer', () => t.frame().includes('Jumanji'));
  t.inst.stdin.write('\x1b[A');
  await waitFor('the recalled line', () => t.frame().trimEnd().endsWith('› avg 2'));
  t.inst.unmount();
});

test('80x24: no line is wider than 80 columns and the screen fits in 23 rows, whatever is shown', async () => {
  const t = start({ traceOn: true });
  const long = 'A Very Long Movie Title That Goes On And On Past The Edge Of Any Reasonable Terminal (2001)';
  t.session.base.set(5, [4, 1]);
  (await import('./fake-session.js')).MOVIES.push({ movieId: 99, title: long, genres: ['Drama', 'Comedy', 'Documentary', 'Film-Noir'] });
  const rid = (s: string) => s as ReplicaId;
  const events: TraceEvent[] = [
    { kind: 'request', fe: 'fe1', requestId: 'r1' as RequestId, op: 'rate', prev: { [rid('rm1.aaaa')]: 1234, [rid('rm2.bbbb')]: 5678, [rid('rm3.cccc')]: 91011 }, at: 0 },
    {
      kind: 'chose',
      fe: 'fe1',
      requestId: 'r1' as RequestId,
      chosen: [
        { rm: rid('rm1.aaaa'), status: 'OVERLOADED', inflight: 999 },
        { rm: rid('rm2.bbbb'), status: 'ACTIVE', inflight: 1000 },
      ],
      retry: true,
      at: 1,
    },
    { kind: 'pullSent', rm: rid('rm4.dddd'), to: rid('rm1.aaaa'), missing: [rid('rm1.aaaa'), rid('rm2.bbbb'), rid('rm3.cccc')], at: 2 },
  ];
  for (const e of events) t.session.emit('trace', e);
  const seen: string[] = [];
  for (const [line, answer] of [
    ['help', 'e.g. search toy story'],
    ['search a very long movie', '1 movie match'],
    ['movie 99', 'genres'],
    ['rate 99 3', '✓ rated'],
    ['mine', 'you have rated'],
    ['status', 'as seen by fe1'],
    ['nonsense with many words that go on and on and on past the edge', 'unknown command'],
  ] as const) {
    await t.typeLine(line);
    await waitFor(`the answer to ${line}`, () => t.frame().includes(answer) && !t.frame().includes('⋯ waiting'));
    seen.push(t.inst.lastFrame() ?? '');
  }
  for (let i = 0; i < 5; i++) {
    t.inst.stdin.write('\x1b[5~'); // PgUp
    await waitFor('scrolling', () => t.frame().includes('newer'));
    seen.push(t.inst.lastFrame() ?? '');
  }
  for (const frame of [...seen, ...t.inst.frames]) {
    const rows = plain(frame).split('\n');
    assert.ok(rows.length <= 23, `a frame has ${rows.length} rows`);
    for (const row of rows) assert.ok(textWidth(row) <= 80, `too wide (${textWidth(row)}): ${row}`);
  }
  t.inst.unmount();
});

test('wide terminals put the results beside the cluster and trace panels', async () => {
  const t = start({ columns: 160, rows: 40, traceOn: true });
  await waitFor('the cluster', () => t.frame().includes('● ACTIVE'));
  const row = t.frame().split('\n').find((l) => l.includes('── RESULTS'));
  assert.ok(row && row.includes('│') && row.includes('CLUSTER'), 'results and cluster share rows');
  for (const r of t.frame().split('\n')) assert.ok(textWidth(r) <= 160);
  t.inst.unmount();
});

test('the trace panel toggles with ctrl-t and with trace on|off', async () => {
  const t = start();
  assert.not.match(t.frame(), /── TRACE/);
  t.inst.stdin.write('\x14');
  await waitFor('the trace panel', () => t.frame().includes('── TRACE'));
  assert.is(t.session.watching, true, 'the session is asked for trace events');
  await t.typeLine('trace off');
  await waitFor('no trace panel', () => !t.frame().includes('── TRACE'));
  assert.is(t.session.watching, false);
  t.inst.unmount();
});

test('banners: naming unreachable, and a front-end switch that keeps the session timestamp', async () => {
  const t = start();
  t.session.emit('naming', false);
  await waitFor('the naming banner', () => t.frame().includes('⚠ naming service unreachable — retrying'));
  t.session.emit('naming', true);
  t.session.fe = 'fe2';
  t.session.emit('frontend', 'fe2', 'switched from fe1');
  await waitFor('the switch banner', () => t.frame().includes('⚠ front end fe1 is gone — now using fe2; your session timestamp is kept'));
  assert.not.match(t.frame(), /naming service unreachable/);
  t.inst.unmount();
});

test('quit closes the session, unsubscribes and ends the app', async () => {
  let quitCalled = false;
  const t = start({
    onQuit: () => {
      quitCalled = true;
    },
  });
  await t.typeLine('quit');
  await waitFor('quit', () => quitCalled);
  assert.ok(t.session.closed);
  t.inst.unmount();
  assert.is(t.session.listeners('cluster'), 0);
  assert.is(t.session.listeners('trace'), 0);
});

test('cluster view: pushed events keep it fresh; a fetch happens only after 2 s without one', async () => {
  const pushed = new FakeSession();
  pushed.watch = () => {};
  const t1 = start({ session: pushed });
  const timer = setInterval(() => pushed.emit('cluster', pushed.view()), 300);
  const silent = new FakeSession();
  silent.watch = () => {};
  const t2 = start({ session: silent });
  await waitFor('a fallback fetch', () => silent.clusterCalls > 0, 4000);
  clearInterval(timer);
  assert.is(pushed.clusterCalls, 0, 'no polling while events arrive');
  await waitFor('the fetched view', () => t2.frame().includes('● ACTIVE'));
  t1.inst.unmount();
  t2.inst.unmount();
});

test('NO_COLOR: the screen has no escape sequences at all (and colour does appear without it)', () => {
  const script = path.join(here, 'render-screen.tsx');
  const runWith = (extra: Record<string, string>) => {
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '1', ...extra };
    delete env['CI'];
    if (!('NO_COLOR' in extra)) delete env['NO_COLOR'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 0, r.stderr);
    return r.stdout;
  };
  const colored = runWith({});
  assert.ok(colored.includes('\x1b['), 'the control run has colour codes');
  const plainOut = runWith({ NO_COLOR: '1' });
  assert.ok(plainOut.includes('● ACTIVE') && plainOut.includes('3.92'), 'the screen was drawn');
  assert.not.ok(plainOut.includes('\x1b['), 'no ESC[ sequences with NO_COLOR');
});

test.run();
