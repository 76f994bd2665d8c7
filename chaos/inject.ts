/**
 * Carries out a fault plan (faults.ts) on a running ChaosCluster and records
 * every step in the history.
 *
 * The fault model tolerates one replica failure at a time, so a step that
 * makes a replica unavailable (kill, OFFLINE, partition) is only done when
 * no other replica is unavailable, the naming service is up, and every
 * replica is up and serving. A kill additionally needs every record the
 * victim has received to be held by some other replica (their replicaTS
 * entries cover the victim's): then no acknowledged update dies with it.
 * The introspection and the kill are back to back; what the others had
 * received at that moment is recorded with the kill, so the checker can tell
 * an update logged at the victim alone in the instant between the two (its
 * acknowledgement carried a warning) from a real loss. A step whose
 * conditions do not hold within a few seconds is skipped, and recorded so.
 *
 * A primary kill is a replica kill whose victim is chosen in that same
 * introspection: the replica that reports itself leader (the highest term if
 * two do, as after a partition). With no primary elected the step waits, like
 * any gate, and is skipped if none appears in time. The restarted replica
 * keeps its name and state directory, so it is the same voter again.
 */
import type { Introspection, ReplicaStatus } from '../src/core/protocol.js';
import type { Session } from '../src/client/session.js';
import type { ChaosCluster } from './cluster.js';
import { describeStep, type FaultStep } from './faults.js';
import type { FaultRecord, History } from './history.js';

const GATE_WAIT_MS = 4000;
const RM_UNAVAILABLE: ReadonlySet<string> = new Set(['rm-kill', 'primary-kill', 'rm-offline', 'rm-partition']);

/** The replica that is primary, from introspections: the leader of the highest term. */
export function primaryOf(states: readonly Introspection[]): Introspection | undefined {
  let best: Introspection | undefined;
  for (const s of states) if (s.primary?.role === 'leader' && (!best || s.primary.term > best.primary!.term)) best = s;
  return best;
}

