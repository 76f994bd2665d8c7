/**
 * The plain command-line client:
 *
 *   bin/client --naming URL --user U [--json] [-e "CMD"]... [--frontend NAME] [--profile test] [--verbose]
 *
 * Commands come from `-e` arguments; otherwise from stdin, one per line, when
 * stdin is not a terminal (blank lines and `# comments` are skipped); otherwise
 * from a line prompt (`interactive`, kept in one function so a richer
 * terminal UI can take its place) until `quit`.
 *
 * stdout carries only results: readable text, or with `--json` exactly one
 * JSON object per command, `{"command", "ok", "result"}`. Diagnostics go to
 * stderr. Exit status: 0 every command succeeded, 1 some failed, 2 usage.
 *
 * forget-user cannot be undone: the line prompt asks "y/N" first; without a
 * person to ask (-e, piped stdin, --json) it runs only as `forget-user ID --yes`
 * and otherwise fails (code CONFIRM).
 */
import { createInterface } from 'node:readline';
import { configFor, profiles, type Config } from '../core/config.js';
import { MAX_USER_ID, userId } from '../core/ids.js';
import type { TraceEvent } from '../core/protocol.js';
import { stderrLogger, type Logger } from '../core/sockets.js';
import { urlSchema } from '../core/schemas.js';
import { cancelledText, confirmationFor, confirmed, isSuccess, isYes, parseCommand, runCommand, type Command, type CommandResult } from './commands.js';
import { formatResult, formatTrace, sanitize } from './format.js';
import { Session } from './session.js';
import { runUiClient } from './ui/run-ui.js';

export const USAGE = `usage: client --naming URL --user U [--json] [-e "CMD"]... [--frontend NAME] [--profile default|test] [--verbose]

  --naming URL     the naming service (default: $HEARSAY_NAMING)
  --user U         your user id, a whole number (MovieLens users are 1 to 610)
  --json           print one JSON object per command: {"command","ok","result"}
  -e, --exec CMD   run CMD (repeatable); otherwise commands are read from stdin,
                   or typed at a prompt when stdin is a terminal
  --frontend NAME  use this front end if it is registered (default: any)
  --profile P      timing profile: ${Object.keys(profiles).join(' or ')} (default: default)
  --verbose        log the session's connection changes to stderr
  --plain          at a terminal, a simple line prompt instead of the full-screen UI
  The cluster secret is read from $HEARSAY_SECRET (bin/main.sh sets it); only "set"
  (changing a replica's status) needs it.

Type "help" for the commands. Exit status: 0 all commands succeeded, 1 some failed, 2 usage error.`;

export interface CliArgs {
  naming: string;
  user: number;
  json: boolean;
  exec: string[];
  frontend?: string | undefined;
  profile: string;
  secret?: string | undefined;
  verbose: boolean;
  /** A line prompt instead of the full-screen terminal UI. */
  plain: boolean;
}

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs | { error: string } | 'help' {
  let naming = env.HEARSAY_NAMING || undefined;
  let user: number | undefined;
  let json = false;
  let verbose = false;
  let plain = false;
  const exec: string[] = [];
  let frontend: string | undefined;
  let profile = 'default';
  let secret = env.HEARSAY_SECRET || undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--json') {
      json = true;
      continue;
    }
    if (a === '--verbose' || a === '-v') {
      verbose = true;
      continue;
    }
    if (a === '--plain') {
      plain = true;
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const takes = ['--naming', '--user', '-e', '--exec', '--frontend', '--profile', '--secret'];
    if (!takes.includes(flag)) return { error: `unknown argument "${a}"` };
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) return { error: `${flag} needs a value` };
    switch (flag) {
      case '--naming':
        naming = value;
        break;
      case '--user': {
        if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > MAX_USER_ID) return { error: `--user must be a whole number from 1 to ${MAX_USER_ID}, got "${value}"` };
        user = Number(value);
        break;
      }
      case '-e':
      case '--exec':
        exec.push(value);
        break;
      case '--frontend':
        frontend = value;
        break;
      case '--profile':
        if (!(value in profiles)) return { error: `--profile must be one of ${Object.keys(profiles).join(', ')}, got "${value}"` };
        profile = value;
        break;
      case '--secret':
        secret = value;
        break;
    }
  }
  if (naming === undefined) return { error: '--naming URL is required (or set HEARSAY_NAMING)' };
  if (!urlSchema.safeParse(naming).success) return { error: `--naming must be an http(s) URL, got "${naming}"` };
  if (user === undefined) return { error: '--user U is required' };
  return { naming, user, json, exec, frontend, profile, secret, verbose, plain };
}

