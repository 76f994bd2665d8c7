/**
 * What the terminal UI needs from a session: the commands' needs plus the
 * session timestamp, events and closing. `Session` (../session.ts) has all of
 * it; tests pass fakes of the same shape.
 */
import type { ClusterView, TraceEvent } from '../../core/protocol.js';
import type { VTS } from '../../core/vts.js';
import type { CommandSession } from '../commands.js';

export interface UiSession extends CommandSession {
  readonly prev: VTS;
  on(ev: 'cluster', cb: (v: ClusterView) => void): this;
  on(ev: 'trace', cb: (e: TraceEvent) => void): this;
  on(ev: 'frontend', cb: (name: string | undefined, why: string) => void): this;
  on(ev: 'naming', cb: (up: boolean) => void): this;
  off(ev: 'cluster' | 'trace' | 'frontend' | 'naming', cb: (...args: never[]) => void): this;
  close(): Promise<void>;
}
