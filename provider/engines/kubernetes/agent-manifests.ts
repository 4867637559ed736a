// `sandfleet agent` as a workload of the cluster it reconciles: its own
// service account bound to sandfleet's role (role.ts) and its lease, two
// replicas of which one leads (a Lease), Pod Security "restricted", and its
// metrics behind a Service that only labelled scrapers reach.
import { registryProblem } from "../../addresses.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { leaseRules, SANDFLEET_ROLE_RULES } from "./role.ts";

/** The agent's objects are all of this name: service account, role, binding, deployment, lease. */
export const AGENT_NAME = "sandfleet-agent";
/** The Role (and its binding) of the agent's lease, where the agent runs. */
export const AGENT_LEASE_ROLE = "sandfleet-agent-lease";
/** The Service in front of the replicas' metrics. */
export const AGENT_METRICS_SERVICE = "sandfleet-agent-metrics";
/** Where each replica serves /metrics and /healthz. */
export const AGENT_METRICS_PORT = 9464;
/** A pod with this label, in a namespace with it, may reach the agent's metrics; sandfleet never sets it on a sandbox. */
export const AGENT_SCRAPER_LABEL = "sandfleet.io/agent-scraper";
/** Every object of the set carries these: what `--delete` and a reader select by. */
export const AGENT_LABELS = { "app.kubernetes.io/name": AGENT_NAME, "app.kubernetes.io/managed-by": "sandfleet" };
/** The replicas' waiting webhook deliveries (an emptyDir: they go with the pod). */
const STATE_VOLUME = "/var/lib/sandfleet";
/** Made by the agent inside the volume, 0700: an emptyDir's own root is writable by anyone. */
const STATE_DIR = `${STATE_VOLUME}/agent`;
/** nobody: the base image's unprivileged user. */
const AGENT_UID = 65534;

export interface AgentManifestOptions {
  /** The namespace of the sandboxes, which the agent reconciles. */
  namespace: string;
  /**
   * Where the agent itself runs (its service account, pods, lease, metrics);
   * default `namespace`. A namespace of its own keeps the agent's service
   * account out of reach of whoever may create pods among the sandboxes
   * (a pod may name any service account of its namespace).
   */
  agentNamespace?: string | undefined;
  /** The agent's image (scripts/lib/agent-image.sh builds one offline). */
  image: string;
  /** The registry sandbox images are in (SANDFLEET_REGISTRY of the agent). */
  registry?: string | undefined;
  /**
   * host:port of the API server, for a cluster whose pods cannot reach the
   * `kubernetes` Service's address (no kube-proxy); default that Service.
   */
  apiServer?: string | undefined;
  /** Only this app's sandboxes and pools. */
  app?: string | undefined;
  replicas?: number | undefined;
}

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

const KUBE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
const APP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Refuses options that would make a manifest the API rejects, or one that reads differently than meant. */
function check(options: AgentManifestOptions): void {
  const bad = (what: string, why: string): never => {
    throw new InvalidArgumentError(`agent manifests: ${what} ${why}`);
  };
  for (const [flag, value] of [
    ["--namespace", options.namespace],
    ["--agent-namespace", options.agentNamespace],
  ] as const)
    if (value !== undefined && (value.length > 63 || !KUBE_NAME.test(value)))
      bad(`${flag} ${JSON.stringify(value)}`, "must be a Kubernetes name like sandboxes");
  if (options.image.length > 255 || !IMAGE.test(options.image))
    bad(`--image ${JSON.stringify(options.image)}`, "must be an image reference like registry:5000/sandfleet/agent:1");
  if (options.registry !== undefined) {
    const problem = registryProblem(options.registry);
    if (problem) bad(`--registry ${JSON.stringify(options.registry)}`, problem);
  }
  if (options.apiServer !== undefined) {
    const port = Number(HOST_PORT.exec(options.apiServer)?.[2] ?? 0);
    if (port < 1 || port > 65535) bad(`--api-server ${JSON.stringify(options.apiServer)}`, "must be host:port");
  }
  if (options.app !== undefined && !APP.test(options.app))
    bad(`--app ${JSON.stringify(options.app)}`, "must be an app name: lowercase letters, digits and -");
  const replicas = options.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 10)
    bad(`--replicas ${String(replicas)}`, "must be a whole number from 1 to 10");
}

