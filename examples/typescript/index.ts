// A stack written in TypeScript against sandfleet's resources: an image built
// from a local folder, a volume, a secret from stack config, a sandbox that
// uses all three, a snapshot of it, and a second sandbox started from that
// snapshot. Run it with `pulumi up` in this directory.
import * as pulumi from "@pulumi/pulumi";
import { App, Image, Sandbox, Secret, Snapshot, Volume } from "sandfleet/pulumi";

const config = new pulumi.Config();

const app = new App("app", { name: config.get("app") ?? "typescript-example" });

const tools = new Image("tools", {
  app,
  base: "sandfleet/python",
  sourceDir: config.get("sourceDir") ?? import.meta.dirname,
  steps: [
    { copy: { src: "tools", dest: "/opt/tools" } },
    { run: "mkdir -p /data && chown 1000:1000 /data" },
    { env: { PYTHONDONTWRITEBYTECODE: "1" } },
  ],
});

const data = new Volume("data", { app });

const apiKey = new Secret("api", {
  app,
  values: { API_KEY: config.getSecret("apiKey") ?? pulumi.secret("not-a-real-key") },
});

const worker = new Sandbox("worker", {
  app,
  name: "worker",
  image: tools,
  user: "sandbox",
  volumes: { "/data": data },
  secrets: [apiKey],
  memoryMiB: config.getNumber("workerMemoryMiB") ?? 256,
  command: ["sh", "-c", "echo seeded > /home/sandbox/seed; exec sleep infinity"],
  readiness: { exec: ["test", "-f", "/home/sandbox/seed"], intervalMs: 50 },
  tags: { role: "worker" },
});

const seeded = new Snapshot("worker-snapshot", { app, sandbox: worker });

const clone = new Sandbox("clone", { app, name: "clone", image: seeded, user: "sandbox", tags: { role: "clone" } });

export const appName = app.name;
export const imageRef = tools.imageRef;
export const volumeName = data.volumeName;
export const secretKeys = apiKey.keys;
export const workerId = worker.containerId;
export const snapshotRef = seeded.imageRef;
export const cloneId = clone.containerId;
