/** Command line of the front end binary (main.ts). */
import { profiles } from '../core/config.js';
import { memberNameSchema, urlSchema } from '../core/schemas.js';

export const USAGE = `usage: frontend --naming URL [--name N] [--host H] [--port P] [--advertise URL]
                [--profile ${Object.keys(profiles).join('|')}] [--secret S]

Runs one hearsay front end: clients send it queries and updates; it sends
each to two replicas found through the naming service and answers the client.

  --naming URL     the naming service (required)
  --name N         this front end's name (default fe-<random>)
  --host H         address to listen on (default 127.0.0.1)
  --port P         port to listen on (default 0: any free port)
  --advertise URL  URL clients should use (default http://<host>:<port>)
  --profile P      timing profile (default: default)
  --secret S       cluster secret (default: $HEARSAY_SECRET)`;

export interface FrontendArgs {
  naming: string;
  name: string;
  host: string;
  port: number;
  advertise?: string | undefined;
  profile: string;
  secret?: string | undefined;
}

/** Parses the command line; returns an error message for bad flags. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): FrontendArgs | { error: string } | { help: true } {
  const flags = new Map<string, string>();
  const known = new Set(['naming', 'name', 'host', 'port', 'advertise', 'profile', 'secret']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const key = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : '';
    if (a === '--help' || a === '-h') return { help: true };
    if (!known.has(key)) return { error: `unknown argument "${a}"` };
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) return { error: `--${key} needs a value` };
    flags.set(key, value);
  }
  const naming = flags.get('naming');
  if (naming === undefined) return { error: '--naming URL is required' };
  if (!urlSchema.safeParse(naming).success) return { error: `--naming must be an http(s) URL, got "${naming}"` };
  const name = flags.get('name') ?? `fe-${Math.random().toString(36).slice(2, 7)}`;
  if (!memberNameSchema.safeParse(name).success) return { error: `--name "${name}": names use letters, digits and . _ : - (at most 64)` };
  const portText = flags.get('port') ?? '0';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) return { error: `--port must be 0 to 65535, got "${portText}"` };
  const advertise = flags.get('advertise');
  if (advertise !== undefined && !urlSchema.safeParse(advertise).success) return { error: `--advertise must be an http(s) URL, got "${advertise}"` };
  const profile = flags.get('profile') ?? 'default';
  if (!(profile in profiles)) return { error: `--profile must be one of ${Object.keys(profiles).join(', ')}, got "${profile}"` };
  const secret = flags.get('secret') ?? env.HEARSAY_SECRET;
  return { naming, name, host: flags.get('host') ?? '127.0.0.1', port, advertise, profile, secret: secret || undefined };
}

