/**
 * bin/frontend as a process: the ready line, flags, clean exit on SIGTERM
 * (and leaving naming), a name already taken; and the latency the front end
 * adds when client, front end and replicas are separate processes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { testConfig } from '../../src/core/config.js';
import type { RequestId } from '../../src/core/ids.js';
import type { ClientReply, ClusterView, ReplicaEmit, ReplicaListen } from '../../src/core/protocol.js';
import * as V from '../../src/core/vts.js';
import { NamingClient } from '../../src/naming/client.js';
import { startNaming, type NamingHandle } from '../../src/naming/server.js';
import { connectClient, quietLog } from './fakes.js';
import { connected } from '../../src/core/sockets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
execFileSync('bash', [path.join(root, 'bin/ensure-built.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });

const SECRET = 'proc-secret';
const test = suite('front end process');
const children: ChildProcess[] = [];
let naming: NamingHandle;

interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  exit: Promise<number | null>;
}

function start(component: string, args: string[]): Proc {
  const child = spawn(process.execPath, [path.join(root, `dist/src/${component}/main.js`), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HEARSAY_SECRET: '' },
  });
  children.push(child);
  const p: Proc = {
    child,
    stdout: [],
    stderr: '',
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    p.stdout.push(...lines);
  });
  child.stderr!.on('data', (d: Buffer) => {
    p.stderr += d.toString();
  });
  return p;
}

/** Resolves with the URL from the `ready at` line; fails on exit or after `ms`. */
function ready(p: Proc, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`no ready line within ${ms} ms; stderr:\n${p.stderr}`));
    }, ms);
    const poll = setInterval(() => {
      const line = p.stdout.find((l) => / ready at /.test(l));
      if (line) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(line.slice(line.indexOf(' ready at ') + 10));
      }
    }, 5);
    void p.exit.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready; stderr:\n${p.stderr}`));
    });
  });
}

function withDeadline<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))]);
}

test.before(async () => {
  naming = await startNaming({ config: testConfig, log: quietLog, secret: SECRET });
});

test.after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await naming?.close();
});

test('prints exactly one ready line naming itself and its URL, and exits 0 on SIGTERM after leaving naming', async () => {
  const p = start('frontend', ['--naming', naming.url, '--name', 'feA', '--profile', 'test', '--secret', SECRET]);
  const url = await ready(p);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(p.stdout, [`hearsay frontend feA ready at ${url}`]);
  const nc = new NamingClient({ url: naming.url, secret: SECRET, log: quietLog, config: testConfig });
  try {
    assert.ok(await nc.lookup('feA'));
    p.child.kill('SIGTERM');
    assert.is(await withDeadline('exit', p.exit, 5000), 0);
    assert.is(await nc.lookup('feA'), null);
  } finally {
    await nc.close();
  }
  assert.is(p.stdout.length, 1, 'nothing else on stdout');
});

test('bad flags print the usage on stderr and exit 2', async () => {
  for (const args of [[], ['--naming'], ['--naming', 'not-a-url'], ['--naming', naming.url, '--port', 'x'], ['--naming', naming.url, '--bogus', '1'], ['--naming', naming.url, '--profile', 'fast']]) {
    const p = start('frontend', args);
    assert.is(await withDeadline('exit', p.exit, 5000), 2, `args ${JSON.stringify(args)}`);
    assert.match(p.stderr, /usage: frontend --naming URL/);
    assert.equal(p.stdout, []);
  }
});

test('a name held by a live front end is refused and the second process exits 1', async () => {
  const a = start('frontend', ['--naming', naming.url, '--name', 'feB', '--profile', 'test', '--secret', SECRET]);
  await ready(a);
  const b = start('frontend', ['--naming', naming.url, '--name', 'feB', '--profile', 'test', '--secret', SECRET]);
  assert.is(await withDeadline('exit', b.exit, 10_000), 1);
  assert.match(b.stderr, /held by a live frontend|NAME_TAKEN/);
  a.child.kill('SIGTERM');
  assert.is(await withDeadline('exit', a.exit, 5000), 0);
});

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * q)]!;
}
const median = (xs: number[]) => quantile(xs, 0.5);

test('the front end adds little latency to a query when client, front end and replicas are separate processes', async () => {
  const rmArgs = (n: string) => ['--naming', naming.url, '--name', n, '--profile', 'test', '--secret', SECRET, '--no-random-status'];
  const rm1 = start('replica', rmArgs('prm1'));
  const rm2 = start('replica', rmArgs('prm2'));
  const [rm1Url] = await Promise.all([ready(rm1), ready(rm2)]);
  const fe = start('frontend', ['--naming', naming.url, '--name', 'feL', '--profile', 'test', '--secret', SECRET]);
  const feUrl = await ready(fe);
  const client = await connectClient(feUrl);
  const direct = connect(rm1Url, { transports: ['websocket'], reconnection: false }) as ClientSocket<ReplicaEmit, ReplicaListen>;
  await connected(direct, rm1Url);
  try {
    // Both replicas serving.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = (await client.timeout(3000).emitWithAck('cluster', {})) as { ok: boolean; view: ClusterView };
      if (r.ok && r.view.replicas.filter((x) => x.phase === 'serving').length === 2) break;
      if (Date.now() > deadline) throw new Error('replicas not serving');
      await new Promise((res) => setTimeout(res, 20));
    }
    let n = 0;
    const q = { kind: 'avg', movieId: 1 } as never;
    const viaFe = () => client.timeout(3000).emitWithAck('query', { requestId: `l${++n}` as RequestId, prev: V.zero(), query: q }) as Promise<ClientReply>;
    const toRm = () => direct.timeout(3000).emitWithAck('query', { requestId: `d${++n}` as RequestId, prev: V.zero(), query: q });
    for (let i = 0; i < 30; i++) {
      await viaFe();
      await toRm();
    }
    const N = 400;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      const d = await toRm();
      b.push(performance.now() - t);
      t = performance.now();
      const f = await viaFe();
      a.push(performance.now() - t);
      assert.ok(d.ok && f.ok, JSON.stringify([d, f]));
    }
    const added = median(a) - median(b);
    process.stderr.write(
      `front end latency across processes, ${N} queries: via FE median ${median(a).toFixed(3)} ms (p10 ${quantile(a, 0.1).toFixed(3)}, p90 ${quantile(a, 0.9).toFixed(3)}), direct median ${median(b).toFixed(3)} ms (p10 ${quantile(b, 0.1).toFixed(3)}), added ${added.toFixed(3)} ms\n`,
    );
    // Medians swing with machine load; the 10th percentiles show what the front end itself costs.
    const addedFast = quantile(a, 0.1) - quantile(b, 0.1);
    assert.ok(addedFast < 5, `the front end adds ${addedFast.toFixed(2)} ms at the 10th percentile (${added.toFixed(2)} ms at the median)`);
  } finally {
    client.close();
    direct.close();
    for (const p of [fe, rm1, rm2]) p.child.kill('SIGTERM');
    for (const p of [fe, rm1, rm2]) assert.is(await withDeadline('exit', p.exit, 5000), 0);
  }
});

test.run();
