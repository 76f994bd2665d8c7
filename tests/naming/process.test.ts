/**
 * bin/naming as a real process, with real member processes (compiled
 * NamingClient) that crash (SIGKILL) or hang (SIGSTOP): the ready line, crash
 * detection within 2 s, the secret from the environment, malformed payloads,
 * bad flags, and a clean exit on SIGTERM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { io } from 'socket.io-client';
import { defaultConfig, testConfig } from '../../src/core/config.js';
import type { Member } from '../../src/core/protocol.js';
import type { Logger } from '../../src/core/sockets.js';
import { NamingClient } from '../../src/naming/client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
execFileSync('bash', [path.join(root, 'bin/ensure-built.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hearsay-naming-'));
/** A member process: registers through the compiled NamingClient and says so, then lives until killed. */
const memberScript = path.join(tmp, 'member.mjs');
writeFileSync(
  memberScript,
  `const { NamingClient } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/naming/client.js')).href)});
const { configFor } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/core/config.js')).href)});
const [url, name, profile] = process.argv.slice(2);
const log = { info: (m) => process.stderr.write(m + '\\n'), warn: (m) => process.stderr.write(m + '\\n'), error: (m) => process.stderr.write(m + '\\n') };
const c = new NamingClient({ url, log, config: configFor(profile), secret: process.env.HEARSAY_SECRET });
c.register({ kind: 'replica', name, url: 'http://127.0.0.1:9/' + name, meta: { pid: process.pid } }).then(
  () => process.stdout.write('registered ' + name + '\\n'),
  (e) => { process.stdout.write('failed ' + e.code + '\\n'); process.exit(3); },
);
`,
);

