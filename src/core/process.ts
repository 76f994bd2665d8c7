/**
 * What every hearsay binary does the same way: know whether it is the entry
 * module, and shut down cleanly on SIGTERM/SIGINT (close, then exit 0; exit
 * anyway if closing takes too long).
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Logger } from './sockets.js';

/** True when the module with this `import.meta.url` is the program node was started with (not imported by a test). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

/**
 * On SIGTERM or SIGINT: log, run `close` (once), exit 0. `close` may return
 * undefined when there is nothing to close yet. After `graceMs` the process
 * exits regardless, so a hung close never keeps a stopped component alive.
 */
export function exitOnSignals(log: Logger, close: () => Promise<void> | undefined, graceMs = 3000): void {
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: shutting down`);
    const force = setTimeout(() => {
      log.warn(`shutdown took over ${graceMs / 1000} s; exiting anyway`);
      process.exit(0);
    }, graceMs);
    force.unref();
    const closing = close();
    if (!closing) process.exit(0);
    closing.then(
      () => process.exit(0),
      (e: unknown) => {
        log.error(`shutdown: ${(e as Error).message}`);
        process.exit(0);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
