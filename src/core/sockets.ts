/**
 * The one way a socket.io event reaches our code: `handle` validates the
 * payload, runs the handler, and turns every failure into an error reply and
 * a log line. socket.io kills the process on a throwing or rejecting
 * listener, so no listener is ever registered without it.
 */
import type { z } from 'zod';
import { OpError, type OpErrorCode } from './ops.js';
import type { ErrorReply } from './protocol.js';
import { describeIssues } from './schemas.js';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Who is on the other end of a socket: a cluster member (knows the secret) or a client. */
export type Role = 'member' | 'client';

export interface HandleOptions<S extends z.ZodType, R> {
  readonly event: string;
  readonly schema: S;
  readonly log: Logger;
  /** Where the call comes from, for log lines (e.g. the socket's address). */
  readonly peer: () => string;
  /** If set, callers without this role are refused with UNAUTHORIZED. */
  readonly requires?: Role | undefined;
  readonly role?: (() => Role) | undefined;
  readonly run: (payload: z.output<S>) => R | Promise<R>;
}

export function errorReply(code: OpErrorCode, message: string): ErrorReply {
  return { ok: false, code, message };
}

/**
 * Builds a listener. The last argument, if a function, is the ack; a reply is
 * sent through it exactly once. Handlers for events without an ack return
 * nothing useful and their failures are only logged.
 */
export function handle<S extends z.ZodType, R>(o: HandleOptions<S, R>): (...args: unknown[]) => void {
  return (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (r: unknown) => void) : undefined;
    let replied = false;
    const reply = (r: unknown) => {
      if (replied || !ack) return;
      replied = true;
      try {
        ack(r);
      } catch (e) {
        o.log.error(`${o.event}: sending the reply failed: ${(e as Error).message}`);
      }
    };
    try {
      if (o.requires === 'member' && o.role?.() !== 'member') {
        o.log.warn(`${o.event} from ${o.peer()} refused: no valid cluster secret`);
        reply(errorReply('UNAUTHORIZED', `${o.event} needs the cluster secret`));
        return;
      }
      const payload = ack ? args.slice(0, -1)[0] : args[0];
      const parsed = o.schema.safeParse(payload ?? {});
      if (!parsed.success) {
        const why = describeIssues(parsed.error);
        o.log.warn(`${o.event} from ${o.peer()}: invalid payload: ${why}`);
        reply(errorReply('BAD_REQUEST', `invalid ${o.event} request: ${why}`));
        return;
      }
      const out = o.run(parsed.data);
      if (out instanceof Promise) {
        out.then(reply, (e: unknown) => reply(failureOf(o, e)));
      } else {
        reply(out);
      }
    } catch (e) {
      reply(failureOf(o, e));
    }
  };
}

function failureOf(o: { event: string; log: Logger; peer: () => string }, e: unknown): ErrorReply {
  if (e instanceof OpError) return errorReply(e.code, e.message);
  const err = e instanceof Error ? e : new Error(String(e));
  o.log.error(`${o.event} from ${o.peer()} failed: ${err.stack ?? err.message}`);
  return errorReply('INTERNAL', `internal error while handling ${o.event}; see the component's log`);
}

/** A logger that writes timestamped lines to stderr, prefixed with a component name. */
export function stderrLogger(component: string): Logger {
  const line = (level: string, msg: string) => process.stderr.write(`${new Date().toISOString()} ${component} ${level} ${msg}\n`);
  return { info: (m) => line('info', m), warn: (m) => line('warn', m), error: (m) => line('error', m) };
}

/** The part of a socket.io client socket that `connected` needs. */
interface Connectable {
  readonly connected: boolean;
  once(event: 'connect', listener: () => void): unknown;
  once(event: 'connect_error', listener: (err: Error) => void): unknown;
  off(event: 'connect' | 'connect_error', listener?: (...args: never[]) => void): unknown;
}

/**
 * Resolves once the client socket `s` is connected; rejects with a message
 * naming `what` on a connection error (for a socket without reconnection) or
 * when `ms` pass first. The wait every caller needs before its first emit.
 */
export function connected(s: Connectable, what: string, ms = 5000): Promise<void> {
  if (s.connected) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      s.off('connect', onConnect);
      s.off('connect_error', onError);
    };
    const onConnect = () => {
      done();
      resolve();
    };
    const onError = (e: Error) => {
      done();
      reject(new Error(`cannot connect to ${what}: ${e.message}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`cannot connect to ${what}: no connection within ${ms} ms`));
    }, ms);
    s.once('connect', onConnect);
    s.once('connect_error', onError);
  });
}
