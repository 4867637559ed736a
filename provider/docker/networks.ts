import type Docker from "dockerode";
import { labelFilters } from "./containers.ts";
import { engineCall, engineLookup } from "./errors.ts";
import type { Labels, NetworkInfo, NetworkSpec } from "./types.ts";

export interface NetworkClient {
  create(spec: NetworkSpec): Promise<string>;
  inspect(idOrName: string): Promise<NetworkInfo | undefined>;
  /** Removes the network; absent is fine. */
  remove(idOrName: string): Promise<void>;
  list(labels: Labels): Promise<NetworkInfo[]>;
}

export function networkClient(docker: Docker): NetworkClient {
  return {
    async create(spec) {
      const network = await engineCall(`create network ${spec.name}`, () =>
        docker.createNetwork({
          Name: spec.name,
          Driver: "bridge",
          Internal: spec.internal,
          // Without masquerading, containers get no NAT to the outside, while
          // ports published on 127.0.0.1 still reach them.
          Options: spec.masquerade ? {} : { "com.docker.network.bridge.enable_ip_masquerade": "false" },
          Labels: { ...spec.labels },
          CheckDuplicate: true,
        }),
      );
      return network.id;
    },
    async inspect(idOrName) {
      const info = await engineLookup<Docker.NetworkInspectInfo>(`inspect network ${idOrName}`, () =>
        docker.getNetwork(idOrName).inspect(),
      );
      return info && fromInspect(info);
    },
    async remove(idOrName) {
      await engineLookup(`remove network ${idOrName}`, () => docker.getNetwork(idOrName).remove());
    },
    async list(labels) {
      const found = await engineCall("list networks", () =>
        docker.listNetworks({ filters: { label: labelFilters(labels) } }),
      );
      return found.map(fromInspect);
    },
  };
}

function fromInspect(info: Docker.NetworkInspectInfo): NetworkInfo {
  const options = (info.Options as Record<string, string> | null) ?? {};
  return {
    id: info.Id,
    name: info.Name,
    labels: info.Labels ?? {},
    internal: info.Internal,
    masquerade: options["com.docker.network.bridge.enable_ip_masquerade"] !== "false",
  };
}
