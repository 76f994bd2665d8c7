/**
 * Tools for fuzzing the components' socket endpoints from the outside
 * (tests/fuzz): hostile payload generators (fast-check), a raw emitter that
 * sends any arguments with or without an acknowledgement, and a way to read
 * a process's resident memory.
 *
 * socket.io serialises arguments as JSON (with binary parts for Buffers), so
 * the payloads are JSON-shaped: anything fast-check makes minus BigInt and
 * typed arrays, which socket.io cannot send, plus strings with every kind of
 * control and surrogate character.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { connected } from '../src/core/sockets.js';

/** Any JSON-ish value: objects (also with odd keys like __proto__), arrays, strings, numbers, null. */
export const junk: fc.Arbitrary<unknown> = fc.anything({
  maxDepth: 4,
  maxKeys: 8,
  withBoxedValues: false,
  withMap: true,
  withSet: true,
  withObjectString: true,
  withNullPrototype: true,
  withDate: true,
  withSparseArray: true,
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'ok', 'kind', 'type', 'msg', 'from')),
});

/** Payloads that are not objects at all. */
export const nonObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(junk, { maxLength: 5 }),
);

/** Numbers at and beyond every edge. */
const edgeNumber = fc.constantFrom(-1, 0, 0.5, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY);
/** Strings that are long, empty, or full of controls and lone surrogates. */
const edgeString = fc.oneof(
  fc.constantFrom('', ' ', '\u0000', '\ud800', '\x1b[2J', "'; DROP TABLE ratings; --", 'x'.repeat(5000)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const edgeValue: fc.Arbitrary<unknown> = fc.oneof(edgeNumber, edgeString, fc.constant(null), fc.constant([]), fc.constant({}), fc.boolean(), junk);

/**
 * Type confusion around a valid payload: each field kept, dropped, or
 * replaced by a value of another type, possibly nested one level, and
 * unknown fields added.
 */
export function confuse(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template);
  const field = (k: string): fc.Arbitrary<unknown> => {
    const v = template[k];
    const nested = v !== null && typeof v === 'object' && !Array.isArray(v) ? [confuse(v as Record<string, unknown>)] : [];
    return fc.oneof(fc.constant(v), edgeValue, ...nested);
  };
  return fc
    .tuple(
      fc.tuple(...keys.map((k) => fc.tuple(fc.constant(k), fc.boolean(), field(k)))),
      fc.dictionary(fc.string({ maxLength: 10 }), edgeValue, { maxKeys: 3 }),
    )
    .map(([fields, extra]) => {
      const out: Record<string, unknown> = { ...extra };
      for (const [k, keep, v] of fields) if (keep) out[k] = v;
      return out;
    });
}

/** Every kind of bad payload for an event whose valid payload looks like `template`. */
export function hostile(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: confuse(template) }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: nonObject });
}

export async function connect(url: string, secret?: string | undefined, timeoutMs = 5000): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], auth: secret ? { secret } : {}, reconnection: false, timeout: timeoutMs, forceNew: true });
  await connected(s, url, timeoutMs + 1000);
  return s;
}

export type Outcome = { readonly kind: 'reply'; readonly reply: unknown } | { readonly kind: 'timeout' } | { readonly kind: 'disconnected' };

/** Emits `event` with exactly these arguments, plus an acknowledgement if `ack`; waits for the reply. */
export function emitRaw(s: Socket, event: string, args: readonly unknown[], ack: boolean, timeoutMs = 8000): Promise<Outcome> {
  if (!ack) {
    s.emit(event, ...args);
    return Promise.resolve({ kind: 'reply', reply: undefined });
  }
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.off('disconnect', onDisconnect);
      resolve(o);
    };
    const onDisconnect = () => finish({ kind: 'disconnected' });
    const t = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    s.once('disconnect', onDisconnect);
    s.emit(event, ...args, (reply: unknown) => finish({ kind: 'reply', reply }));
  });
}

