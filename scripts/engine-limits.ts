/**
 * What sandfleet cannot do on a Docker engine, one line each, from the
 * capabilities the engine reports: the bootstrap prints them when it is told
 * to use the machine's engine as it is (SANDFLEET_ENGINE=machine).
 *
 *   node scripts/engine-limits.ts unix:///var/run/docker.sock
 */
import { connectDocker } from "../provider/engines/docker/client.ts";
import type { EngineCapabilities } from "../provider/engines/port.ts";

const WHAT: Record<keyof EngineCapabilities, string> = {
  pause: "pause a sandbox",
  checkpoint: "checkpoint a paused sandbox's memory",
  egressAddresses: "keep egress allowlists of addresses",
  egressNames: "keep names in egress allowlists",
  diskBound: "bound a sandbox's disk",
  subPathMounts: "mount one folder of a volume",
  snapshots: "snapshot a sandbox",
  pidsBound: "bound a sandbox's processes",
  hostChannel: "reach a sandbox from beside it",
  execUser: "choose an exec's user",
  hostPorts: "publish a sandbox's ports on this host",
};

const host = process.argv[2];
if (!host) {
  console.error("usage: node scripts/engine-limits.ts DOCKER_HOST");
  process.exit(2);
}
const { capabilities } = await connectDocker(host).info();
for (const [name, capability] of Object.entries(capabilities) as [
  keyof EngineCapabilities,
  EngineCapabilities[keyof EngineCapabilities],
][]) {
  if (!capability.supported) console.log(`cannot ${WHAT[name]} there: ${capability.why}`);
}
