import { sha256Hex } from "../../digest.ts";

/**
 * The nftables tables of one engine's egress daemon on its host. Each
 * engine's daemon (on the host's network) keeps tables of its own, so two
 * engines on one host never replace or remove each other's rules. They are
 * named by a key of the engine's data root, which no two engines of one host
 * share and which stays the same across restarts; the daemon builds the same
 * names from the key (supervisor/egress/tables.go), and both sides test
 * against supervisor/testdata/tables.json.
 */
export interface EgressTables {
  /** What the daemon is given (`--engine-key`): 12 hex digits. */
  engineKey: string;
  /** The guard of app networks (`inet` family). */
  guard: string;
  /** The egress allowlists (`inet` family). */
  egress: string;
}

/** The names every daemon used before tables were per engine; a daemon that replaces its engine's older one removes them. */
export const LEGACY_EGRESS_TABLES = { guard: "sandfleet_guard", egress: "sandfleet_egress" } as const;

/** What the daemon is told to retire (`--retire-tables`) for the legacy names. */
export const LEGACY_TABLES_KEY = "legacy";

export function egressTables(dataRoot: string): EgressTables {
  const engineKey = sha256Hex(dataRoot).slice(0, 12);
  return {
    engineKey,
    guard: `${LEGACY_EGRESS_TABLES.guard}_${engineKey}`,
    egress: `${LEGACY_EGRESS_TABLES.egress}_${engineKey}`,
  };
}
