import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubectl } from "./kubectl.ts";

/**
 * A pod of the test's own on a node, answering "pod" on 8080: no sandfleet
 * policy selects it, so whatever reaches it is the sender's policy's doing.
 */
export async function listenerPod(name: string, node: string, image: string): Promise<string> {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { "sandfleet-test": "egress-listener" } },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "listener",
          image,
          command: [
            "sh",
            "-c",
            "mkdir -p /tmp/www && echo pod > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    },
  };
  const dir = mkdtempSync(join(tmpdir(), "sf-egress-"));
  writeFileSync(join(dir, "pod.json"), JSON.stringify(pod));
  await kubectl(["apply", "-f", join(dir, "pod.json")]);
  rmSync(dir, { recursive: true });
  await kubectl(["wait", "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]);
  return (await kubectl(["get", "pod", name, "-o", "jsonpath={.status.podIP}"])).trim();
}
