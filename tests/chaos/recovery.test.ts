/**
 * Recovery without manual steps, over real processes:
 * - a replica killed (memory lost) and restarted never answers from a state
 *   older than what clients already saw: until it has caught up it refuses,
 *   and its first answers already hold every acknowledged update;
 * - a restarted front end is used again by clients on their own;
 * - a restarted naming service is repopulated by the members themselves,
 *   and new clients find the front ends through it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildOnce } from '../helpers/cluster.js';
import { movieId, userId } from '../../src/core/ids.js';
import { Session } from '../../src/client/session.js';
import { waitForMembers } from '../../src/client/wait.js';
import { ChaosCluster } from '../../chaos/cluster.js';

buildOnce();

let cluster: ChaosCluster;
const sessions: Session[] = [];
const USER = 77;
const MOVIES = [1, 2, 9, 10, 11];

async function session(): Promise<Session> {
  const s = await Session.connect({ naming: cluster.namingUrl, user: userId(USER), config: cluster.config });
  sessions.push(s);
  return s;
}

const test = suite('recovery');

test.before(async () => {
  cluster = await ChaosCluster.start({
    replicas: ['rm1', 'rm2', 'rm3', 'rm4'],
    frontends: ['fe1', 'fe2'],
    secret: randomBytes(16).toString('hex'),
    profile: 'test',
    seed: 1,
    logDir: mkdtempSync(path.join(os.tmpdir(), 'hearsay-recovery-')),
  });
});

test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await cluster?.close();
});

test('a restarted replica answers nothing older than what was acknowledged before it came back', async () => {
  const s = await session();
  const latest = new Map<number, number>();
  let stamp = 1_900_000_000;
  const write = async () => {
    for (const m of MOVIES) {
      const rating = ((stamp % 9) + 1) / 2;
      const r = await s.update({ kind: 'rate', userId: userId(USER), movieId: movieId(m), rating, timestamp: ++stamp });
      assert.ok(r.ok, `update acknowledged: ${JSON.stringify(r).slice(0, 200)}`);
      latest.set(m, stamp);
    }
  };
  await write();
  await cluster.kill('rm2');
  await write(); // rm2 never saw these
  const restarting = cluster.startMember('rm2');
  // Ask rm2 directly from the moment it listens: every answer must hold every acknowledged write.
  let answered = 0;
  let refused = 0;
  const deadline = Date.now() + 30_000;
  await restarting;
  while (Date.now() < deadline && answered < 5) {
    let r;
    try {
      r = await cluster.query('rm2', { kind: 'mine', userId: userId(USER) }, 2000);
    } catch {
      continue;
    }
    if (!r.ok) {
      assert.ok(['UNAVAILABLE', 'NOT_YET_AVAILABLE', 'OFFLINE'].includes(r.code), `a replica still recovering refuses (${r.code}: ${r.message})`);
      refused++;
      await new Promise((res) => setTimeout(res, 20));
      continue;
    }
    assert.is(r.result.kind, 'mine');
    if (r.result.kind !== 'mine') return;
    const shown = new Map(r.result.ratings.map((x) => [x.movieId as number, x.timestamp]));
    for (const [m, t] of latest) assert.is(shown.get(m), t, `rm2's answer holds the acknowledged rating of movie ${m}`);
    answered++;
  }
  assert.is(answered, 5, 'rm2 serves again');
  const st = await cluster.introspect('rm2');
  assert.is(st.phase, 'serving');
  assert.is(st.digest, (await cluster.introspect('rm1')).digest, 'rm2 holds the same data as rm1');
  console.log(`restarted replica: refused ${refused} request(s) while recovering, then answered with every acknowledged update`);
});

test('a restarted front end is used again without any manual step', async () => {
  const s = await session();
  await cluster.kill('fe1');
  await cluster.startMember('fe1');
  await waitForMembers({ naming: cluster.namingUrl, config: cluster.config, frontends: 2, names: ['fe1'], timeoutMs: 10_000 });
  await cluster.kill('fe2'); // only the restarted one is left
  const r = await s.query({ kind: 'avg', movieId: movieId(1) });
  assert.ok(r.ok, `answered through the restarted front end: ${JSON.stringify(r).slice(0, 200)}`);
  assert.is(s.frontend(), 'fe1');
  await cluster.startMember('fe2');
});

test('a restarted naming service is repopulated by the members themselves', async () => {
  const s = await session();
  await cluster.kill('naming');
  // While naming is down, the running cluster keeps serving.
  const during = await s.query({ kind: 'avg', movieId: movieId(1) });
  assert.ok(during.ok, `served while naming is down: ${JSON.stringify(during).slice(0, 200)}`);
  const t0 = Date.now();
  await cluster.startMember('naming');
  const back = await waitForMembers({ naming: cluster.namingUrl, config: cluster.config, frontends: 2, replicas: 4, timeoutMs: 15_000 });
  console.log(`naming restarted: all ${back.frontends.length} front ends and ${back.replicas.length} replicas registered again within ${Date.now() - t0} ms`);
  // A new client finds a front end through the restarted naming service, and a write goes through.
  const fresh = await session();
  const w = await fresh.update({ kind: 'rate', userId: userId(USER), movieId: movieId(1), rating: 3, timestamp: 1_950_000_000 });
  assert.ok(w.ok, `a new client is served: ${JSON.stringify(w).slice(0, 200)}`);
  // A replica restarted after the naming restart joins too.
  await cluster.kill('rm3');
  await cluster.startMember('rm3');
  await waitForMembers({ naming: cluster.namingUrl, config: cluster.config, replicas: 4, names: ['rm3'], timeoutMs: 30_000 });
});

test.run();
