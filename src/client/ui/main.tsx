/**
 * The terminal UI on its own, for a cluster that is already running:
 *
 *   node dist/src/client/ui/main.js --naming URL --user U [--frontend NAME] [--profile default|test] [--trace] [--log FILE]
 *
 * (bin/client runs the same screen when stdin and stdout are terminals.)
 * The cluster secret, needed only by `set`, is read from $HEARSAY_SECRET.
 * Exit status: 0 after quit, 1 if the service cannot be reached, 2 usage.
 */
import { profiles } from '../../core/config.js';
import { MAX_USER_ID } from '../../core/ids.js';
import { DEFAULT_UI_LOG, runUiClient } from './run-ui.js';

const USAGE = `usage: ui --naming URL --user U [--frontend NAME] [--profile ${Object.keys(profiles).join('|')}] [--trace] [--log FILE]`;

interface Args {
  naming: string;
  user: number;
  frontend?: string | undefined;
  profile: string;
  trace: boolean;
  log: string;
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): Args | string {
  const a: Partial<Args> & { trace: boolean } = { trace: false, profile: 'default', log: env['HEARSAY_UI_LOG'] || DEFAULT_UI_LOG, naming: env['HEARSAY_NAMING'] || undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--trace') {
      a.trace = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) return `${flag} needs a value`;
    switch (flag) {
      case '--naming':
        a.naming = value;
        break;
      case '--user':
        if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > MAX_USER_ID) return `--user must be a whole number from 1 to ${MAX_USER_ID}`;
        a.user = Number(value);
        break;
      case '--frontend':
        a.frontend = value;
        break;
      case '--profile':
        if (!(value in profiles)) return `--profile must be one of ${Object.keys(profiles).join(', ')}`;
        a.profile = value;
        break;
      case '--log':
        a.log = value;
        break;
      default:
        return `unknown argument "${flag}"`;
    }
  }
  if (!a.naming) return '--naming is required (or set HEARSAY_NAMING)';
  if (a.user === undefined) return '--user is required';
  return a as Args;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2), process.env);
  if (typeof args === 'string') {
    process.stderr.write(`ui: ${args}\n${USAGE}\n`);
    return 2;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write('ui: needs a terminal (stdin and stdout); for scripts use bin/client\n');
    return 2;
  }
  return runUiClient({
    naming: args.naming,
    user: args.user,
    profile: args.profile,
    secret: process.env['HEARSAY_SECRET'] || undefined,
    frontend: args.frontend,
    logPath: args.log,
    trace: args.trace,
  });
}

main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`ui: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
