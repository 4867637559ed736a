import { dockerHostProblem } from "../addresses.ts";
import { booleanProblem } from "../rules.ts";
import { kubernetesTargetProblems } from "../engines/engine-rules.ts";
import type { Engine } from "../engines/port.ts";
import { ConflictError } from "../errors.ts";
import { createAppNetwork } from "../runtime/networks/apps.ts";
import { forgetEgress } from "../runtime/networks/egress.ts";
import { egressNetworkName } from "../runtime/networks/egress-rules.ts";
import { readWebhooks, webhookProblems, writeWebhooks, type Webhook } from "../runtime/observability/webhooks.ts";
import { LABEL, scopeLabels } from "../runtime/engine-state/labels.ts";
import { appNetworkName, nameProblem } from "../runtime/engine-state/names.ts";
import type { FullProvider } from "./delegate.ts";
import { withPlainErrors } from "./plain-errors.ts";
import { changedKeys, pick } from "./diff.ts";
import { engineOf, type Props, requireEngine } from "./engine.ts";

export const APP_INPUT_KEYS = ["name", "internet", "dockerHost", "kubernetes", "webhooks"] as const;
/** What changes in place: the agent reads webhooks afresh on each pass. */
const UPDATABLE_IN_PLACE = new Set<string>(["webhooks"]);

export const appProvider: FullProvider = withPlainErrors({
  async check(_olds: Props, news: Props) {
    const failures: { property: string; reason: string }[] = [];
    if (typeof news.name !== "string") failures.push({ property: "name", reason: "is required" });
    else {
      const problem = nameProblem(news.name);
      if (problem) failures.push({ property: "name", reason: problem });
    }
    const internet = news.internet === undefined ? undefined : booleanProblem(news.internet);
    if (internet) failures.push({ property: "internet", reason: internet });
    failures.push(...webhookProblems(news.webhooks));
    const badHost = news.dockerHost === undefined ? undefined : dockerHostProblem(news.dockerHost);
    if (badHost) failures.push({ property: "dockerHost", reason: badHost });
    if (news.kubernetes !== undefined) {
      for (const p of kubernetesTargetProblems(news.kubernetes))
        failures.push({ property: `kubernetes${p.property ? `.${p.property}` : ""}`, reason: p.reason });
    }
    return { inputs: { ...news, internet: news.internet ?? false, webhooks: news.webhooks ?? [] }, failures };
  },

  async diff(_id: string, olds: Props, news: Props) {
    await requireEngine(news);
    // An app made before webhooks existed has none.
    const changes = changedKeys({ webhooks: [], ...olds }, news, APP_INPUT_KEYS);
    const replaces = changes.filter((key) => !UPDATABLE_IN_PLACE.has(key));
    return { changes: changes.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: Props) {
    const docker = engineOf(inputs);
    const app = inputs.name as string;
    const networkName = appNetworkName(app);
    const networkId = await createOrAdoptNetwork(docker, app, inputs.internet === true);
    try {
      await writeWebhooks(docker, app, webhooksOf(inputs));
    } catch (error) {
      await docker.networks.remove(networkId);
      throw error;
    }
    return { id: networkId, outs: { ...inputs, networkId, networkName } };
  },

  async read(id: string, props: Props) {
    const docker = engineOf(props);
    const network = await docker.networks.inspect(id);
    if (!network) return {};
    const webhooks = (await readWebhooks(docker, props.name as string)).get(props.name as string) ?? [];
    const inputs = { ...pick(props, APP_INPUT_KEYS), internet: network.masquerade, webhooks };
    return { id, props: { ...props, ...inputs, networkId: network.id, networkName: network.name }, inputs };
  },

  async update(_id: string, olds: Props, news: Props) {
    await writeWebhooks(engineOf(news), news.name as string, webhooksOf(news));
    return { outs: { ...olds, ...news } };
  },

  /** Ending an app ends its sandboxes, including those made at run time or claimed from its pools, then its network. */
  async delete(id: string, props: Props) {
    const docker = engineOf(props);
    const owned = await docker.containers.list({ [LABEL.managed]: "true", [LABEL.app]: props.name as string });
    // Their egress policies go first: no address is free with its old list.
    await Promise.all(owned.filter((c) => c.labels[LABEL.egress] !== undefined).map((c) => forgetEgress(docker, c.id)));
    await Promise.all(owned.map((c) => docker.containers.remove(c.id)));
    // Its records go too: claim times, and tags and deadlines set on its live sandboxes.
    const records = await Promise.all(
      (["claim", "tags", "deadline", "webhooks", "connect", "egress", "lock"] as const).map((kind) =>
        docker.records.list(scopeLabels(kind, props.name as string)),
      ),
    );
    await Promise.all(records.flat().map((v) => docker.records.remove(v.name)));
    // The egress network its sandboxes with allowlists were given, made on demand.
    await docker.networks.remove(egressNetworkName(props.name as string));
    await docker.networks.remove(id);
    // What the engine made for the app beside its objects (Kubernetes: image tags, the default-deny policy).
    await docker.releaseApp?.(props.name as string);
  },
});

/**
 * Makes the app's network, or takes the one an earlier run made for this app
 * and lost from its state (a killed `up`, a state restored from an older
 * copy): it carries this app's labels, so it is this app's own. A network of
 * that name that is not sandfleet's network of this app is never taken.
 */
async function createOrAdoptNetwork(docker: Engine, app: string, internet: boolean): Promise<string> {
  try {
    return await createAppNetwork(docker, app, internet);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const found = await docker.networks.inspect(appNetworkName(app));
    const ours = found?.labels[LABEL.managed] === "true" && found.labels[LABEL.app] === app;
    if (!found || !ours) throw error;
    return found.id;
  }
}

function webhooksOf(props: Props): Webhook[] {
  return (props.webhooks as Webhook[] | undefined) ?? [];
}
