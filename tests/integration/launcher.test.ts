/**
 * Acceptance: the launcher (bin/main.sh) and the plain client (bin/client) as
 * a user runs them, on real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, Cluster, ROOT } from '../helpers/cluster.js';

buildOnce();

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of started) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
});

/** Runs a command with `input` on stdin; kills it (by PID) if it outlives `timeoutMs`. */
function run(cmd: string, args: string[], input: string, timeoutMs = 60_000, env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    started.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      started.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The PIDs the launcher recorded in its run folder (named in its "cluster up" line). */
function runPids(stderr: string): { folder: string; pids: Map<string, number> } {
  const m = /logs in (\.run\/\S+?);/.exec(stderr);
  assert.ok(m, `no run folder in the launcher's output:\n${stderr}`);
  const folder = path.join(ROOT, m![1]!);
  const pids = new Map<string, number>();
  for (const line of readFileSync(path.join(folder, 'pids'), 'utf8').split('\n').filter(Boolean)) {
    const [name, pid] = line.split(' ');
    pids.set(name!, Number(pid));
  }
  return { folder, pids };
}

// ---------------------------------------------------------------------------

const launcher = suite('bin/main.sh');

launcher('a piped session rates, reads, deletes, searches and shows status, then every process of the run is gone', async () => {
  const commands = ['rate 1 4.5', 'get 1', 'avg 1', 'delete 1', 'get 1', 'mine', 'search toy', 'status', 'quit', 'avg 2'].join('\n') + '\n';
  const r = await run('bash', [path.join(ROOT, 'bin/main.sh'), '2', '4', '42', '--profile', 'test'], commands);
  assert.is(r.code, 0, `exit ${r.code} ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const up = /cluster up in (\d+\.\d+) s: naming (http:\/\/127\.0\.0\.1:\d+), 2 front ends, 4 replicas; logs in \.run\/\S+; you are user 42/.exec(r.stderr);
  assert.ok(up, r.stderr);
  const out = r.stdout;
  const lines = out.split('\n');
  assert.ok(lines[0]!.startsWith('rated Toy Story (1995) [#1]: 4.5 ★★★★½'), lines[0]);
  assert.ok(lines[1]!.startsWith('your rating of Toy Story (1995) [#1]: 4.5 ★★★★½ (rated '), lines[1]);
  assert.match(lines[2]!, /^Toy Story \(1995\) \[#1\]: average \d\.\d\d [★½☆]{5} from \d+ ratings$/);
  assert.is(lines[3], 'deleted your rating of Toy Story (1995) [#1] (if you had one)');
  assert.is(lines[4], 'you have not rated Toy Story (1995) [#1]');
  assert.match(lines[5]!, /^you have rated \d+ movies:$/);
  // After the delete, movie 1 is not among the user's ratings.
  const mine = out.slice(out.indexOf(lines[5]!), out.indexOf('movies match "toy"'));
  assert.not.match(mine, /^\s+1\s+\d\.\d\s/m);
  assert.match(out, /\d+ movies match "toy":\n\s+id\s+genres\s+title\n\s+1\s+Adventure, Animation, Children, Comedy, Fantasy\s+Toy Story \(1995\)/);
  assert.match(out, /4 replicas \(as seen by fe[12]\):/);
  for (const rm of ['rm1', 'rm2', 'rm3', 'rm4']) assert.match(out, new RegExp(`^  ${rm}(?: \\(primary\\))?\\s+${rm}\\.\\S+\\s+ACTIVE\\s+serving`, 'm'));
  assert.match(out, /2 front ends:\n\s+name\s+url\s+prev\n\s+fe1\s+http:\/\/127\.0\.0\.1:\d+/);
  assert.ok(out.trimEnd().endsWith('bye'), 'quit ends the session: nothing after it runs');
  const { pids } = runPids(r.stderr);
  assert.equal([...pids.keys()].sort(), ['client', 'fe1', 'fe2', 'naming', 'rm1', 'rm2', 'rm3', 'rm4']);
  for (const [name, pid] of pids) assert.not.ok(alive(pid), `${name} (pid ${pid}) is still running`);
});

launcher('bad arguments are usage errors (exit 2) that say what is wrong', async () => {
  const cases: [string[], RegExp][] = [
    [['0'], /frontends must be a whole number from 1 to 10, got "0"/],
    [['2', 'x'], /replicas must be a whole number from 1 to 20, got "x"/],
    [['1', '1', '-5'], /unknown option -5/],
    [['1', '1', '0'], /user must be a whole number/],
    [['1', '2', '3', '4'], /at most three numbers/],
    [['--port', '70000'], /--port must be a whole number from 0 to 65535/],
    [['--port'], /--port needs a value/],
    [['--data', '/nonexistent/file.sqlite'], /--data: cannot read/],
    [['--profile', 'fast'], /--profile must be default or test/],
    [['--frobnicate'], /unknown option --frobnicate/],
  ];
  for (const [args, message] of cases) {
    const r = await run('bash', [path.join(ROOT, 'bin/main.sh'), ...args], '', 20_000);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /usage: bin\/main\.sh/);
  }
});

launcher('a --port in use is a clear error and nothing is left running', async () => {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await run('bash', [path.join(ROOT, 'bin/main.sh'), '1', '1', '7', '--port', String(port), '--profile', 'test'], 'quit\n', 30_000);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${port} is in use; choose another with --port or leave it out`));
  } finally {
    server.close();
  }
});

