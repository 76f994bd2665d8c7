/**
 * bin/replica --naming URL [--name N] [--data FILE] [--no-random-status]
 *             [--host H] [--port P] [--advertise URL] [--profile default|test] [--secret S]
 *             [--voters rm1,rm2,rm3] [--state-dir DIR]
 *
 * Runs one replica manager. Prints `hearsay replica <name> ready at <url>` on
 * stdout once it is listening, registered with naming and its core exists;
 * logs go to stderr. Exit status: 0 after SIGTERM/SIGINT, 2 bad flags, 1 could
 * not start, 70 its state broke (a replica core invariant failed).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configFor, profiles } from '../core/config.js';
import { memberNameSchema, urlSchema } from '../core/schemas.js';
import { stderrLogger } from '../core/sockets.js';
import { checkVoters, MAX_REPLICA_NAME, MAX_VOTERS, startReplica, type ReplicaHandle } from './server.js';
import { exitOnSignals, isMain } from '../core/process.js';

/** data/data.sqlite of this checkout (dist/src/replica/main.js or src/replica/main.ts → repository root). */
function defaultDataFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '../../..') : path.resolve(here, '../..');
  return path.join(root, 'data', 'data.sqlite');
}

export const USAGE = `usage: replica --naming URL [--name N] [--data FILE] [--no-random-status]
               [--host H] [--port P] [--advertise URL] [--profile ${Object.keys(profiles).join('|')}] [--secret S]
               [--voters N1,N2,...] [--state-dir DIR]

Runs one hearsay replica manager: it registers with the naming service,
serves queries and updates to front ends and gossips with the other replicas.

  --naming URL        the naming service (required)
  --name N            this replica's name (default rm-<random>; at most ${MAX_REPLICA_NAME} characters)
  --data FILE         the data file every replica starts from (default data/data.sqlite)
  --no-random-status  keep the status ACTIVE unless set by command (the test profile
                      has no random changes either); with random changes on, a
                      status set by command holds for 60 s before they resume
  --host H            address to listen on (default 127.0.0.1)
  --port P            port to listen on (default 0: any free port)
  --advertise URL     the URL others should use (default http://<host>:<port>)
  --profile NAME      timing profile (default: default)
  --secret S          cluster secret (default: env HEARSAY_SECRET)
  --voters N1,N2,...  names of the replicas that elect the primary, which sequences
                      forced updates (addMovie) and immediate ones (forgetUser): the
                      same list on every replica, this replica's own name included
                      for it to take part (at most ${MAX_VOTERS}). Without it forced and
                      immediate updates are refused with NO_PRIMARY
  --state-dir DIR     folder for the primary's term, vote and log, kept in
                      DIR/<name>.primary.json across restarts (created if missing).
                      Without it that state lives in memory only and a restarted
                      replica could forget a vote it gave (a warning is printed)

Prints "hearsay replica <name> ready at <url>" when ready. Exit status: 0 after
SIGTERM/SIGINT, 2 bad flags, 1 could not start, 70 internal state broken.`;

export interface ReplicaArgs {
  naming: string;
  name: string;
  data: string;
  randomStatus: boolean | undefined;
  host: string;
  port: number;
  advertise?: string | undefined;
  profile: keyof typeof profiles;
  secret?: string | undefined;
  voters: string[];
  stateDir?: string | undefined;
}

/** Parses the command line; returns an error message for bad flags, or 'help'. */
export function parseReplicaArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ReplicaArgs | { error: string } | 'help' {
  const flags = new Map<string, string>();
  let randomStatus: boolean | undefined;
  const known = new Set(['naming', 'name', 'data', 'host', 'port', 'advertise', 'profile', 'secret', 'voters', 'state-dir']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--no-random-status') {
      randomStatus = false;
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : '';
    if (!known.has(key)) return { error: `unknown argument "${a}"` };
    if (flags.has(key)) return { error: `--${key} given twice` };
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) return { error: `--${key} needs a value` };
    flags.set(key, value);
  }
  const naming = flags.get('naming');
  if (naming === undefined) return { error: '--naming URL is required' };
  if (!urlSchema.safeParse(naming).success) return { error: `--naming must be an http(s) URL, got "${naming}"` };
  const name = flags.get('name') ?? `rm-${randomBytes(3).toString('hex')}`;
  if (!memberNameSchema.safeParse(name).success || name.length > MAX_REPLICA_NAME) {
    return { error: `--name "${name}": names use 1 to ${MAX_REPLICA_NAME} letters, digits and . _ : -` };
  }
  const portText = flags.get('port') ?? '0';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) return { error: `--port must be 0 to 65535, got "${portText}"` };
  const host = flags.get('host') ?? '127.0.0.1';
  if (!host) return { error: '--host needs an address' };
  const advertise = flags.get('advertise');
  if (advertise !== undefined && !urlSchema.safeParse(advertise).success) return { error: `--advertise must be an http(s) URL, got "${advertise}"` };
  const profile = flags.get('profile') ?? 'default';
  if (!Object.hasOwn(profiles, profile)) return { error: `--profile must be one of ${Object.keys(profiles).join(', ')}, got "${profile}"` };
  const data = flags.get('data') ?? defaultDataFile();
  if (!data) return { error: '--data needs a file' };
  const secret = flags.get('secret') ?? env.HEARSAY_SECRET;
  const votersText = flags.get('voters');
  const voters = votersText === undefined ? [] : votersText.split(',').map((v) => v.trim());
  if (votersText !== undefined) {
    const bad = votersText.trim() === '' ? 'give at least one name' : checkVoters(voters);
    if (bad) return { error: `--voters: ${bad}` };
  }
  const stateDir = flags.get('state-dir');
  if (stateDir !== undefined && !stateDir) return { error: '--state-dir needs a folder' };
  return {
    naming: naming.replace(/\/+$/, ''),
    name,
    data,
    randomStatus,
    host,
    port,
    advertise: advertise?.replace(/\/+$/, ''),
    profile: profile as keyof typeof profiles,
    secret: secret || undefined,
    voters,
    stateDir,
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseReplicaArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if ('error' in args) {
    process.stderr.write(`replica: ${args.error}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const log = stderrLogger(`replica[${args.name}]`);
  let handle: ReplicaHandle;
  try {
    handle = await startReplica({
      name: args.name,
      naming: args.naming,
      dataFile: args.data,
      host: args.host,
      port: args.port,
      ...(args.advertise ? { advertise: args.advertise } : {}),
      config: configFor(args.profile),
      ...(args.secret ? { secret: args.secret } : {}),
      log,
      ...(args.randomStatus !== undefined ? { randomStatus: args.randomStatus } : {}),
      voters: args.voters,
      ...(args.stateDir !== undefined ? { stateDir: args.stateDir } : {}),
    });
  } catch (e) {
    log.error(`could not start: ${(e as Error).message}`);
    process.exit(1);
  }
  exitOnSignals(log, () => handle.close());
  process.stdout.write(`hearsay replica ${handle.name} ready at ${handle.url}\n`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
