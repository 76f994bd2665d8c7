/**
 * The naming registry: who is in the cluster, under which name, and what the
 * watchers must be told. Pure bookkeeping — no sockets, no timers; the caller
 * passes the time in and sends the events it gets back (server.ts).
 *
 * Rules:
 * - A member belongs to one connection (its `owner`, a socket id). A
 *   connection holds at most one member; registering another name moves it.
 * - A name held by a live member of another connection is refused with
 *   NAME_TAKEN. Once that member has left (its connection closed or its lease
 *   ran out) the name is free again: restarts reuse names.
 * - Registering the same name again from the same connection is an update
 *   (url and meta replaced, `since` kept), unless the kind changed, which is a
 *   leave followed by a join so kind-filtered watchers stay right.
 * - Every register, update and heartbeat renews the lease to `now + leaseMs`;
 *   `expire(now)` removes members whose lease has run out. A lost connection
 *   removes its member at once (`disconnect`).
 */
import type { MemberKind, Member } from '../core/protocol.js';
import type { OpErrorCode } from '../core/ops.js';

export interface MemberRequest {
  readonly kind: MemberKind;
  readonly name: string;
  readonly url: string;
  readonly meta: Readonly<Record<string, unknown>>;
}

export type LeaveReason = 'disconnected' | 'expired' | 'renamed' | 'kindChanged';

/** What the watchers must be told, in order. */
export type RegistryEvent =
  | { readonly type: 'joined'; readonly member: Member }
  | { readonly type: 'updated'; readonly member: Member }
  | { readonly type: 'left'; readonly member: Member; readonly owner: string; readonly reason: LeaveReason };

export type RegistryResult<T> =
  | { readonly ok: true; readonly value: T; readonly events: readonly RegistryEvent[] }
  | { readonly ok: false; readonly code: OpErrorCode; readonly message: string; readonly events: readonly RegistryEvent[] };

export interface RegistryOptions {
  /** A member with no register/update/heartbeat for this long is removed. */
  readonly leaseMs: number;
  /** Most members held at once; further registrations are refused (TOO_LARGE). */
  readonly maxMembers?: number;
}

interface Entry {
  member: Member;
  readonly owner: string;
  expiresAt: number;
}

