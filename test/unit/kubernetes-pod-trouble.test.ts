// How a pod's node loss, eviction and readiness read, from the pod alone, and what the runtime makes of them.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { podEvents } from "../../provider/engines/kubernetes/events.ts";
import { errorText, translateKubernetesError } from "../../provider/engines/kubernetes/errors.ts";
import { openExec } from "../../provider/engines/kubernetes/exec-failure.ts";
import { podTrouble } from "../../provider/engines/kubernetes/pod-trouble.ts";
import { podInfo, podStatus } from "../../provider/engines/kubernetes/pods.ts";
import { EngineUnavailableError } from "../../provider/errors.ts";
import { engineEndReason } from "../../provider/runtime/engine-state/event-kinds.ts";
import { isClaimable, parseMember } from "../../provider/runtime/pools/pool.ts";

const started = "2026-01-01T10:00:00Z";

/** A pod as the API server returns it: JSON, times as strings (the client's classes are never made here). */
function pod(status: object, extra: object = {}): V1Pod {
  return JSON.parse(
    JSON.stringify({
      metadata: { name: "sf-0123456789ab", creationTimestamp: started, ...extra },
      spec: { nodeName: "node-b", containers: [{ name: "sandbox" }] },
      status,
    }),
  ) as V1Pod;
}
const running = (ready: boolean) => [
  { name: "sandbox", ready, image: "i", imageID: "", restartCount: 0, state: { running: { startedAt: started } } },
];
const condition = (type: string, status: string, at: string, reason?: string, message?: string) => ({
  type,
  status,
  lastTransitionTime: at,
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
});

describe("a pod's trouble, read off the pod", () => {
  it("is nothing for a running, Ready pod, or one still starting", () => {
    expect(
      podTrouble(
        pod({ phase: "Running", containerStatuses: running(true), conditions: [condition("Ready", "True", started)] }),
      ),
    ).toBeUndefined();
    // Not yet Ready since it started: only starting.
    const starting = pod({
      phase: "Running",
      containerStatuses: running(false),
      conditions: [condition("Ready", "False", "2026-01-01T09:59:59Z", "ContainersNotReady")],
    });
    expect(podTrouble(starting)).toBeUndefined();
    expect(podStatus(starting)).toBe("running");
  });

  it("is node-lost, ended, once the cluster marks the pod not ready while its kubelet last said ready", () => {
    const lost = pod({
      phase: "Running",
      containerStatuses: running(true),
      conditions: [condition("Ready", "False", "2026-01-01T10:05:00Z")],
    });
    expect(podTrouble(lost)).toMatchObject({
      reason: "node-lost",
      ended: true,
      node: "node-b",
      sinceMs: Date.parse("2026-01-01T10:05:00Z"),
    });
    expect(podTrouble(lost)?.detail).toContain("pod sf-0123456789ab on node node-b");
    expect(podStatus(lost)).toBe("exited");
    expect(podInfo(lost, {}, [])).toMatchObject({ running: false, status: "exited", exitCode: 137 });
  });

  it("is node-lost from the taint manager's eviction, at the cluster's first mark, whichever came first", () => {
    const evicted = pod(
      {
        phase: "Running",
        containerStatuses: running(true),
        conditions: [
          condition("Ready", "False", "2026-01-01T10:05:00Z"),
          condition(
            "DisruptionTarget",
            "True",
            "2026-01-01T10:05:01Z",
            "DeletionByTaintManager",
            "Taint manager: deleting due to NoExecute taint",
          ),
        ],
      },
      { deletionTimestamp: "2026-01-01T10:05:03Z" },
    );
    expect(podTrouble(evicted)).toMatchObject({
      reason: "node-lost",
      ended: true,
      sinceMs: Date.parse("2026-01-01T10:05:00Z"),
    });
    // Terminating forever (its kubelet never confirms): exited, not "removing".
    expect(podStatus(evicted)).toBe("exited");
    const die = podEvents(evicted).find((e) => e.action === "die");
    expect(die).toMatchObject({
      timeMs: Date.parse("2026-01-01T10:05:00Z"),
      attributes: { exitCode: "137", endReason: "node-lost" },
    });
  });

  it("names the resource of a kubelet's eviction", () => {
    const evicted = (message: string) =>
      podTrouble(
        pod({
          phase: "Failed",
          reason: "Evicted",
          message,
          containerStatuses: [
            {
              name: "sandbox",
              ready: false,
              image: "i",
              imageID: "",
              restartCount: 0,
              state: { terminated: { exitCode: 143, finishedAt: started } },
            },
          ],
        }),
      );
    expect(evicted("Pod ephemeral local storage usage exceeds the total limit of containers 16777216.")).toMatchObject({
      reason: "evicted: disk",
      ended: true,
    });
    expect(evicted("The node was low on resource: memory. Threshold quantity: 100Mi")?.reason).toBe("evicted: memory");
    expect(evicted("The node was low on resource: pids.")?.reason).toBe("evicted: pids");
    expect(evicted("")?.reason).toBe("evicted: node-pressure");
  });

  it("is evicted: api for the Eviction API, and not-ready (not ended) for a pod that was Ready and no longer is", () => {
    const drained = pod(
      {
        phase: "Running",
        containerStatuses: running(true),
        conditions: [condition("DisruptionTarget", "True", started, "EvictionByEvictionAPI", "Eviction API: evicting")],
      },
      { deletionTimestamp: started },
    );
    expect(podTrouble(drained)).toMatchObject({ reason: "evicted: api", ended: true });
    const later = pod({
      phase: "Running",
      conditions: [condition("DisruptionTarget", "True", started, "DeletionByNewController")],
    });
    expect(engineEndReason(podTrouble(later)?.reason)).toBe("evicted: deletion-by-new-controller");
    const unready = pod({
      phase: "Running",
      containerStatuses: running(false),
      conditions: [
        condition(
          "Ready",
          "False",
          "2026-01-01T10:03:00Z",
          "ContainersNotReady",
          "containers with unready status: [sandbox]",
        ),
      ],
    });
    expect(podTrouble(unready)).toMatchObject({ reason: "not-ready", ended: false });
    expect(podStatus(unready)).toBe("running");
  });
});

