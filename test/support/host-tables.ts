import type { Engine } from "../../provider/engines/port.ts";
import { egressTables, type EgressTables } from "../../provider/runtime/networks/egress-tables.ts";
import { mustRun, runCommand } from "./run.ts";

const DELETE_TABLE = new URL("../fixtures/scripts/nft_delete_table.py", import.meta.url).pathname;

/** The nftables tables an engine's egress daemon keeps on this host. */
export async function tablesOf(engine: Engine): Promise<EgressTables> {
  const { dataRoot } = await engine.info();
  if (dataRoot === undefined) throw new Error("the engine does not say where its data root is");
  return egressTables(dataRoot);
}

/** Removes an inet table from this host's kernel, as a host restart would lose it; none is no error. */
export async function deleteTable(name: string): Promise<void> {
  await mustRun("python3", [DELETE_TABLE, name]);
}

/** An inet table as the kernel lists it now (its chains and rules, with handles), or undefined when there is none. */
export async function listTable(name: string): Promise<string | undefined> {
  const listed = await runCommand("nft", ["-a", "list", "table", "inet", name]);
  return listed.code === 0 ? listed.stdout : undefined;
}
