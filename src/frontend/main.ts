/**
 * `bin/frontend --naming URL [--name N] [--host H] [--port P] [--advertise URL]
 *  [--profile default|test] [--secret S]`
 *
 * Prints `hearsay frontend <name> ready at <url>` on stdout once it listens
 * and is registered; logs go to stderr. Exits 0 on SIGTERM/SIGINT, 2 on bad
 * flags, 1 if it cannot start.
 */
import { configFor } from '../core/config.js';
import { stderrLogger } from '../core/sockets.js';
import { parseArgs, USAGE } from './args.js';
import { startFrontend } from './server.js';
import { exitOnSignals } from '../core/process.js';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), process.env);
  if ('help' in args) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if ('error' in args) {
    process.stderr.write(`frontend: ${args.error}\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const log = stderrLogger(`frontend ${args.name}`);
  let fe;
  try {
    fe = await startFrontend({
      name: args.name,
      naming: args.naming,
      host: args.host,
      port: args.port,
      advertise: args.advertise,
      config: configFor(args.profile),
      secret: args.secret,
      log,
    });
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(`hearsay frontend ${fe.name} ready at ${fe.url}\n`);
  exitOnSignals(log, () => fe.close());
}

void main();
