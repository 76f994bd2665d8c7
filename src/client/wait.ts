/**
 * Waits until the naming service lists enough front ends and replicas, by
 * asking it (a watch: the naming service tells us every change), with a
 * deadline. Used by bin/main.sh and by tests.
 *
 * As a program (dist/src/client/wait.js):
 *   wait --naming URL [--frontends F] [--replicas R] [--names a,b,...] [--timeout-ms T] [--profile P]
 * exits 0 once F front ends and R serving replicas (and every named member)
 * are registered, printing one line "ready: ..."; exits 3 at the deadline
 * with what is missing on stderr; 2 on bad flags.
 */
import { configFor, profiles, type Config } from '../core/config.js';
import type { Member, ReplicaMeta } from '../core/protocol.js';
import type { Logger } from '../core/sockets.js';
import { urlSchema } from '../core/schemas.js';
import { NamingClient } from '../naming/client.js';
import { isMain } from '../core/process.js';

export interface WaitOptions {
  naming: string;
  secret?: string | undefined;
  config: Config;
  /** At least this many front ends. */
  frontends?: number;
  /** At least this many replicas. */
  replicas?: number;
  /** Every one of these member names must be registered. */
  names?: readonly string[];
  /** Count only replicas that are serving (not still recovering). Default true. */
  serving?: boolean;
  timeoutMs: number;
  log?: Logger;
}

export interface WaitResult {
  readonly frontends: readonly Member[];
  readonly replicas: readonly Member[];
  /** Time from the call until the condition held. */
  readonly ms: number;
}

const QUIET: Logger = { info: () => {}, warn: () => {}, error: () => {} };

function isServing(m: Member): boolean {
  return (m.meta as Partial<ReplicaMeta>).phase !== 'recovering';
}

/** Resolves when the cluster is there; rejects at the deadline with an Error naming what is missing. */
export async function waitForMembers(o: WaitOptions): Promise<WaitResult> {
  const t0 = performance.now();
  const wantFe = o.frontends ?? 0;
  const wantRm = o.replicas ?? 0;
  const names = o.names ?? [];
  const serving = o.serving ?? true;
  const naming = new NamingClient({ url: o.naming, secret: o.secret, log: o.log ?? QUIET, config: o.config, connectTimeoutMs: o.timeoutMs });
  let last: Member[] | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<WaitResult>((resolve, reject) => {
      const check = (members: Member[]) => {
        last = members;
        const fes = members.filter((m) => m.kind === 'frontend');
        const rms = members.filter((m) => m.kind === 'replica' && (!serving || isServing(m)));
        const present = new Set(members.filter((m) => m.kind === 'frontend' || !serving || isServing(m)).map((m) => m.name));
        if (fes.length >= wantFe && rms.length >= wantRm && names.every((n) => present.has(n))) {
          resolve({ frontends: fes, replicas: rms, ms: performance.now() - t0 });
        }
      };
      timer = setTimeout(() => {
        const members = last;
        if (!members) {
          reject(new Error(`the naming service at ${o.naming} did not answer within ${o.timeoutMs} ms`));
          return;
        }
        const fes = members.filter((m) => m.kind === 'frontend').map((m) => m.name);
        const rms = members.filter((m) => m.kind === 'replica' && (!serving || isServing(m))).map((m) => m.name);
        const recovering = members.filter((m) => m.kind === 'replica' && serving && !isServing(m)).map((m) => m.name);
        const listed = new Set([...fes, ...rms]);
        const missing = names.filter((n) => !listed.has(n));
        reject(
          new Error(
            `after ${o.timeoutMs} ms the naming service lists ${fes.length}/${wantFe} front ends (${fes.join(', ') || 'none'}) and ` +
              `${rms.length}/${wantRm} serving replicas (${rms.join(', ') || 'none'})` +
              (recovering.length ? `; still recovering: ${recovering.join(', ')}` : '') +
              (missing.length ? `; not registered: ${missing.join(', ')}` : ''),
          ),
        );
      }, o.timeoutMs);
      naming.watch(undefined, check);
    });
  } finally {
    if (timer) clearTimeout(timer);
    await naming.close();
  }
}

// ---- program ------------------------------------------------------------------

const USAGE = `usage: wait --naming URL [--frontends F] [--replicas R] [--names a,b,...] [--timeout-ms T] [--profile P]`;

async function cli(argv: readonly string[]): Promise<number> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const key = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : '';
    if (!['naming', 'frontends', 'replicas', 'names', 'timeout-ms', 'profile'].includes(key)) {
      process.stderr.write(`wait: unknown argument "${a}"\n${USAGE}\n`);
      return 2;
    }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) {
      process.stderr.write(`wait: --${key} needs a value\n${USAGE}\n`);
      return 2;
    }
    flags.set(key, v);
  }
  const naming = flags.get('naming');
  const num = (k: string, d: number) => {
    const v = flags.get(k);
    return v === undefined ? d : /^\d+$/.test(v) ? Number(v) : NaN;
  };
  const fe = num('frontends', 0);
  const rm = num('replicas', 0);
  const timeoutMs = num('timeout-ms', 15_000);
  const profile = flags.get('profile') ?? 'default';
  if (!naming || !urlSchema.safeParse(naming).success || ![fe, rm, timeoutMs].every(Number.isFinite) || !(profile in profiles)) {
    process.stderr.write(`wait: bad arguments\n${USAGE}\n`);
    return 2;
  }
  const names = (flags.get('names') ?? '').split(',').filter(Boolean);
  try {
    const r = await waitForMembers({ naming, secret: process.env.HEARSAY_SECRET || undefined, config: configFor(profile), frontends: fe, replicas: rm, names, timeoutMs });
    process.stdout.write(`ready: ${r.frontends.length} front ends, ${r.replicas.length} replicas after ${Math.round(r.ms)} ms\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`wait: ${(e as Error).message}\n`);
    return 3;
  }
}

if (isMain(import.meta.url)) {
  cli(process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      process.stderr.write(`wait: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
