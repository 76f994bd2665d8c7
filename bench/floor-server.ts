/**
 * The floor's servers: a bare socket.io echo server, and a relay that
 * forwards every call to an echo server and relays its answer back — the
 * same shape as client → front end → replica, with none of the work.
 *
 *   node --import tsx bench/floor-server.ts echo
 *   node --import tsx bench/floor-server.ts relay --to URL
 *
 * Listens on 127.0.0.1 at a free port and prints
 * `hearsay floor-<mode> ready at <url>`. Exits on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { defaultConfig } from '../src/core/config.js';

type Ack = (reply: unknown) => void;

async function main(): Promise<void> {
  const mode = process.argv[2];
  const toIdx = process.argv.indexOf('--to');
  const to = toIdx > 0 ? process.argv[toIdx + 1] : undefined;
  if ((mode !== 'echo' && mode !== 'relay') || (mode === 'relay' && !to)) {
    process.stderr.write('usage: floor-server.ts echo | relay --to URL\n');
    process.exit(2);
  }
  const http = createServer();
  const server = new Server(http, { maxHttpBufferSize: defaultConfig.maxMessageBytes, serveClient: false, cors: { origin: false } });
  let upstream: Socket | undefined;
  if (mode === 'relay') {
    upstream = connect(to!, { transports: ['websocket'], reconnection: true });
    await new Promise<void>((resolve, reject) => {
      upstream!.once('connect', () => resolve());
      setTimeout(() => reject(new Error(`relay: cannot reach ${to}`)), 5000).unref();
    });
  }
  server.on('connection', (socket) => {
    socket.on('echo', (payload: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      if (!upstream) {
        (ack as Ack)(payload);
        return;
      }
      upstream
        .timeout(5000)
        .emitWithAck('echo', payload)
        .then(
          (r: unknown) => (ack as Ack)(r),
          () => (ack as Ack)({ ok: false }),
        );
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  process.stdout.write(`hearsay floor-${mode} ready at http://127.0.0.1:${port}\n`);
  const stop = () => {
    upstream?.close();
    void server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`floor-server: ${(e as Error).message}\n`);
  process.exit(1);
});