const children = new Set<ChildProcess>();
interface Proc {
  readonly child: ChildProcess;
  readonly stderr: string[];
  /** Resolves with the first stdout line matching `re` (rejects after `ms` or if the process exits first). */
  line(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out: string[] = [];
  const stderr: string[] = [];
  let listeners: (() => void)[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
      for (const l of listeners) l();
    }),
  );
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  return {
    child,
    stderr,
    line: (re, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (const l of out) {
            const m = re.exec(l);
            if (m) return done(() => resolve(m));
          }
          if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`${cmd} exited before printing ${re}; stdout: ${out.join('|')}; stderr: ${stderr.join('')}`)));
        };
        const t = setTimeout(() => done(() => reject(new Error(`no line ${re} within ${ms} ms; stdout: ${out.join('|')}; stderr: ${stderr.join('')}`))), ms);
        const done = (f: () => void) => {
          clearTimeout(t);
          listeners = listeners.filter((l) => l !== check);
          f();
        };
        listeners.push(check);
        check();
      }),
    exited: (ms = 60_000) =>
      Promise.race([exit, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr: ${stderr.join('')}`)), ms).unref())]),
  };
}

const READY = /^hearsay naming (\S+) ready at (http:\/\/127\.0\.0\.1:\d+)$/;
async function namingProcess(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ p: Proc; url: string }> {
  const p = start(path.join(root, 'bin/naming'), args, env);
  const m = await p.line(READY);
  return { p, url: m[2]! };
}
function member(url: string, name: string, profile: string, env: NodeJS.ProcessEnv = {}): Proc {
  return start(process.execPath, [memberScript, url, name, profile], env);
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const clients: NamingClient[] = [];
/** A watcher in this process: resolves when `name` is no longer listed, with the time. */
function watcher(url: string, profile = defaultConfig) {
  const c = new NamingClient({ url, config: profile, log: quiet });
  clients.push(c);
  let current: Member[] = [];
  const waiters = new Set<() => void>();
  c.watch('replica', (ms) => {
    current = ms;
    for (const w of [...waiters]) w();
  });
  const until = (pred: (ms: Member[]) => boolean, ms: number, what: string) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        if (!pred(current)) return;
        waiters.delete(check);
        clearTimeout(t);
        resolve(performance.now());
      };
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    listed: (name: string, ms = 5000) => until((l) => l.some((m) => m.name === name), ms, `${name} to be listed`),
    gone: (name: string, ms = 5000) => until((l) => !l.some((m) => m.name === name), ms, `${name} to leave`),
  };
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const test = suite('bin/naming');
test.after.each(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const child of children) child.kill('SIGKILL');
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('bin/naming prints the ready line, serves, and exits 0 on SIGTERM', async () => {
  const { p, url } = await namingProcess(['--profile', 'test', '--name', 'dir1']);
  assert.is(READY.exec(`hearsay naming dir1 ready at ${url}`)?.[1], 'dir1');
  const c = new NamingClient({ url, config: testConfig, log: quiet });
  clients.push(c);
  await c.register({ kind: 'frontend', name: 'fe1', url: 'http://127.0.0.1:9/fe1', meta: {} });
  assert.is((await c.lookup('fe1'))?.kind, 'frontend');
  p.child.kill('SIGTERM');
  const { code, signal } = await p.exited();
  assert.is(signal, null);
  assert.is(code, 0);
  assert.ok(p.stderr.join('').includes('SIGTERM'), 'the shutdown is logged on stderr');
});

test('SIGINT also exits 0; the port is free again afterwards', async () => {
  const { p, url } = await namingProcess();
  p.child.kill('SIGINT');
  assert.is((await p.exited()).code, 0);
  const port = new URL(url).port;
  const again = await namingProcess(['--port', port]);
  assert.is(again.url, url);
  again.p.child.kill('SIGTERM');
  assert.is((await again.p.exited()).code, 0);
});

test('a member process that crashes (SIGKILL) disappears at once', async () => {
  const { url } = await namingProcess();
  const w = watcher(url);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const m = member(url, `crash${i}`, 'default');
    await m.line(/^registered /);
    await w.listed(`crash${i}`);
    const t0 = performance.now();
    m.child.kill('SIGKILL');
    times.push((await w.gone(`crash${i}`, 2000)) - t0);
  }
  console.log(`  SIGKILL → left (default profile): median ${median(times).toFixed(1)} ms (runs: ${times.map((t) => t.toFixed(1)).join(', ')})`);
  assert.ok(Math.max(...times) < 2000);
});

test('a member process that hangs (SIGSTOP, connection open but silent) disappears within 2 s', async () => {
  const { url } = await namingProcess(['--profile', 'default']);
  const w = watcher(url);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const m = member(url, `hang${i}`, 'default');
    await m.line(/^registered /);
    await w.listed(`hang${i}`);
    const t0 = performance.now();
    m.child.kill('SIGSTOP');
    try {
      times.push((await w.gone(`hang${i}`, 3000)) - t0);
    } finally {
      m.child.kill('SIGKILL');
    }
  }
  console.log(
    `  SIGSTOP → left (default profile: leaseMs ${defaultConfig.leaseMs}, heartbeatMs ${defaultConfig.heartbeatMs}): ` +
      `median ${median(times).toFixed(0)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`,
  );
  assert.ok(Math.max(...times) < 2000, `slowest ${Math.max(...times)} ms`);
});

test('a member notices a hung naming service, and registers again once it resumes', async () => {
  const { p, url } = await namingProcess(['--profile', 'test']);
  const c = new NamingClient({ url, config: testConfig, log: quiet });
  clients.push(c);
  const ups: { up: boolean; at: number }[] = [];
  const waiters = new Set<() => void>();
  c.onConnection((up) => {
    ups.push({ up, at: performance.now() });
    for (const w of [...waiters]) w();
  });
  const next = (up: boolean, ms: number) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const hit = ups.find((u) => u.up === up);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(t);
        resolve(hit.at);
      };
      const t = setTimeout(() => reject(new Error(`no onConnection(${up}) within ${ms} ms`)), ms);
      waiters.add(check);
      check();
    });
  await c.register({ kind: 'replica', name: 'rm1', url: 'http://127.0.0.1:9/rm1', meta: {} });
  const t0 = performance.now();
  p.child.kill('SIGSTOP');
  let down: number;
  try {
    down = (await next(false, 10_000)) - t0;
  } finally {
    p.child.kill('SIGCONT');
  }
  console.log(`  hung naming service noticed after ${down.toFixed(0)} ms (test profile)`);
  ups.length = 0;
  await next(true, 10_000);
  const w = watcher(url, testConfig);
  await w.listed('rm1', 5000);
  assert.is((await c.lookup('rm1'))?.name, 'rm1');
});

test('HEARSAY_SECRET protects registration; lookups stay open; members with the secret register', async () => {
  const { p, url } = await namingProcess(['--profile', 'test'], { HEARSAY_SECRET: 'cluster-key' });
  const outsider = member(url, 'rogue', 'test', { HEARSAY_SECRET: '' });
  await outsider.line(/^failed UNAUTHORIZED$/);
  const insider = member(url, 'rm1', 'test', { HEARSAY_SECRET: 'cluster-key' });
  await insider.line(/^registered rm1$/);
  const open = new NamingClient({ url, config: testConfig, log: quiet });
  clients.push(open);
  assert.equal((await open.list('replica')).map((m) => m.name), ['rm1']);
  assert.not.ok(p.stderr.join('').includes('cluster-key'), 'the secret is never logged');
});

test('malformed payloads to the real process get error replies and it stays up', async () => {
  const { p, url } = await namingProcess(['--profile', 'test']);
  const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    for (const [event, payload] of [
      ['register', { kind: 'x' }],
      ['update', 'meta'],
      ['heartbeat', 1],
      ['lookup', { name: {} }],
      ['list', { kind: [] }],
      ['watch', 5],
      ['whatever', {}],
    ] as const) {
      const r = await s.timeout(3000).emitWithAck(event, payload);
      assert.is(r.ok, false, event);
      assert.is(r.code, 'BAD_REQUEST', event);
    }
    s.emit('register', { kind: 'replica' });
    s.emit('lookup');
    const r = await s.timeout(3000).emitWithAck('register', { kind: 'replica', name: 'rm1', url: 'http://127.0.0.1:9/rm1', meta: {} });
    assert.ok(r.ok);
    assert.is(p.child.exitCode, null);
    assert.ok(p.stderr.join('').includes('invalid payload'), 'each is logged');
    assert.not.ok(p.stderr.join('').includes('    at '), 'no stack traces for bad input');
  } finally {
    s.disconnect();
  }
});

test('bad flags print the usage on stderr and exit 2; a taken port exits 1', async () => {
  for (const args of [['--bogus'], ['--port'], ['--port', '99999'], ['--port', 'abc'], ['--profile', 'nope'], ['--profile', 'toString'], ['--advertise', 'nope'], ['--name', 'a b']]) {
    const p = start(path.join(root, 'bin/naming'), args);
    const { code } = await p.exited();
    assert.is(code, 2, args.join(' '));
    assert.match(p.stderr.join(''), /usage: naming/);
  }
  const help = start(path.join(root, 'bin/naming'), ['--help']);
  assert.is((await help.exited()).code, 0);
  const { url } = await namingProcess();
  const clash = start(path.join(root, 'bin/naming'), ['--port', new URL(url).port]);
  assert.is((await clash.exited()).code, 1);
  assert.match(clash.stderr.join(''), /could not start/);
});

test('--advertise and --host shape the ready line', async () => {
  const { url } = await namingProcess(['--host', '127.0.0.1', '--advertise', 'http://127.0.0.1:1234']);
  assert.is(url, 'http://127.0.0.1:1234');
});

test.run();