/** An error reply as the protocol defines it: `{ok: false, code, message}`. */
export function isErrorReply(r: unknown): r is { ok: false; code: string; message: string } {
  const x = r as Record<string, unknown> | null;
  return !!x && typeof x === 'object' && x.ok === false && typeof x.code === 'string' && typeof x.message === 'string';
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** A process is alive if signal 0 reaches it. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a payload looks like after socket.io's JSON round trip (what the server's schema sees). */
export function onTheWire(x: unknown): unknown {
  if (x === undefined) return null;
  const text = JSON.stringify(x);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

export interface EndpointSpec {
  readonly event: string;
  /** A valid payload: type confusion starts from it. */
  readonly template: Record<string, unknown>;
  /** The server's schema for the payload (zod-like). */
  readonly schema: { safeParse(x: unknown): { success: boolean } };
  /** The event needs the cluster secret. */
  readonly member?: boolean | undefined;
  /**
   * Send only payloads the schema refuses (for events whose valid payloads
   * would change what the test relies on, e.g. a registration that then
   * expires and closes the connection).
   */
  readonly invalidOnly?: boolean | undefined;
}

export interface FuzzStats {
  sent: number;
  errorReplies: number;
  okReplies: number;
}

/**
 * Sends `runs` hostile payloads to one event and checks every answer: a
 * reply always comes (within `timeoutMs`), it is `{ok: boolean, …}`, and a
 * payload the schema refuses gets `{ok: false, code: 'BAD_REQUEST'}` (or
 * UNAUTHORIZED when the event needs the secret and the socket has none).
 * Throws with the offending payload otherwise.
 */
export async function fuzzEvent(s: Socket, spec: EndpointSpec, o: { runs: number; seed: number; hasSecret: boolean; timeoutMs?: number }, stats: FuzzStats): Promise<void> {
  const payloads = spec.invalidOnly ? hostile(spec.template).filter((p) => !spec.schema.safeParse(onTheWire(p) ?? {}).success) : hostile(spec.template);
  const details = await fc.check(
    fc.asyncProperty(payloads, async (payload) => {
      const out = await emitRaw(s, spec.event, [payload], true, o.timeoutMs ?? 8000);
      stats.sent++;
      if (out.kind !== 'reply') throw new Error(`${spec.event}: ${out.kind} for payload ${JSON.stringify(onTheWire(payload))?.slice(0, 300)}`);
      const r = out.reply as Record<string, unknown> | null;
      if (!r || typeof r !== 'object' || typeof r.ok !== 'boolean') throw new Error(`${spec.event}: malformed reply ${JSON.stringify(r)?.slice(0, 200)}`);
      if (r.ok) stats.okReplies++;
      else stats.errorReplies++;
      if (spec.member && !o.hasSecret) {
        if (!isErrorReply(r) || r.code !== 'UNAUTHORIZED') throw new Error(`${spec.event} without the secret answered ${JSON.stringify(r).slice(0, 200)}`);
        return;
      }
      const wire = onTheWire(payload);
      if (!spec.schema.safeParse(wire ?? {}).success) {
        if (!isErrorReply(r) || r.code !== 'BAD_REQUEST') {
          throw new Error(`${spec.event}: invalid payload ${JSON.stringify(wire)?.slice(0, 300)} answered ${JSON.stringify(r).slice(0, 200)}`);
        }
      } else if (!r.ok && !isErrorReply(r)) {
        throw new Error(`${spec.event}: malformed error reply ${JSON.stringify(r).slice(0, 200)}`);
      }
    }),
    { numRuns: o.runs, seed: o.seed, endOnFailure: true },
  );
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${why} (fast-check seed ${o.seed}, after ${details.numRuns} run(s))`);
  }
}

/**
 * Wrong arity and out-of-order argument shapes for one event: no payload,
 * several payloads, the acknowledgement missing, a non-function in its
 * place. Every call that carries an acknowledgement must be answered.
 */
export async function fuzzArity(s: Socket, event: string, template: Record<string, unknown>, stats: FuzzStats): Promise<void> {
  const shapes: { args: unknown[]; ack: boolean }[] = [
    { args: [], ack: true },
    { args: [template, template], ack: true },
    { args: [template, 'extra', 42, null], ack: true },
    { args: [null], ack: true },
    { args: [[template]], ack: true },
    { args: [template], ack: false },
    { args: [], ack: false },
    { args: [template, 'not a function'], ack: false },
  ];
  for (const shape of shapes) {
    const out = await emitRaw(s, event, shape.args, shape.ack);
    stats.sent++;
    if (shape.ack && out.kind !== 'reply') throw new Error(`${event} with ${shape.args.length} argument(s): ${out.kind}`);
    if (shape.ack) {
      const r = out.kind === 'reply' ? (out.reply as Record<string, unknown> | null) : null;
      if (!r || typeof r.ok !== 'boolean') throw new Error(`${event} with ${shape.args.length} argument(s): malformed reply ${JSON.stringify(r)}`);
      if (r.ok) stats.okReplies++;
      else stats.errorReplies++;
    }
  }
}

export interface MemoryResult {
  readonly ok: boolean;
  /** RSS after the warm-up and after each later chunk, in bytes. */
  readonly samples: readonly number[];
  readonly growth: number;
  readonly boundBytes: number;
  readonly calls: number;
  readonly describe: string;
}

/**
 * Runs `warmup` calls, then `chunks` × `perChunk` more, sampling the
 * process's RSS after each chunk (each after a short pause, so pending
 * replies and log writes settle). The growth is the median of the last
 * three samples minus the median of the first three: V8 grows and shrinks
 * its heap in steps of several MiB as garbage comes and goes (every refused
 * request makes an error object and a log line), so single samples are
 * noisy, while a leak keeps climbing from chunk to chunk.
 *
 * Why the default bound (24 MiB over 24,000 calls): anything a server
 * keeps per request (the payload, a parsed packet, a map entry, a pending
 * reply, a timer) costs at least ~1 KiB on the V8 heap, so a per-call leak
 * adds 24 MiB or more; a healthy process's steady-state RSS wanders by less
 * (measured on the naming service: 96–122 MiB over 60,000 refused calls,
 * not trending; 77.8–77.9 MiB for 60,000 good ones).
 */
export async function measureMemory(o: {
  pid: number;
  send: (i: number) => Promise<void>;
  warmup?: number;
  chunks?: number;
  perChunk?: number;
  boundBytes?: number;
}): Promise<MemoryResult> {
  const warmup = o.warmup ?? 5000;
  const chunks = Math.max(6, o.chunks ?? 8);
  const perChunk = o.perChunk ?? 3000;
  const bound = o.boundBytes ?? 24 * 1024 * 1024;
  const pause = () => new Promise((r) => setTimeout(r, 300));
  let i = 0;
  const batch = async (n: number) => {
    // A few calls in flight at once, as several clients would send them.
    const lanes = 8;
    const end = i + n;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (i < end) await o.send(i++);
      }),
    );
  };
  await batch(warmup);
  const samples: number[] = [];
  for (let c = 0; c < chunks; c++) {
    await batch(perChunk);
    await pause();
    samples.push(rssOf(o.pid));
  }
  const median3 = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  const growth = median3(samples.slice(-3)) - median3(samples.slice(0, 3));
  const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)}`;
  return {
    ok: growth <= bound,
    samples,
    growth,
    boundBytes: bound,
    calls: i,
    describe: `RSS ${samples.map(mib).join(' → ')} MiB over ${chunks * perChunk} calls after ${warmup} warm-up calls: ${growth >= 0 ? '+' : ''}${mib(growth)} MiB (median of the last 3 samples − of the first 3; bound ${mib(bound)} MiB)`,
  };
}