const byName = (a: Member, b: Member) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class Registry {
  private readonly entries = new Map<string, Entry>();
  /** owner (connection id) → member name */
  private readonly owners = new Map<string, string>();
  private readonly leaseMs: number;
  private readonly maxMembers: number;

  constructor(o: RegistryOptions) {
    if (!(o.leaseMs > 0)) throw new Error(`leaseMs must be positive, got ${o.leaseMs}`);
    this.leaseMs = o.leaseMs;
    this.maxMembers = o.maxMembers ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Registers (or re-registers) the member of connection `owner`. `now` is
   * the lease clock (monotonic ms); `wallNow` becomes the member's `since`.
   */
  register(owner: string, req: MemberRequest, now: number, wallNow: number = now): RegistryResult<Member> {
    const events: RegistryEvent[] = [...this.expire(now)];
    const holder = this.entries.get(req.name);
    if (holder && holder.owner !== owner) {
      return { ok: false, code: 'NAME_TAKEN', message: `the name ${req.name} is held by a live ${holder.member.kind} at ${holder.member.url}`, events };
    }
    const previousName = this.owners.get(owner);
    if (!holder && previousName === undefined && this.entries.size >= this.maxMembers) {
      return { ok: false, code: 'TOO_LARGE', message: `the naming service holds its maximum of ${this.maxMembers} members`, events };
    }
    if (previousName !== undefined && previousName !== req.name) {
      events.push(this.remove(previousName, 'renamed'));
    }
    const expiresAt = now + this.leaseMs;
    if (holder && holder.member.kind === req.kind) {
      const member = freezeMember({ ...holder.member, url: req.url, meta: req.meta });
      const changed = member.url !== holder.member.url || !sameMeta(member.meta, holder.member.meta);
      holder.member = member;
      holder.expiresAt = expiresAt;
      if (changed) events.push({ type: 'updated', member });
      return { ok: true, value: member, events };
    }
    if (holder) events.push(this.remove(req.name, 'kindChanged'));
    const member = freezeMember({ kind: req.kind, name: req.name, url: req.url, meta: req.meta, since: wallNow });
    this.entries.set(req.name, { member, owner, expiresAt });
    this.owners.set(owner, req.name);
    events.push({ type: 'joined', member });
    return { ok: true, value: member, events };
  }

  /** Replaces the metadata of `owner`'s member and renews its lease. */
  update(owner: string, meta: Readonly<Record<string, unknown>>, now: number): RegistryResult<Member> {
    const events: RegistryEvent[] = [...this.expire(now)];
    const entry = this.entryOf(owner);
    if (!entry) return { ok: false, code: 'EXPIRED', message: notRegistered, events };
    entry.expiresAt = now + this.leaseMs;
    if (sameMeta(meta, entry.member.meta)) return { ok: true, value: entry.member, events };
    entry.member = freezeMember({ ...entry.member, meta });
    events.push({ type: 'updated', member: entry.member });
    return { ok: true, value: entry.member, events };
  }

  /** Renews the lease of `owner`'s member. */
  heartbeat(owner: string, now: number): RegistryResult<Member> {
    const events = this.expire(now);
    const entry = this.entryOf(owner);
    if (!entry) return { ok: false, code: 'EXPIRED', message: notRegistered, events };
    entry.expiresAt = now + this.leaseMs;
    return { ok: true, value: entry.member, events };
  }

  /** The connection `owner` is gone: its member leaves at once. */
  disconnect(owner: string): RegistryEvent[] {
    const name = this.owners.get(owner);
    return name === undefined ? [] : [this.remove(name, 'disconnected')];
  }

  /** Removes every member whose lease ran out at or before `now`. */
  expire(now: number): RegistryEvent[] {
    const out: RegistryEvent[] = [];
    for (const [name, e] of this.entries) if (e.expiresAt <= now) out.push(this.remove(name, 'expired'));
    return out;
  }

  /**
   * Extends every lease by `ms`: for a driver that was itself stalled and
   * has not yet read the heartbeats that arrived meanwhile.
   */
  postpone(ms: number): void {
    if (!(ms > 0)) return;
    for (const e of this.entries.values()) e.expiresAt += ms;
  }

  /** The earliest lease end, for a driver that wants to wake up exactly then. */
  nextExpiry(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (min === undefined || e.expiresAt < min) min = e.expiresAt;
    return min;
  }

  lookup(name: string): Member | null {
    return this.entries.get(name)?.member ?? null;
  }

  /** Members of `kind` (all if undefined), sorted by name. */
  list(kind?: MemberKind): Member[] {
    const out: Member[] = [];
    for (const e of this.entries.values()) if (kind === undefined || e.member.kind === kind) out.push(e.member);
    return out.sort(byName);
  }

  /** The member registered by connection `owner`, if any. */
  memberOf(owner: string): Member | null {
    return this.entryOf(owner)?.member ?? null;
  }

  private entryOf(owner: string): Entry | undefined {
    const name = this.owners.get(owner);
    return name === undefined ? undefined : this.entries.get(name);
  }

  private remove(name: string, reason: LeaveReason): RegistryEvent {
    const e = this.entries.get(name);
    if (!e) throw new Error(`registry: removing unknown member ${name}`);
    this.entries.delete(name);
    if (this.owners.get(e.owner) === name) this.owners.delete(e.owner);
    return { type: 'left', member: e.member, owner: e.owner, reason };
  }
}

const notRegistered = 'this connection has no registered member (its lease expired or it never registered); register again';

function freezeMember(m: Member): Member {
  return Object.freeze({ ...m, meta: Object.freeze({ ...m.meta }) });
}

function sameMeta(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}
