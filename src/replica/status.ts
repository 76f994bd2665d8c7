/**
 * A replica's availability status: ACTIVE, OVERLOADED or OFFLINE.
 *
 * Two things decide it:
 * - The *set* status, which changes at random over time (to show front ends
 *   coping with failures) or by command (`setStatus`). Random changes come
 *   at exponentially distributed intervals with mean
 *   `config.statusChangeMeanMs`; each goes to OFFLINE with probability
 *   `statusOfflineShare` (for a spell of at most `statusOfflineMaxMs`, then
 *   back to ACTIVE), to OVERLOADED with probability `statusOverloadedShare`
 *   (until the next change), and to ACTIVE otherwise, so a replica is ACTIVE
 *   most of the time. A status set by command pauses random changes for
 *   MANUAL_HOLD_MS (60 s), so a person trying something out is not overruled
 *   a moment later; random changes resume afterwards.
 * - Real load: with more than `config.overloadInflight` client requests
 *   waiting, an ACTIVE replica reports OVERLOADED; it reports ACTIVE again
 *   once the number is back to half the threshold or less (hysteresis, so the
 *   status does not flap at the boundary).
 * The reported status is OFFLINE if set so, else OVERLOADED if set so or
 * really overloaded, else ACTIVE.
 */
import type { Config } from '../core/config.js';
import type { ReplicaStatus } from '../core/protocol.js';

export const MANUAL_HOLD_MS = 60_000;

export type StatusConfig = Pick<Config, 'statusChangeMeanMs' | 'statusOverloadedShare' | 'statusOfflineShare' | 'statusOfflineMaxMs' | 'overloadInflight'>;

export interface StatusOptions {
  readonly config: StatusConfig;
  readonly random: boolean;
  /** Uniform in [0, 1). */
  readonly rand: () => number;
  /** Called with the new reported status whenever it changes, and why. */
  readonly onChange: (status: ReplicaStatus, why: string) => void;
}

export class StatusController {
  private set: ReplicaStatus = 'ACTIVE';
  private busy = false;
  private reported: ReplicaStatus = 'ACTIVE';
  private timer: NodeJS.Timeout | undefined;
  private manualUntil = 0;
  private closed = false;

  constructor(private readonly o: StatusOptions) {
    if (o.random) this.schedule(this.interval());
  }

  get status(): ReplicaStatus {
    return this.reported;
  }

  /** The status set at random or by command (without real load). */
  get setStatus(): ReplicaStatus {
    return this.set;
  }

  /** A command: holds for MANUAL_HOLD_MS against random changes. */
  command(status: ReplicaStatus): void {
    this.manualUntil = Date.now() + MANUAL_HOLD_MS;
    this.change(status, 'set by command');
    if (this.o.random) this.schedule(MANUAL_HOLD_MS);
  }

  /** Reports the number of client requests waiting; may switch OVERLOADED on or off. */
  load(inflight: number): void {
    const limit = this.o.config.overloadInflight;
    const busy = this.busy ? inflight > Math.floor(limit / 2) : inflight > limit;
    if (busy === this.busy) return;
    this.busy = busy;
    this.recompute(busy ? `${inflight} requests in flight (limit ${limit})` : `load back to ${inflight} requests in flight`);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private change(status: ReplicaStatus, why: string): void {
    this.set = status;
    this.recompute(why);
  }

  private recompute(why: string): void {
    const next: ReplicaStatus = this.set === 'OFFLINE' ? 'OFFLINE' : this.set === 'OVERLOADED' || this.busy ? 'OVERLOADED' : 'ACTIVE';
    if (next === this.reported) return;
    this.reported = next;
    this.o.onChange(next, why);
  }

  private interval(): number {
    // Exponential with the configured mean, at least 100 ms.
    return Math.max(100, -Math.log(1 - this.o.rand()) * this.o.config.statusChangeMeanMs);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.randomChange(), ms);
    this.timer.unref();
  }

  private randomChange(): void {
    this.timer = undefined;
    if (this.closed) return;
    if (Date.now() < this.manualUntil) {
      this.schedule(this.manualUntil - Date.now());
      return;
    }
    const c = this.o.config;
    const roll = this.o.rand();
    if (roll < c.statusOfflineShare) {
      const spell = Math.max(100, Math.round(this.o.rand() * c.statusOfflineMaxMs));
      this.change('OFFLINE', `random: offline for ${spell} ms`);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.closed || Date.now() < this.manualUntil) return;
        this.change('ACTIVE', 'random: back from an offline spell');
        this.schedule(this.interval());
      }, spell);
      this.timer.unref();
      return;
    }
    this.change(roll < c.statusOfflineShare + c.statusOverloadedShare ? 'OVERLOADED' : 'ACTIVE', 'random');
    this.schedule(this.interval());
  }
}
