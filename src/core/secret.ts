/**
 * The cluster secret. Members (naming registrations, replica-to-replica
 * traffic, status changes, introspection) present it in the socket.io
 * handshake as `auth.secret`; ordinary clients need none.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role } from './sockets.js';

/** Compares a presented secret with the configured one in constant time (hashing first hides the length). */
export function secretMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The role of a connecting socket: everyone is a member when no secret is configured. */
export function roleOf(secret: string | undefined, handshakeAuth: unknown): Role {
  const given = (handshakeAuth as { secret?: unknown } | undefined)?.secret;
  return secret === undefined || secretMatches(secret, given) ? 'member' : 'client';
}
