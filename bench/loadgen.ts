/**
 * A load generator process: runs `runLoad` (clients.ts) for the benchmark
 * when one Node process cannot generate enough load by itself.
 *
 * Started with an IPC channel. Prints `hearsay loadgen <pid> ready at ipc`,
 * then takes one message `{ start: LoadOptions-without-callbacks }`, sends
 * back `{ result: LoadResult }` (or `{ error }`) and exits. It also exits
 * when its parent goes away.
 */
import { runLoad, type LoadOptions } from './clients.js';

type Start = Omit<LoadOptions, 'progress'>;

function send(msg: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.once('message', (msg: { start?: Start }) => {
  if (!msg.start) {
    void send({ error: 'expected a start message' }).then(() => process.exit(2));
    return;
  }
  runLoad(msg.start).then(
    async (result) => {
      await send({ result });
      process.exit(0);
    },
    async (e: unknown) => {
      await send({ error: (e as Error).stack ?? String(e) });
      process.exit(1);
    },
  );
});
process.stdout.write(`hearsay loadgen ${process.pid} ready at ipc\n`);