export class Injector {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private readonly running = new Set<Promise<void>>();
  private healing = false;
  /** The replica currently unavailable because of a fault, if any. */
  private rmDown: string | undefined;
  private feDown: string | undefined;
  /** Replica → status faults in force (OFFLINE wins over OVERLOADED). */
  private readonly offline = new Set<string>();
  private readonly overloaded = new Map<string, number>();
  private readonly open = new Set<FaultRecord>();
  private t0 = 0;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly history: History,
    private readonly admin: Session,
    private readonly plan: readonly FaultStep[],
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.t0 = this.history.now();
    for (const step of this.plan) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.track(this.execute(step));
      }, step.at);
      this.timers.add(t);
    }
  }

  private track(p: Promise<void>): void {
    const q = p.catch((e: unknown) => this.log(`fault step failed: ${(e as Error).stack ?? String(e)}`)).finally(() => this.running.delete(q));
    this.running.add(q);
  }

  /** Sleeps; healing wakes every sleeper at once. */
  private sleep(ms: number): Promise<void> {
    if (this.healing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private begin(step: FaultStep): FaultRecord {
    return this.history.fault({ kind: step.kind, target: step.target, plannedAt: step.at, rmUnavailable: RM_UNAVAILABLE.has(step.kind) });
  }

  private started(rec: FaultRecord, step: FaultStep, note?: string): void {
    rec.startedAt = this.history.now();
    rec.outcome = 'done';
    if (note) rec.note = note;
    this.open.add(rec);
    this.log(`${(rec.startedAt / 1000).toFixed(1)}s ${describeStep(step)}${note ? ` — ${note}` : ''}`);
  }

  private ended(rec: FaultRecord): void {
    if (rec.endedAt !== undefined) return;
    rec.endedAt = this.history.now();
    this.open.delete(rec);
  }

  private skip(rec: FaultRecord, step: FaultStep, why: string): void {
    rec.outcome = 'skipped';
    rec.note = why;
    this.log(`${(this.history.now() / 1000).toFixed(1)}s skipped ${describeStep(step)}: ${why}`);
  }

  /** Waits until a replica may be made unavailable; returns why not if it cannot be within GATE_WAIT_MS. */
  private async gateReplica(target: string): Promise<string | undefined> {
    const deadline = Date.now() + GATE_WAIT_MS;
    let why = '';
    while (!this.healing) {
      why = '';
      if (this.rmDown !== undefined) why = `${this.rmDown} is unavailable`;
      else if (!this.cluster.isUp('naming')) why = 'the naming service is down';
      else {
        for (const rm of this.cluster.names('replica')) {
          if (!this.cluster.isUp(rm)) {
            why = `${rm} is down`;
            break;
          }
        }
        if (!why) {
          try {
            const states = await Promise.all(this.cluster.names('replica').map((rm) => this.cluster.introspect(rm)));
            const bad = states.find((s) => s.phase !== 'serving');
            if (bad) why = `${bad.name} is still ${bad.phase}`;
          } catch (e) {
            why = `introspection failed: ${(e as Error).message}`;
          }
        }
      }
      if (!why && this.rmDown === undefined) return undefined;
      if (Date.now() > deadline) return why || `${this.rmDown} is unavailable`;
      await this.sleep(200);
    }
    return 'healing';
  }

  private async execute(step: FaultStep): Promise<void> {
    if (this.healing) return;
    const rec = this.begin(step);
    const c = this.cluster;
    switch (step.kind) {
      case 'rm-kill':
      case 'primary-kill': {
        const why = (await this.gateReplica(step.target)) ?? (this.healing ? 'healing' : undefined);
        if (why) return this.skip(rec, step, why);
        // Coverage: everything the victim received is held by another replica.
        const deadline = Date.now() + GATE_WAIT_MS;
        let target = step.target;
        for (;;) {
          if (this.healing) return this.skip(rec, step, 'healing');
          const names = c.names('replica');
          let states;
          try {
            states = await Promise.all(names.map((rm) => c.introspect(rm)));
          } catch (e) {
            return this.skip(rec, step, `introspection failed: ${(e as Error).message}`);
          }
          if (step.kind === 'primary-kill') {
            const p = primaryOf(states);
            if (!p) {
              if (Date.now() > deadline) return this.skip(rec, step, 'no primary was elected');
              await this.sleep(50);
              continue;
            }
            target = p.name;
          }
          const victim = states[names.indexOf(target)]!;
          const others = states.filter((s) => s !== victim);
          const covered: Record<string, number> = {};
          const short: string[] = [];
          for (const [node, n] of Object.entries(victim.replicaTS) as [string, number][]) {
            const best = Math.max(0, ...others.map((o) => (o.replicaTS as Record<string, number>)[node] ?? 0));
            covered[node] = best;
            if (best < n) short.push(`${node} ${best}<${n}`);
          }
          if (short.length === 0 && this.rmDown === undefined && !this.healing) {
            this.rmDown = target;
            rec.target = target;
            rec.victimId = victim.id;
            rec.coveredByOthers = covered;
            await c.kill(target);
            this.started(rec, step, `killed ${victim.id}${step.kind === 'primary-kill' ? `, the primary of term ${victim.primary?.term ?? '?'}` : ''}`);
            break;
          }
          if (Date.now() > deadline) return this.skip(rec, step, `others have not received all of its log (${short.join(', ')})`);
          await this.sleep(50);
        }
        await this.sleep(step.durationMs);
        if (this.healing) return;
        await this.restartReplica(target);
        this.ended(rec);
        this.rmDown = undefined;
        return;
      }
      case 'rm-offline':
      case 'rm-partition': {
        const why = (await this.gateReplica(step.target)) ?? (this.healing ? 'healing' : undefined);
        if (why) return this.skip(rec, step, why);
        this.rmDown = step.target;
        if (step.kind === 'rm-offline') {
          this.offline.add(step.target);
          const note = await this.applyStatus(step.target);
          this.started(rec, step, note);
        } else {
          c.proxy(step.target).set({ hold: true });
          this.started(rec, step);
        }
        await this.sleep(step.durationMs);
        if (this.healing) return;
        if (step.kind === 'rm-offline') {
          this.offline.delete(step.target);
          await this.applyStatus(step.target);
        } else {
          c.proxy(step.target).set({ hold: false });
        }
        this.ended(rec);
        this.rmDown = undefined;
        return;
      }
      case 'rm-overloaded': {
        if (!c.isUp(step.target)) return this.skip(rec, step, `${step.target} is down`);
        this.overloaded.set(step.target, (this.overloaded.get(step.target) ?? 0) + 1);
        const note = await this.applyStatus(step.target);
        if (this.healing) return this.skip(rec, step, 'healing');
        this.started(rec, step, note);
        await this.sleep(step.durationMs);
        if (this.healing) return;
        this.overloaded.set(step.target, (this.overloaded.get(step.target) ?? 1) - 1);
        await this.applyStatus(step.target);
        this.ended(rec);
        return;
      }
      case 'fe-kill':
      case 'fe-partition': {
        if (this.feDown !== undefined) return this.skip(rec, step, `${this.feDown} is unavailable`);
        if (!c.isUp(step.target)) return this.skip(rec, step, `${step.target} is down`);
        this.feDown = step.target;
        if (step.kind === 'fe-kill') await c.kill(step.target);
        else c.proxy(step.target).set({ hold: true });
        this.started(rec, step);
        await this.sleep(step.durationMs);
        if (this.healing) return;
        if (step.kind === 'fe-kill') await c.startMember(step.target);
        else c.proxy(step.target).set({ hold: false });
        this.ended(rec);
        this.feDown = undefined;
        return;
      }
      case 'naming-kill':
      case 'naming-partition': {
        if (!c.isUp('naming')) return this.skip(rec, step, 'the naming service is down');
        // A replica restarting now could not register; let it finish first.
        if (step.kind === 'naming-kill' && this.rmDown !== undefined && !c.isUp(this.rmDown)) return this.skip(rec, step, `${this.rmDown} is restarting`);
        if (step.kind === 'naming-kill') await c.kill('naming');
        else c.proxy('naming').set({ hold: true });
        this.started(rec, step);
        await this.sleep(step.durationMs);
        if (this.healing) return;
        if (step.kind === 'naming-kill') await c.startMember('naming');
        else c.proxy('naming').set({ hold: false });
        this.ended(rec);
        return;
      }
      case 'link-delay': {
        const p = c.proxy(step.target);
        p.set({ delayMs: step.delayMs ?? 0, jitterMs: step.jitterMs ?? 0 });
        this.started(rec, step);
        await this.sleep(step.durationMs);
        if (this.healing) return;
        if (p.faults.delayMs === step.delayMs) p.set({ delayMs: 0, jitterMs: 0 });
        this.ended(rec);
        return;
      }
      case 'link-drop': {
        const p = c.proxy(step.target);
        p.set({ dropRate: step.dropRate ?? 0 });
        this.started(rec, step);
        await this.sleep(step.durationMs);
        if (this.healing) return;
        if (p.faults.dropRate === step.dropRate) p.set({ dropRate: 0 });
        this.ended(rec);
        return;
      }
      case 'link-reset': {
        const n = c.proxy(step.target).reset();
        this.started(rec, step, `${n} connection(s) cut`);
        this.ended(rec);
        return;
      }
    }
  }

  /** Starts a killed replica again and waits until it serves (it recovers from a peer first). */
  private async restartReplica(name: string): Promise<void> {
    await this.cluster.startMember(name);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        if ((await this.cluster.introspect(name)).phase === 'serving') return;
      } catch {
        /* not answering yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.log(`${name} did not finish recovering within 30 s of its restart`);
  }

  /** Sets a replica's status as a client would (setStatus through a front end). */
  private async applyStatus(rm: string): Promise<string | undefined> {
    const status: ReplicaStatus = this.offline.has(rm) ? 'OFFLINE' : (this.overloaded.get(rm) ?? 0) > 0 ? 'OVERLOADED' : 'ACTIVE';
    const r = await this.admin.setStatus(rm, status);
    if (r.ok) return undefined;
    // The admin's front end may be the one under a fault: fall back to the replica itself.
    try {
      await this.cluster.setStatusDirect(rm, status);
      return `set ${status} directly (the client's setStatus failed: ${r.code}: ${r.message.slice(0, 160)})`;
    } catch (e) {
      return `could not set ${status}: ${r.code}: ${r.message.slice(0, 160)}; ${(e as Error).message}`;
    }
  }

  /**
   * Ends every fault: no more steps, proxies clear (held bytes delivered),
   * every component that is down started again, every replica ACTIVE.
   * Resolves once all of that is done.
   */
  async heal(): Promise<void> {
    this.healing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of [...this.sleepers]) wake();
    // Steps in flight see `healing` and stop; whatever they did before is undone below.
    await Promise.all(this.running);
    for (const p of this.cluster.proxies()) p.clear();
    const c = this.cluster;
    if (!c.isUp('naming')) await c.startMember('naming');
    await Promise.all(c.names().filter((n) => n !== 'naming' && !c.isUp(n)).map((n) => (c.names('replica').includes(n) ? this.restartReplica(n) : c.startMember(n))));
    this.offline.clear();
    this.overloaded.clear();
    for (const rm of c.names('replica')) {
      for (let i = 0; i < 5; i++) {
        try {
          await c.setStatusDirect(rm, 'ACTIVE');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    for (const rec of [...this.open]) this.ended(rec);
    this.rmDown = undefined;
    this.feDown = undefined;
  }

  /** Milliseconds since the fault phase started. */
  elapsed(): number {
    return this.history.now() - this.t0;
  }
}