/** Commands that need no connection to the service. */
const LOCAL = new Set<Command['name']>(['help', 'quit', 'clear']);

/**
 * Runs commands one at a time against a session opened on first need. If the
 * service cannot be reached, each command that needs it fails on its own (and
 * the next one tries to connect again).
 */
export class CommandRunner {
  private session: Session | undefined;
  private connecting: Promise<Session> | undefined;
  traceOn = false;
  failed = 0;
  readonly config: Config;

  constructor(
    private readonly args: CliArgs,
    private readonly out: { result(line: string, r: CommandResult): void; trace(e: TraceEvent): void; note(msg: string): void },
    private readonly log: Logger | undefined,
  ) {
    this.config = configFor(args.profile);
  }

  /** The session, if one is open (for the prompt). */
  current(): Session | undefined {
    return this.session;
  }

  /** Connects now rather than at the first command (interactive use); failures are left to that command. */
  warmUp(): Promise<void> {
    return this.connect().then(
      () => undefined,
      () => undefined,
    );
  }

  private connect(): Promise<Session> {
    if (this.session) return Promise.resolve(this.session);
    this.connecting ??= Session.connect({
      naming: this.args.naming,
      user: userId(this.args.user),
      config: this.config,
      ...(this.args.secret ? { secret: this.args.secret } : {}),
      ...(this.args.frontend ? { preferFrontend: this.args.frontend } : {}),
      ...(this.log ? { log: this.log } : {}),
    })
      .then((s) => {
        this.session = s;
        s.on('frontend', (name, why) => this.out.note(name ? `now using front end ${name} (${why})` : `no front end reachable: ${why}`));
        s.on('naming', (up) => this.out.note(up ? 'naming service reachable again' : 'naming service unreachable; carrying on with the current front end'));
        s.on('trace', (e) => {
          // Empty gossip rounds happen many times a second; only gossip that carries something is shown.
          if (!this.traceOn || ((e.kind === 'gossipSent' || e.kind === 'gossipReceived') && e.records === 0)) return;
          this.out.trace(e);
        });
        return s;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** Parses and runs one line (or runs `parsed`, the command it stands for), reports the result, and says whether to stop (quit). */
  async run(line: string, parsed?: Command): Promise<{ quit: boolean; result: CommandResult }> {
    const c = parsed ?? parseCommand(line);
    let result: CommandResult;
    if ('error' in c) {
      result = { kind: 'error', code: 'USAGE', message: c.error, hint: c.hint };
    } else if (LOCAL.has(c.name) || confirmationFor(c) !== undefined) {
      // An unconfirmed forget-user fails here without touching the service (runCommand says how to confirm).
      result = await runCommand(undefined as never, c);
    } else {
      let s: Session | undefined;
      try {
        s = await this.connect();
      } catch (e) {
        result = {
          kind: 'error',
          code: 'UNAVAILABLE',
          message: `cannot reach the service through ${this.args.naming}: ${(e as Error).message}`,
          hint: 'check --naming (bin/main.sh prints the URL of the cluster it starts) and try again in a moment',
        };
      }
      if (s) {
        result = await runCommand(s, c);
        if (c.name === 'trace' && result.kind === 'trace') this.traceOn = result.on;
      }
    }
    if (!isSuccess(result!)) this.failed++;
    this.out.result(line, result!);
    return { quit: result!.kind === 'quit', result: result! };
  }

  async close(): Promise<void> {
    const s = this.session ?? (await this.connecting?.catch(() => undefined));
    this.session = undefined;
    await s?.close();
  }
}

/** True for lines that are not commands: blank, or a `#` comment. */
export function isSkippable(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

/** Set while the line prompt is shown: prints a line above it without garbling what is being typed. */
let printAbovePrompt: ((text: string) => void) | undefined;

/**
 * The interactive mode: a plain line prompt until quit, Ctrl-D or Ctrl-C.
 * With `ask` (not --json), a command that cannot be undone asks first and
 * the next line is the answer: only y runs it.
 */
export async function interactive(runner: CommandRunner, user: number, ask = true): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true, historySize: 200 });
  const prompt = () => {
    rl.setPrompt(`u${user}@${runner.current()?.frontend() ?? '…'}> `);
    rl.prompt();
  };
  process.stdout.write('hearsay client: type help for the commands, quit to leave\n');
  await runner.warmUp();
  let busy = false;
  printAbovePrompt = (text) => {
    if (busy) {
      process.stdout.write(text);
      return;
    }
    process.stdout.write('\r\x1b[2K');
    process.stdout.write(text);
    rl.prompt(true);
  };
  prompt();
  let stop = false;
  rl.on('SIGINT', () => {
    stop = true;
    rl.close();
  });
  let asked: { line: string; command: Command } | undefined;
  try {
    for await (const line of rl) {
      if (asked) {
        const a = asked;
        asked = undefined;
        if (isYes(line)) {
          busy = true;
          await runner.run(a.line, confirmed(a.command));
          busy = false;
        } else {
          process.stdout.write(`${cancelledText(a.command)} (only y confirms)\n`);
        }
        prompt();
        continue;
      }
      const c = ask && !isSkippable(line) ? parseCommand(line) : undefined;
      const question = c && !('error' in c) ? confirmationFor(c) : undefined;
      if (c && !('error' in c) && question) {
        asked = { line, command: c };
        rl.setPrompt(`${question} `);
        rl.prompt();
        continue;
      }
      if (!isSkippable(line)) {
        busy = true;
        const { quit } = await runner.run(line);
        busy = false;
        if (quit) {
          stop = true;
          break;
        }
      }
      if (stop) break;
      prompt();
    }
  } finally {
    printAbovePrompt = undefined;
    rl.close();
  }
}

function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

/** Runs the client; resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCliArgs(argv, process.env);
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if ('error' in parsed) {
    process.stderr.write(`client: ${parsed.error}\n${USAGE}\n`);
    return 2;
  }
  const args = parsed;
  const tty = process.stdin.isTTY === true && args.exec.length === 0;
  if (tty && process.stdout.isTTY === true && !args.json && !args.plain) {
    // A person at a terminal gets the full-screen UI (src/client/ui).
    return runUiClient({ naming: args.naming, user: args.user, profile: args.profile, secret: args.secret, frontend: args.frontend });
  }
  const pending: Promise<void>[] = [];
  const out = {
    result(line: string, r: CommandResult) {
      if (args.json) {
        pending.push(writeOut(`${JSON.stringify({ command: line, ok: isSuccess(r), result: r })}\n`));
      } else if (r.kind === 'clear') {
        if (tty) pending.push(writeOut('\x1b[2J\x1b[H'));
      } else {
        pending.push(writeOut(`${formatResult(r)}\n`));
      }
    },
    trace(e: TraceEvent) {
      if (args.json) return;
      const line = `  · ${formatTrace(e)}\n`;
      if (printAbovePrompt) printAbovePrompt(line);
      else pending.push(writeOut(line));
    },
    note(msg: string) {
      process.stderr.write(`client: ${sanitize(msg)}\n`);
    },
  };
  const runner = new CommandRunner(args, out, args.verbose ? stderrLogger('client') : undefined);
  try {
    if (args.exec.length > 0) {
      for (const line of args.exec) {
        if ((await runner.run(line)).quit) break;
      }
    } else if (tty) {
      await interactive(runner, args.user, !args.json);
    } else {
      const rl = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
      for await (const line of rl) {
        if (isSkippable(line)) continue;
        if ((await runner.run(line)).quit) break;
      }
      rl.close();
    }
  } finally {
    await runner.close();
    await Promise.all(pending);
  }
  return runner.failed > 0 ? 1 : 0;
}