describe("what the runtime makes of it", () => {
  const summary = (name: string, trouble?: { reason: string; ended: boolean }) => ({
    id: "sf-0123456789ab",
    name,
    labels: {},
    status: trouble?.ended ? ("exited" as const) : ("running" as const),
    createdMs: 0,
    ports: {},
    ...(trouble ? { trouble: { ...trouble, detail: "d", sinceMs: 0, node: "node-b" } } : {}),
  });

  it("never claims a warm member the engine finds wrong", () => {
    const name = "sandfleet-pm-3-app-py-w-1a2b";
    const member = (trouble?: { reason: string; ended: boolean }) => {
      const parsed = parseMember("app", "py", summary(name, trouble));
      if (!parsed) throw new Error("not a member");
      return parsed;
    };
    expect(isClaimable(member())).toBe(true);
    expect(isClaimable(member({ reason: "not-ready", ended: false }))).toBe(false);
    expect(isClaimable(member({ reason: "node-lost", ended: true }))).toBe(false);
  });

  it("takes only the engine's end reasons it knows the shape of", () => {
    expect(engineEndReason("node-lost")).toBe("node-lost");
    expect(engineEndReason("evicted: disk")).toBe("evicted: disk");
    expect(engineEndReason("not-ready")).toBeUndefined();
    expect(engineEndReason("evicted: \u001b[31mred")).toBeUndefined();
    expect(engineEndReason(undefined)).toBeUndefined();
  });
});

describe("errors from the Kubernetes client", () => {
  // What the library's WebSocket rejects with: an event, not an Error (cast below only to reject with it).
  const socketError = {
    type: "error",
    message: "Unexpected server response: 500",
    error: new Error("Unexpected server response: 500"),
  };

  it("never read as [object Object]", () => {
    expect(errorText(socketError)).toBe("Unexpected server response: 500");
    expect(errorText({ error: new Error("inner") })).toBe("inner");
    expect(errorText({ odd: 1 })).toBe('{"odd":1}');
    expect(translateKubernetesError(socketError, "exec in pod sf-1", "cluster").message).toBe(
      "exec in pod sf-1 on cluster: Unexpected server response: 500",
    );
  });

  it("say an exec's pod's node does not answer, as the engine unreachable", async () => {
    const lost = pod({
      phase: "Running",
      containerStatuses: running(true),
      conditions: [condition("Ready", "False", started)],
    });
    const failing = openExec(
      async () => lost,
      "sf-0123456789ab",
    )(() => Promise.reject(socketError as unknown as Error));
    await expect(failing).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(
      openExec(async () => lost, "sf-0123456789ab")(() => Promise.reject(socketError as unknown as Error)),
    ).rejects.toThrow(/^the pod's node node-b does not answer \(node-lost: pod sf-0123456789ab on node node-b/);
  });
});

describe("the time of a node loss", () => {
  it("is the eviction's for a pod that was never Ready, not the time it started", () => {
    const neverReady = pod(
      {
        phase: "Running",
        containerStatuses: running(false),
        conditions: [
          condition("Ready", "False", started, "ContainersNotReady"),
          condition("DisruptionTarget", "True", "2026-01-01T10:05:01Z", "DeletionByTaintManager"),
        ],
      },
      { deletionTimestamp: "2026-01-01T10:05:03Z" },
    );
    expect(podTrouble(neverReady)).toMatchObject({ reason: "node-lost", sinceMs: Date.parse("2026-01-01T10:05:01Z") });
  });
});

describe("an exec's opening", () => {
  it("is bounded: a node that never answers fails it, naming the node, and a socket that opens late is closed", async () => {
    const healthy = pod({
      phase: "Running",
      containerStatuses: running(true),
      conditions: [condition("Ready", "True", started)],
    });
    let closed = false;
    let openLate!: (socket: { close(): void }) => void;
    const opening = openExec(
      async () => healthy,
      "sf-0123456789ab",
      50,
    )(() => new Promise<{ close(): void }>((resolve) => (openLate = resolve)));
    await expect(opening).rejects.toThrow(
      /^an exec in pod sf-0123456789ab did not open in 0.05 s: its node node-b does not answer$/,
    );
    openLate({ close: () => (closed = true) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });
});

describe("the cluster's words", () => {
  it("reach a terminal printable only", () => {
    const evicted = pod({ phase: "Failed", reason: "Evicted", message: "disk \u001b]52;c;aGk=\u0007 full\r\n" });
    expect(podTrouble(evicted)?.detail).toBe(
      "pod sf-0123456789ab on node node-b was evicted by its kubelet: disk  ]52;c;aGk=  full  ",
    );
  });
});
