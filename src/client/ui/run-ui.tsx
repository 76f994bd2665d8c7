/**
 * Entry point of the terminal UI: `runUi(session, opts)` draws the screen
 * until the user quits (quit, ctrl-c, ctrl-d on an empty line, or SIGTERM),
 * then closes the session and gives the terminal back as it was.
 *
 * Nothing but the screen is written to the terminal: log lines go to a file
 * (`opts.logPath`, default `.run/client-ui.log`; null for none), so a stack
 * trace can never land on the screen. The session should be given the same
 * logger (`fileLogger`) when it is created, for the same reason.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { render } from 'ink';
import { configFor } from '../../core/config.js';
import { userId } from '../../core/ids.js';
import type { Logger } from '../../core/sockets.js';
import { Session } from '../session.js';
import { App } from './App.js';
import { historyPath, loadHistory } from './history.js';
import type { UiSession } from './types.js';

export interface UiOptions {
  /** Log file; null writes no log. Default `.run/client-ui.log`. */
  readonly logPath?: string | null | undefined;
  /** History file; null keeps none. Default `$HEARSAY_HISTORY` or `~/.hearsay_history`. */
  readonly historyPath?: string | null | undefined;
  /** Colour on/off; default: on unless NO_COLOR is set (to anything but ""). */
  readonly color?: boolean | undefined;
  /** Start with the trace panel shown. */
  readonly trace?: boolean | undefined;
  readonly stdin?: NodeJS.ReadStream | undefined;
  readonly stdout?: NodeJS.WriteStream | undefined;
}

export const DEFAULT_UI_LOG = '.run/client-ui.log';

/** Whether colour may be used: https://no-color.org (present and not empty disables it). */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['NO_COLOR'];
  return v === undefined || v === '';
}

/** A logger that appends timestamped lines to a file; it never throws (a failing log is not worth a crash). */
export function fileLogger(file: string | null, component = 'client-ui'): Logger {
  if (file === null) return { info: () => {}, warn: () => {}, error: () => {} };
  let ok = true;
  try {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  } catch {
    ok = false;
  }
  const write = (level: string, msg: string) => {
    if (!ok) return;
    try {
      appendFileSync(file, `${new Date().toISOString()} ${component} ${level} ${msg}\n`, { mode: 0o600 });
    } catch {
      ok = false;
    }
  };
  return { info: (m) => write('info', m), warn: (m) => write('warn', m), error: (m) => write('error', m) };
}

const ENTER_ALT_SCREEN = '\x1b[?1049h';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

export async function runUi(session: UiSession, opts: UiOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  const log = fileLogger(opts.logPath === undefined ? DEFAULT_UI_LOG : opts.logPath);
  const histFile = opts.historyPath === undefined ? historyPath() : opts.historyPath;
  const history = histFile ? loadHistory(histFile) : [];
  const color = opts.color ?? colorAllowed();
  const alt = stdout.isTTY === true;
  // The alternate screen keeps the user's scrollback intact; it is left again on every way out.
  if (alt) stdout.write(ENTER_ALT_SCREEN);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (alt) stdout.write(LEAVE_ALT_SCREEN);
  };
  process.once('exit', restore);
  // Anything a library prints with console.* would tear the screen: it goes to the log instead.
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  const toLog = (level: 'info' | 'warn' | 'error') => (...args: unknown[]) => log[level](args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(' '));
  console.log = toLog('info');
  console.info = toLog('info');
  console.debug = toLog('info');
  console.warn = toLog('warn');
  console.error = toLog('error');
  const instance = render(<App session={session} history={history} historyFile={histFile ?? undefined} log={log} color={color} traceOn={opts.trace ?? false} />, {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  const onSignal = (sig: NodeJS.Signals) => {
    log.info(`${sig}: closing`);
    session
      .close()
      .catch(() => {})
      .finally(() => instance.unmount());
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  try {
    await instance.waitUntilExit();
  } catch (e) {
    log.error(`the screen failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    instance.cleanup();
    restore();
    process.off('exit', restore);
    Object.assign(console, saved);
    await session.close().catch(() => {});
  }
}

export interface UiClientOptions {
  readonly naming: string;
  readonly user: number;
  readonly profile?: string | undefined;
  readonly secret?: string | undefined;
  /** Preferred front end. */
  readonly frontend?: string | undefined;
  /** Log file for the session and the screen; default `$HEARSAY_UI_LOG` or `.run/client-ui.log`. */
  readonly logPath?: string | null | undefined;
  readonly trace?: boolean | undefined;
}

/**
 * The whole interactive client: connects a session (logging to the UI's log
 * file, never to the terminal), runs the screen until the user quits, closes
 * the session. Resolves with an exit status: 0 after quit, 1 when the service
 * could not be reached (the reason is printed on stderr).
 */
export async function runUiClient(o: UiClientOptions): Promise<number> {
  const logPath = o.logPath === undefined ? process.env['HEARSAY_UI_LOG'] || DEFAULT_UI_LOG : o.logPath;
  const log = fileLogger(logPath, 'client');
  let session: Session;
  try {
    session = await Session.connect({
      naming: o.naming,
      user: userId(o.user),
      config: configFor(o.profile),
      log,
      ...(o.secret ? { secret: o.secret } : {}),
      ...(o.frontend ? { preferFrontend: o.frontend } : {}),
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    log.error(`cannot reach the service through ${o.naming}: ${why}`);
    process.stderr.write(`client: cannot reach the service through ${o.naming}: ${why}\n`);
    return 1;
  }
  await runUi(session, { logPath, trace: o.trace });
  return 0;
}
