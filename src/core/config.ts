/**
 * Every tunable of hearsay in one documented object, with named profiles.
 * Units are in the field names (Ms = milliseconds). Components take the
 * profile they are told (`--profile test`) and may override single fields
 * from their command line.
 */
export interface Config {
  // ---- replica core -------------------------------------------------------
  /** Interval between gossip rounds. 4 RMs converge in ~3 rounds, so 100 ms keeps convergence well under a second. */
  gossipIntervalMs: number;
  /** Peers contacted per gossip round (push-pull: each contacted peer answers with what we lack). */
  gossipFanout: number;
  /** Max records in one gossip message; the rest follows next round. */
  gossipMaxRecords: number;
  /** How long a query whose `prev` is ahead of the replica waits for the missing updates before "not yet available". */
  queryHoldMs: number;
  /** Minimum time between two on-demand pulls for the same held query. */
  pullRetryMs: number;
  /**
   * An update becomes visible only once two replicas hold a copy (see
   * docs/design.md, "twin copies"). If no second copy is known after this
   * long, the replica asks another peer to take one.
   */
  bindTimeoutMs: number;
  /** How long a restarting replica waits for a snapshot from one peer before asking another. */
  snapshotRetryMs: number;
  /**
   * Executed-update ids are remembered this long after the update was issued,
   * so a retried request is never logged twice. Older updates are refused
   * with EXPIRED (the front end retries within seconds, far inside this).
   */
  dedupWindowMs: number;

  // ---- primary (forced and immediate updates) -----------------------------
  /** The primary sends appends (heartbeats when idle) this often. */
  primaryHeartbeatMs: number;
  /**
   * A follower that hears no primary for a random time in [min, max) stands
   * for election. Randomised so that usually one candidate wins at once; a
   * failed primary is replaced within about max + one round trip.
   */
  electionTimeoutMinMs: number;
  electionTimeoutMaxMs: number;
  /** How long the primary waits for live replicas' timestamps when it takes the cut for an immediate update. */
  cutTimeoutMs: number;
  /** Largest number of forced-log entries in one append message. */
  appendMaxEntries: number;

  // ---- replica status (simulated availability) ---------------------------
  /** Whether a replica flips its own status at random over time. */
  randomStatus: boolean;
  /** Mean time between random status changes. */
  statusChangeMeanMs: number;
  /** Share of random changes that go to OVERLOADED / OFFLINE (the rest return to ACTIVE). */
  statusOverloadedShare: number;
  statusOfflineShare: number;
  /** How long a random OFFLINE spell lasts at most. */
  statusOfflineMaxMs: number;
  /** Requests in flight above which a replica reports itself OVERLOADED. */
  overloadInflight: number;

  // ---- front end ---------------------------------------------------------
  /** Time a front end waits for one replica before trying another. */
  rmRequestTimeoutMs: number;
  /** Time a client waits for its front end. */
  feRequestTimeoutMs: number;
  /** A forced/immediate update the primary could not take yet (election, redirect) is tried again after this long... */
  forcedRetryMs: number;
  /** ...until this long after it arrived; then the client gets NO_PRIMARY (and may retry with the same uid). Below feRequestTimeoutMs. */
  forcedDeadlineMs: number;

  // ---- naming ------------------------------------------------------------
  /** Members send a heartbeat this often. */
  heartbeatMs: number;
  /** A member with no heartbeat (or connection) for this long is removed. Must be < 2000. */
  leaseMs: number;

  // ---- protocol ----------------------------------------------------------
  /** Largest accepted socket.io message, in bytes. Snapshots carry every rating changed since start, so this is generous. */
  maxMessageBytes: number;
}

export const defaultConfig: Readonly<Config> = Object.freeze({
  gossipIntervalMs: 100,
  gossipFanout: 1,
  gossipMaxRecords: 2000,
  queryHoldMs: 3000,
  pullRetryMs: 200,
  bindTimeoutMs: 1000,
  snapshotRetryMs: 1000,
  dedupWindowMs: 10 * 60_000,
  primaryHeartbeatMs: 150,
  electionTimeoutMinMs: 1000,
  electionTimeoutMaxMs: 2000,
  cutTimeoutMs: 500,
  appendMaxEntries: 256,
  randomStatus: true,
  statusChangeMeanMs: 20_000,
  statusOverloadedShare: 0.2,
  statusOfflineShare: 0.1,
  statusOfflineMaxMs: 5000,
  overloadInflight: 64,
  rmRequestTimeoutMs: 1000,
  feRequestTimeoutMs: 5000,
  forcedRetryMs: 100,
  forcedDeadlineMs: 4500,
  heartbeatMs: 400,
  leaseMs: 1500,
  maxMessageBytes: 32 * 1024 * 1024,
});

/** For tests: fast gossip and timeouts, no random status changes. */
export const testConfig: Readonly<Config> = Object.freeze({
  ...defaultConfig,
  gossipIntervalMs: 50,
  queryHoldMs: 2000,
  pullRetryMs: 100,
  bindTimeoutMs: 500,
  snapshotRetryMs: 500,
  randomStatus: false,
  rmRequestTimeoutMs: 700,
  feRequestTimeoutMs: 4000,
  forcedRetryMs: 50,
  forcedDeadlineMs: 3500,
  primaryHeartbeatMs: 75,
  electionTimeoutMinMs: 400,
  electionTimeoutMaxMs: 800,
  cutTimeoutMs: 300,
  heartbeatMs: 250,
  leaseMs: 1000,
});

export const profiles = { default: defaultConfig, test: testConfig } as const;
export type ProfileName = keyof typeof profiles;

export function configFor(profile: string | undefined, overrides: Partial<Config> = {}): Config {
  const base = profile && profile in profiles ? profiles[profile as ProfileName] : defaultConfig;
  return { ...base, ...overrides };
}