/** The agent's manifest set, in the order it applies (and the reverse of the order it is removed). */
export function agentManifests(options: AgentManifestOptions): KubeObject[] {
  check(options);
  const { namespace } = options;
  const home = options.agentNamespace ?? namespace;
  const metadata = (name: string, where = home) => ({ name, namespace: where, labels: { ...AGENT_LABELS } });
  const selector = { "app.kubernetes.io/name": AGENT_NAME };
  const apiServer = options.apiServer ? HOST_PORT.exec(options.apiServer) : null;
  const env = [
    // The pod's name is its identity in the lease: the log and the lease say the same.
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "SANDFLEET_KUBERNETES", value: `/${namespace}` },
    ...(options.registry ? [{ name: "SANDFLEET_REGISTRY", value: options.registry }] : []),
    // No kubeconfig in the image: the client signs in with the service account's token.
    { name: "HOME", value: "/tmp" },
    ...(apiServer
      ? [
          { name: "KUBERNETES_SERVICE_HOST", value: (apiServer[1] ?? "").replace(/^\[|\]$/g, "") },
          { name: "KUBERNETES_SERVICE_PORT", value: apiServer[2] ?? "" },
        ]
      : []),
  ];
  const args = [
    "agent",
    "--json",
    "--metrics-addr",
    `0.0.0.0:${String(AGENT_METRICS_PORT)}`,
    "--state-dir",
    STATE_DIR,
    "--leader-elect",
    AGENT_NAME,
    "--lease-namespace",
    home,
    ...(options.app ? ["--app", options.app] : []),
  ];
  // Both the pod and its namespace: a tenant can label its own pods, a namespace's labels are the admin's.
  const scraper = { [AGENT_SCRAPER_LABEL]: "true" };
  const probe = (path: string) => ({ httpGet: { path, port: "metrics" } });
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(AGENT_NAME) },
    // sandfleet's role among the sandboxes, and the lease where the agent runs: nothing cluster-wide.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: metadata(AGENT_NAME, namespace),
      rules: [...SANDFLEET_ROLE_RULES],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: metadata(AGENT_NAME, namespace),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: AGENT_NAME },
      subjects: [{ kind: "ServiceAccount", name: AGENT_NAME, namespace: home }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: metadata(AGENT_LEASE_ROLE),
      // Its fellow replicas' pods, read by name: a new leader tells a killed one's half-made work by it.
      rules: [...leaseRules(AGENT_NAME), { apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: metadata(AGENT_LEASE_ROLE),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: AGENT_LEASE_ROLE },
      subjects: [{ kind: "ServiceAccount", name: AGENT_NAME, namespace: home }],
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(AGENT_NAME),
      spec: {
        replicas: options.replicas ?? 2,
        selector: { matchLabels: selector },
        // The new pod starts as a follower; the old one gives the lease up as it stops, so the new leads at once.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { ...AGENT_LABELS } },
          spec: {
            serviceAccountName: AGENT_NAME,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: AGENT_UID,
              runAsGroup: AGENT_UID,
              seccompProfile: { type: "RuntimeDefault" },
            },
            // One replica per node where the cluster can: a lost node then takes the leader or the follower, not both.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: "kubernetes.io/hostname",
                      labelSelector: { matchLabels: selector },
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: "agent",
                image: options.image,
                imagePullPolicy: "IfNotPresent",
                args,
                env,
                ports: [{ name: "metrics", containerPort: AGENT_METRICS_PORT, protocol: "TCP" }],
                resources: {
                  requests: { cpu: "50m", memory: "128Mi" },
                  limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "256Mi" },
                },
                livenessProbe: { ...probe("/healthz"), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                readinessProbe: { ...probe("/healthz"), periodSeconds: 5, timeoutSeconds: 3 },
                startupProbe: { ...probe("/healthz"), periodSeconds: 1, failureThreshold: 60 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  privileged: false,
                  capabilities: { drop: ["ALL"] },
                },
                volumeMounts: [
                  { name: "state", mountPath: STATE_VOLUME },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "state", emptyDir: { sizeLimit: "128Mi" } },
              { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(AGENT_METRICS_SERVICE),
      spec: {
        selector,
        ports: [{ name: "metrics", port: AGENT_METRICS_PORT, targetPort: "metrics", protocol: "TCP" }],
      },
    },
    {
      // Sandboxes never reach the agent: only scrapers do, pods labelled so in namespaces labelled so
      // (sandfleet never puts the label on a sandbox). Probes come from the node, which NetworkPolicy does not govern.
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(AGENT_NAME),
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: scraper }, podSelector: { matchLabels: scraper } }] }],
      },
    },
  ];
}
