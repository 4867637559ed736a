import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { fatalWaiting } from "../../provider/engines/kubernetes/pods.ts";

/** A pod as the API server returns it (JSON, not the library's classes), its sandbox container waiting. */
function waitingPod(reason: string, message: string): V1Pod {
  return JSON.parse(
    JSON.stringify({ status: { containerStatuses: [{ name: "sandbox", state: { waiting: { reason, message } } }] } }),
  ) as V1Pod;
}

describe("a pod's container waiting to start", () => {
  it("fails the start at once for what never resolves by itself", () => {
    for (const [reason, message] of [
      ["ErrImagePull", "pull access denied"],
      ["InvalidImageName", "couldn't parse image name"],
      ["CreateContainerConfigError", 'secret "sf-1-env" not found'],
      ["CreateContainerError", "failed to create containerd container"],
    ] as const) {
      expect(fatalWaiting(waitingPod(reason, message))?.reason).toBe(reason);
    }
  });

  it("waits on while a busy kubelet has not yet read the pod's Secret or ConfigMap: it retries by itself", () => {
    for (const message of [
      "failed to sync secret cache: timed out waiting for the condition",
      "failed to sync configmap cache: timed out waiting for the condition",
    ]) {
      expect(fatalWaiting(waitingPod("CreateContainerConfigError", message))).toBeUndefined();
    }
    expect(fatalWaiting(waitingPod("ContainerCreating", ""))).toBeUndefined();
  });
});
