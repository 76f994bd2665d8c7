/**
 * The front end server: `startFrontend` registers with the naming service
 * (NamingClient) and runs the driver (driver.ts) around the pure core.
 */
import { NamingClient } from '../naming/client.js';
import { startFrontendWith, type FrontendHandle, type FrontendOptions } from './driver.js';

export type { FrontendHandle, FrontendOptions };

export function startFrontend(o: FrontendOptions): Promise<FrontendHandle> {
  const naming = new NamingClient({ url: o.naming, secret: o.secret, log: o.log, config: o.config });
  return startFrontendWith(o, naming);
}
