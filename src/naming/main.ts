/**
 * bin/naming [--host H] [--port P] [--advertise URL] [--name N] [--secret S] [--profile default|test]
 *
 * Runs the naming service. Prints `hearsay naming <name> ready at <url>` on
 * stdout once listening; logs go to stderr. Exits 0 on SIGTERM/SIGINT, 2 on
 * bad flags, 1 if it cannot start (e.g. the port is in use).
 */
import { configFor, profiles } from '../core/config.js';
import { stderrLogger } from '../core/sockets.js';
import { memberNameSchema, urlSchema } from '../core/schemas.js';
import { startNaming } from './server.js';
import { exitOnSignals, isMain } from '../core/process.js';

export const USAGE = `usage: naming [--host H] [--port P] [--advertise URL] [--name N] [--secret S] [--profile default|test]

Runs the hearsay naming service: replicas and front ends register here,
clients look front ends up here.

  --host H          address to listen on (default 127.0.0.1)
  --port P          port to listen on (default 0: any free port)
  --advertise URL   the URL others should use (default http://<host>:<port>)
  --name N          this service's name in its ready line (default naming)
  --secret S        cluster secret needed to register (default: env HEARSAY_SECRET;
                    none = anyone may register)
  --profile NAME    timing profile: default or test

Prints "hearsay naming <name> ready at <url>" when ready. Exit status: 0 after
SIGTERM/SIGINT, 2 bad flags, 1 could not start.`;

export interface NamingArgs {
  host: string;
  port: number;
  advertise?: string | undefined;
  name: string;
  secret?: string | undefined;
  profile: keyof typeof profiles;
}

/** Parses the command line; returns an error message for bad flags, or 'help'. */
export function parseNamingArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): NamingArgs | { error: string } | 'help' {
  const out: NamingArgs = { host: '127.0.0.1', port: 0, name: 'naming', profile: 'default', secret: env.HEARSAY_SECRET || undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return 'help';
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const takes = ['--host', '--port', '--advertise', '--name', '--secret', '--profile'];
    if (!takes.includes(flag)) return { error: `unknown argument ${a}` };
    let value: string | undefined;
    if (flag !== a) value = a.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) return { error: `${flag} needs a value` };
    switch (flag) {
      case '--host':
        if (!value) return { error: '--host needs an address' };
        out.host = value;
        break;
      case '--port': {
        const n = Number(value);
        if (!/^\d+$/.test(value) || n > 65535) return { error: `--port must be 0..65535, got ${value}` };
        out.port = n;
        break;
      }
      case '--advertise':
        if (!urlSchema.safeParse(value).success) return { error: `--advertise must be an http(s) URL, got ${value}` };
        out.advertise = value.replace(/\/+$/, '');
        break;
      case '--name':
        if (!memberNameSchema.safeParse(value).success) return { error: `--name: names use 1-64 letters, digits and . _ : -, got ${value}` };
        out.name = value;
        break;
      case '--secret':
        out.secret = value || undefined;
        break;
      case '--profile':
        if (!Object.hasOwn(profiles, value)) return { error: `--profile must be one of ${Object.keys(profiles).join(', ')}, got ${value}` };
        out.profile = value as keyof typeof profiles;
        break;
    }
  }
  return out;
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseNamingArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if ('error' in args) {
    process.stderr.write(`naming: ${args.error}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const log = stderrLogger(`naming[${args.name}]`);
  let handle: Awaited<ReturnType<typeof startNaming>> | undefined;
  // Before listening there is nothing to close; closing drops every member's connection.
  exitOnSignals(log, () => handle?.close());
  try {
    handle = await startNaming({ host: args.host, port: args.port, advertise: args.advertise, secret: args.secret, config: configFor(args.profile), log });
  } catch (e) {
    log.error(`could not start: ${(e as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(`hearsay naming ${args.name} ready at ${handle.url}\n`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
