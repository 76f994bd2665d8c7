/**
 * Entry point of bin/client (see cli.ts for the command line). Exits with the
 * status main() gives once stdout is flushed, so no open handle can keep a
 * finished client alive.
 */
import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`client: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