launcher('a component that cannot start is named with the end of its log, and everything started is stopped', async () => {
  // A data file that is not a database: every replica fails at start-up.
  const r = await run('bash', [path.join(ROOT, 'bin/main.sh'), '1', '2', '7', '--data', path.join(ROOT, 'package.json'), '--profile', 'test'], 'status\n', 60_000);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /main\.sh: rm[12] failed during start-up/);
  assert.match(r.stderr, /--- last lines of \.run\/\S+\/rm[12]\.log ---/);
  assert.is(r.stdout, '', 'no client ran');
  const m = /last lines of (\.run\/[^/]+)\//.exec(r.stderr);
  const folder = path.join(ROOT, m![1]!);
  for (const line of readFileSync(path.join(folder, 'pids'), 'utf8').split('\n').filter(Boolean)) {
    const [name, pid] = line.split(' ');
    assert.not.ok(alive(Number(pid)), `${name} still runs`);
  }
});

for (const [signal, status] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  launcher(`${signal} while the client runs stops every process of the run (exit ${status})`, async () => {
    const child = spawn('bash', [path.join(ROOT, 'bin/main.sh'), '1', '2', '42', '--profile', 'test'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    started.add(child);
    let stderr = '';
    child.stdout.resume();
    const up = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "cluster up" line within 60 s:\n${stderr}`)), 60_000);
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (/cluster up in/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await up;
      // The client is waiting for commands on the open stdin; interrupt the launcher.
      const { pids } = runPids(stderr);
      await waitFor(() => pids.size > 0 && readFileSync(path.join(runPids(stderr).folder, 'pids'), 'utf8').includes('client '), 10_000);
      child.kill(signal);
      assert.is(await exited, status, stderr);
      for (const [name, pid] of runPids(stderr).pids) assert.not.ok(alive(pid), `${name} (pid ${pid}) is still running`);
    } finally {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      started.delete(child);
    }
  });
}

/** Resolves when cond() holds, checking every 20 ms; throws after timeoutMs. */
async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------

const client = suite('bin/client');
let cluster: Cluster | undefined;

client.before(async () => {
  cluster = await Cluster.start({ frontends: 1, replicas: 2 });
});
client.after(async () => {
  await cluster?.close();
});

const clientBin = () => path.join(ROOT, 'bin/client');

client('--json prints exactly one JSON object per command; exit 0 when all succeed', async () => {
  const c = cluster!;
  const r = await run(clientBin(), ['--naming', c.namingUrl, '--user', '9', '--profile', 'test', '--json', '-e', 'rate 2 3', '-e', 'get 2', '-e', 'help rate'], '', 30_000);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.is(lines.length, 3, r.stdout);
  const objs = lines.map((l) => JSON.parse(l) as { command: string; ok: boolean; result: { kind: string; rating?: number } });
  assert.equal(
    objs.map((o) => [o.command, o.ok, o.result.kind]),
    [
      ['rate 2 3', true, 'rated'],
      ['get 2', true, 'get'],
      ['help rate', true, 'help'],
    ],
  );
  assert.is(objs[1]!.result.rating, 3);
});

client('commands from stdin skip blanks and comments; any failed command makes the exit status 1', async () => {
  const c = cluster!;
  const r = await run(clientBin(), ['--naming', c.namingUrl, '--user', '9', '--profile', 'test', '--json'], '# a comment\n\navg 1\nrate 1 9\nmovie 99999999\n  \nsearch zzzzqqq\n', 30_000);
  assert.is(r.code, 1, r.stderr);
  const objs = r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { command: string; ok: boolean; result: { kind: string; code?: string; hint?: string } });
  assert.equal(
    objs.map((o) => [o.command, o.ok, o.result.kind, o.result.code]),
    [
      ['avg 1', true, 'avg', undefined],
      ['rate 1 9', false, 'error', 'USAGE'],
      ['movie 99999999', false, 'error', 'UNKNOWN_MOVIE'],
      ['search zzzzqqq', true, 'search', undefined],
    ],
  );
  assert.match(objs[1]!.result.hint!, /use 0\.5 to 5 in half steps, e\.g\. rate 1 4\.5/);
  assert.match(objs[2]!.result.hint!, /search for it: search WORDS/);
});

client('usage errors exit 2 without touching the service', async () => {
  for (const args of [[], ['--naming', 'http://127.0.0.1:1'], ['--naming', 'nope', '--user', '1'], ['--naming', 'http://127.0.0.1:1', '--user', 'abc'], ['--bogus']]) {
    const r = await run(clientBin(), args, '', 20_000, { HEARSAY_NAMING: '' });
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: client/);
    assert.is(r.stdout, '');
  }
});

client('an unreachable naming service fails each command with advice, exit 1', async () => {
  const r = await run(clientBin(), ['--naming', 'http://127.0.0.1:1', '--user', '1', '--profile', 'test', '-e', 'avg 1', '-e', 'help'], '', 30_000);
  assert.is(r.code, 1);
  assert.match(r.stdout, /error: cannot reach the service through http:\/\/127\.0\.0\.1:1/);
  assert.match(r.stdout, /check --naming/);
  assert.match(r.stdout, /commands \(help COMMAND for an example\)/, 'help works without the service');
});

launcher.run();
client.run();
