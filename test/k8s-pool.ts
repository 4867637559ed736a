import { poolProvider } from "../provider/resources/pool-provider.ts";
import { TEST_CLUSTER } from "./support/cluster.ts";
const template = {
  image: "sandfleet/busybox",
  memoryMiB: 32,
  command: ["sh", "-c", "touch /tmp/ready; exec sleep infinity"],
  readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 50 },
};
const app = "pooltime" + Date.now().toString(36);
const checked = (await poolProvider.check({}, { app, name: "w", replicas: 20, template, kubernetes: TEST_CLUSTER }))
  .inputs as Record<string, unknown>;
const t0 = Date.now();
const c = await poolProvider.create(checked);
console.log("pool of 20", Date.now() - t0);
await poolProvider.delete(c.id, c.outs as Record<string, unknown>);
