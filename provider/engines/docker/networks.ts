import { labelFilters } from "./containers.ts";
import { engineCall, engineLookup } from "./errors.ts";
import type { EngineHttp } from "./http.ts";
import type { RawNetwork } from "./raw.ts";
import { mapOf } from "./values.ts";
import type { NetworkClient, NetworkInfo } from "../port.ts";

const MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade";
const BRIDGE_NAME = "com.docker.network.bridge.name";

export function networkClient(docker: EngineHttp): NetworkClient {
  const path = (idOrName: string) => `/networks/${encodeURIComponent(idOrName)}`;
  return {
    async create(spec) {
      const network = await engineCall(`create network ${spec.name}`, () =>
        docker.json<{ Id: string }>("POST", "/networks/create", {
          body: {
            Name: spec.name,
            Driver: "bridge",
            Internal: spec.internal,
            // Without masquerading, containers get no NAT to the outside, while
            // ports published on 127.0.0.1 still reach them.
            Options: {
              ...(spec.masquerade ? {} : { [MASQUERADE]: "false" }),
              ...(spec.bridge ? { [BRIDGE_NAME]: spec.bridge } : {}),
            },
            Labels: { ...spec.labels },
            CheckDuplicate: true,
          },
        }),
      );
      return network.Id;
    },
    async inspect(idOrName) {
      const info = await engineLookup(`inspect network ${idOrName}`, () =>
        docker.json<RawNetwork>("GET", path(idOrName)),
      );
      return info && fromInspect(info);
    },
    async remove(idOrName) {
      await engineLookup(`remove network ${idOrName}`, () => docker.json("DELETE", path(idOrName)));
    },
    async list(labels) {
      const found = await engineCall("list networks", () =>
        docker.json<RawNetwork[]>("GET", "/networks", {
          query: { filters: JSON.stringify({ label: labelFilters(labels) }) },
        }),
      );
      return found.map(fromInspect);
    },
  };
}

function fromInspect(info: RawNetwork): NetworkInfo {
  const options = mapOf(info.Options);
  return {
    id: info.Id,
    name: info.Name,
    labels: mapOf(info.Labels),
    internal: info.Internal,
    masquerade: options[MASQUERADE] !== "false",
    subnet: info.IPAM?.Config?.[0]?.Subnet,
    gateway: info.IPAM?.Config?.[0]?.Gateway,
    // A bridge network not named at its creation gets the engine's name for it.
    bridge: info.Driver === "bridge" ? (options[BRIDGE_NAME] ?? `br-${info.Id.slice(0, 12)}`) : undefined,
  };
}
