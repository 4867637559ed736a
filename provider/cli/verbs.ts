import type { Verb } from "./verb.ts";

/** A verb as the top-level help shows it; its module is loaded only when it runs or shows its own help. */
export interface VerbEntry {
  name: string;
  summary: string;
  load(): Promise<Verb>;
}

export const VERBS: readonly VerbEntry[] = [
  { name: "ls", summary: "list sandboxes", load: async () => (await import("./verbs/ls.ts")).ls },
  {
    name: "exec",
    summary: "run a command in a sandbox; its exit code is passed through",
    load: async () => (await import("./verbs/exec.ts")).exec,
  },
  {
    name: "logs",
    summary: "print what a sandbox's main process wrote; -f follows",
    load: async () => (await import("./verbs/logs.ts")).logs,
  },
  {
    name: "top",
    summary: "what each sandbox uses now: CPU, memory, processes, network",
    load: async () => (await import("./verbs/top.ts")).top,
  },
  {
    name: "dashboard",
    summary: "serve a local web page of apps, pools and sandboxes, with their logs and events",
    load: async () => (await import("./verbs/dashboard.ts")).dashboard,
  },
  {
    name: "url",
    summary: "print a URL that opens a sandbox's port through the gateway, with a token that expires",
    load: async () => (await import("./verbs/url.ts")).url,
  },
  {
    name: "gateway",
    summary: "serve connect-token URLs: each request admitted by its token, forwarded to that sandbox's port",
    load: async () => (await import("./verbs/gateway.ts")).gateway,
  },
  {
    name: "events",
    summary: "stream sandboxes' lifecycle: created, ready, claimed, paused, resumed, ended (and why)",
    load: async () => (await import("./verbs/events.ts")).events,
  },
  {
    name: "pause",
    summary: "freeze sandboxes: memory and files kept, no CPU; the next exec resumes one",
    load: async () => (await import("./verbs/pause.ts")).pause,
  },
  {
    name: "resume",
    summary: "thaw paused sandboxes",
    load: async () => (await import("./verbs/pause.ts")).resume,
  },
  {
    name: "extend",
    summary: "give a live sandbox a new lifetime from now, longer or shorter",
    load: async () => (await import("./verbs/extend.ts")).extend,
  },
  {
    name: "terminate",
    summary: "end sandboxes (they report exit code 137); --rm also removes them",
    load: async () => (await import("./verbs/terminate.ts")).terminate,
  },
  {
    name: "snapshot",
    summary: "commit a sandbox's filesystem to an image and print its reference",
    load: async () => (await import("./verbs/snapshot.ts")).snapshot,
  },
  {
    name: "claim",
    summary: "take one ready sandbox from a warm pool and print its id",
    load: async () => (await import("./verbs/claim.ts")).claim,
  },
  {
    name: "pools",
    summary: "list warm pools with their ready, pending and claimed members",
    load: async () => (await import("./verbs/pools.ts")).pools,
  },
  {
    name: "gc",
    summary: "remove ended runtime sandboxes and unused runtime snapshots (never what a stack owns)",
    load: async () => (await import("./verbs/gc.ts")).gc,
  },
  {
    name: "agent",
    summary: "keep lifetimes and warm pools true: end expired and idle sandboxes, refill pools",
    load: async () => (await import("./verbs/agent.ts")).agent,
  },
  {
    name: "validate",
    summary: "check sandfleet.yaml files; every problem as file:line:column  path: reason",
    load: async () => (await import("./verbs/validate.ts")).validate,
  },
  {
    name: "schema",
    summary: "print the JSON Schema of sandfleet.yaml (for editors: # yaml-language-server: $schema=...)",
    load: async () => (await import("./verbs/schema.ts")).schema,
  },
  {
    name: "preview",
    summary: "show what `up` would change (pulumi preview --diff); --summary markdown for a pull request",
    load: async () => (await import("./pulumi.ts")).pulumiVerb("preview", ["preview", "--diff"]),
  },
  {
    name: "up",
    summary: "provision the stack (pulumi up)",
    load: async () => (await import("./pulumi.ts")).pulumiVerb("up", ["up", "--yes", "--skip-preview"]),
  },
  {
    name: "refresh",
    summary: "read the engine's objects back into the stack's state (pulumi refresh)",
    load: async () => (await import("./pulumi.ts")).pulumiVerb("refresh", ["refresh", "--yes", "--skip-preview"]),
  },
  {
    name: "destroy",
    summary: "remove everything the stack made (pulumi destroy)",
    load: async () => (await import("./pulumi.ts")).pulumiVerb("destroy", ["destroy", "--yes", "--skip-preview"]),
  },
];
