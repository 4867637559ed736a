import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { serveGateway } from "../../provider/serve/gateway.ts";
import { ARTIFACTS, launchBrowser, visit } from "../support/browser.ts";
import { sandfleet } from "../support/cli.ts";
import { cleanupApp, docker, leftovers, NOTHING } from "../support/engine.ts";
import { exampleStack as exampleStackOn } from "../support/example-stack.ts";

const examples = new URL("../../examples/", import.meta.url).pathname;
const exampleStack = (example: string) => exampleStackOn(example, cleanupApp);

describe("the web-service example, through the sandfleet CLI", () => {
  const example = exampleStack("web-service");
  beforeAll(() => example.init());
  afterAll(() => example.dispose());

  it("serves through a tunnel on 127.0.0.1 once up returns", async () => {
    const env = { PULUMI_BACKEND_URL: `file://${example.stack.backendDir}` };
    const up = await sandfleet(["up", "-C", join(examples, "web-service"), "--stack", example.stack.stack], { env });
    expect(up.code).toBe(0);
    const [web] = await Sandbox.list({ app: example.app });
    const [tunnel] = web ? await (await Sandbox.fromId(web.id)).tunnels() : [];
    expect(tunnel?.containerPort).toBe(8000);
    const page = await fetch(tunnel?.url ?? "");
    expect(await page.text()).toContain("served from a sandbox");

    // Shared through the gateway: the URL `sandfleet url` prints, opened in a browser.
    const gateway = await serveGateway(new Sandfleet({ docker }), { address: "127.0.0.1:0" });
    const browser = await launchBrowser();
    try {
      const made = await sandfleet(["url", `${example.app}/web`, "8000", "--ttl", "10m", "--gateway", gateway.url]);
      expect(made.code, made.stderr).toBe(0);
      const tab = await browser.newPage();
      const origin = new URL(made.stdout.trim()).origin;
      await visit(tab, made.stdout.trim());
      // On the port's own origin, the token moved into a cookie.
      expect(tab.url()).toBe(`${origin}/`);
      expect(await tab.locator("p").textContent()).toBe("served from a sandbox");
      await tab.screenshot({ path: `${ARTIFACTS}web-service-through-gateway.png` });
      // Another browser, without the URL, gets nothing.
      const stranger = await browser.newContext();
      const refused = await visit(await stranger.newPage(), origin);
      expect(refused?.status()).toBe(401);
    } finally {
      await browser.close();
      await gateway.close();
    }
    const destroy = await sandfleet(["destroy", "-C", join(examples, "web-service"), "--stack", example.stack.stack], {
      env,
    });
    expect(destroy.code).toBe(0);
    expect(await leftovers(example.app)).toEqual(NOTHING);
  });
});
