// A lease that one of several replicas holds at a time (the agent's leader
// election, runtime/agent/leader-election.ts), as an engine keeps it.

/** What a lease says: who holds it, for how long after each renewal. */
export interface LeaseRecord {
  /** "" when nobody holds it (its last holder gave it up). */
  holder: string;
  durationMs: number;
  /** Counts each change of holder. */
  transitions: number;
  /** The holder's renew time, as it wrote it: a follower only notices that it changed. */
  renewedAt: string;
}

/** Where a lease is kept; each write is conditioned on the version read (a conflict returns false). */
export interface LeaseStore {
  read(): Promise<(LeaseRecord & { version: string }) | undefined>;
  create(record: LeaseRecord): Promise<boolean>;
  replace(record: LeaseRecord, version: string): Promise<boolean>;
}
