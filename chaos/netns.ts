/**
 * Replicas on separate "hosts": Linux network namespaces joined by a bridge.
 *
 *   root namespace: bridge <p>br 10.231.N.1/24 — naming, front end, clients
 *     ├── veth <p>h1 ⇄ <p>c1 in namespace <p>n1: 10.231.N.2 — replica rm1
 *     ├── veth <p>h2 ⇄ <p>c2 in namespace <p>n2: 10.231.N.3 — replica rm2
 *     └── …
 *
 * `cut(i)` takes the host side of host i's link down (a partition: nothing
 * passes either way, connections stall as on a real network); `heal(i)`
 * brings it back. Every name starts with a unique prefix (`hz` + 4 random
 * characters) and every address lies in a /24 no interface on this machine
 * uses; `destroy()` removes every link and namespace this lab created (and
 * only those), and is also run at process exit if a test forgets.
 *
 * Needs root and `ip` (iproute2). `netnsSupport()` says whether this machine
 * can do it, and why not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(...args: string[]): boolean {
  return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
}

/** Whether network namespaces, veth pairs and a bridge can be created here; if not, why. */
export function netnsSupport(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, why: 'creating network namespaces needs root' };
  const probe = `hz${randomBytes(2).toString('hex')}p`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `\`ip\` is not available (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: `\`ip netns add\` failed: ${(r.stderr || '').trim()}` };
  let why: string | undefined;
  const br = `${probe}b`;
  if (!tryIp('link', 'add', br, 'type', 'bridge')) why = 'cannot create a bridge';
  else if (!tryIp('link', 'add', `${probe}h`, 'type', 'veth', 'peer', 'name', `${probe}c`)) why = 'cannot create a veth pair';
  tryIp('link', 'del', `${probe}h`);
  tryIp('link', 'del', br);
  tryIp('netns', 'del', probe);
  return why ? { ok: false, why } : { ok: true };
}

const labs = new Set<NetLab>();
let hooked = false;

export class NetLab {
  readonly prefix: string;
  readonly subnet: string;
  private readonly created: { links: string[]; netns: string[] } = { links: [], netns: [] };
  private destroyed = false;

  private constructor(readonly hosts: number) {
    this.prefix = `hz${randomBytes(3).toString('base64url').replace(/[^a-zA-Z0-9]/g, 'x').slice(0, 4)}`;
    this.subnet = NetLab.freeSubnet();
  }

  /** A 10.231.N.0/24 that no interface here has an address in. */
  private static freeSubnet(): string {
    const used = ip('-4', '-o', 'addr', 'show');
    for (let tries = 0; tries < 256; tries++) {
      const n = Math.floor(Math.random() * 256);
      if (!used.includes(`10.231.${n}.`)) return `10.231.${n}`;
    }
    throw new Error('no free 10.231.N.0/24 subnet');
  }

  static create(hosts: number): NetLab {
    const lab = new NetLab(hosts);
    labs.add(lab);
    if (!hooked) {
      hooked = true;
      process.on('exit', () => {
        for (const l of labs) l.destroy();
      });
    }
    try {
      lab.build();
    } catch (e) {
      lab.destroy();
      throw e;
    }
    return lab;
  }

  get bridge(): string {
    return `${this.prefix}br`;
  }

  /** The root namespace's address (naming, front ends and clients bind here). */
  get hostIp(): string {
    return `${this.subnet}.1`;
  }

  /** Namespace of host i (1-based). */
  ns(i: number): string {
    return `${this.prefix}n${i}`;
  }

  ipOf(i: number): string {
    return `${this.subnet}.${i + 1}`;
  }

  private hostSide(i: number): string {
    return `${this.prefix}h${i}`;
  }

  private build(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.created.links.push(this.bridge);
    ip('addr', 'add', `${this.hostIp}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let i = 1; i <= this.hosts; i++) {
      const ns = this.ns(i);
      const h = this.hostSide(i);
      const c = `${this.prefix}c${i}`;
      ip('netns', 'add', ns);
      this.created.netns.push(ns);
      ip('link', 'add', h, 'type', 'veth', 'peer', 'name', c);
      this.created.links.push(h);
      ip('link', 'set', c, 'netns', ns);
      ip('link', 'set', h, 'master', this.bridge);
      ip('link', 'set', h, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${this.ipOf(i)}/24`, 'dev', c);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', c, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    }
  }

  /** Partitions host i: its link goes down, nothing passes either way. */
  cut(i: number): void {
    ip('link', 'set', this.hostSide(i), 'down');
  }

  heal(i: number): void {
    ip('link', 'set', this.hostSide(i), 'up');
  }

  /** Removes everything this lab created. Idempotent; never throws. Processes inside must be stopped first. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    labs.delete(this);
    for (const l of [...this.created.links].reverse()) tryIp('link', 'del', l);
    for (const n of this.created.netns) tryIp('netns', 'del', n);
  }

  /** What of this lab is still present (for tests of the clean-up). */
  leftovers(): string[] {
    const links = ip('-o', 'link', 'show');
    const netns = ip('netns', 'list');
    return [...this.created.links.filter((l) => links.includes(`${l}:`) || links.includes(`${l}@`)), ...this.created.netns.filter((n) => netns.split('\n').some((line) => line.split(' ')[0] === n))];
  }
}
