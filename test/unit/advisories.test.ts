import { describe, expect, it } from "vitest";
import { advisoryIssues } from "../../provider/spec/advisories.ts";
import { loadSpec } from "../../provider/spec/load.ts";

function advisories(text: string) {
  const loaded = loadSpec(text, "sandfleet.yaml", "/tmp");
  if (!loaded.spec) throw new Error(JSON.stringify(loaded.issues));
  return advisoryIssues(loaded.spec, loaded.source);
}

describe("advisories for untrusted-looking setups", () => {
  it("warns of runc sandboxes and pool templates that reach the whole internet, at their network", () => {
    const issues = advisories(
      [
        "app: open",
        "internet: true",
        "sandboxes:",
        "  web:",
        "    image: sandfleet/busybox",
        "    network: app",
        "  offline:",
        "    image: sandfleet/busybox",
        "pools:",
        "  py:",
        "    replicas: 1",
        "    template:",
        "      image: sandfleet/busybox",
        "      network: app",
        "      runtime: runc",
        "",
      ].join("\n"),
    );
    expect(issues.map((i) => `${String(i.line)}:${String(i.column)} ${i.path} ${i.severity ?? ""}`)).toEqual([
      "6:14 sandboxes.web.network warning",
      "14:16 pools.py.template.network warning",
    ]);
    expect(issues[0]?.reason).toMatch(/host's kernel \(runc\) and reaches the whole internet/);
  });

  it("says nothing when the app has no internet", () => {
    expect(
      advisories(
        ["app: closed", "sandboxes:", "  web:", "    image: sandfleet/busybox", "    network: app", ""].join("\n"),
      ),
    ).toEqual([]);
  });
});
