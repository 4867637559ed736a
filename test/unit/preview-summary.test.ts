// The pull-request summary says what the engine will do, in its terms, and
// names a secret's variables without their values.
import { describe, expect, it } from "vitest";
import { previewSummary, type PreviewStep } from "../../provider/cli/preview-summary.ts";
import type { PoolStatus } from "../../provider/index.ts";

const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "[secret]" };
const template = { image: "sandfleet/busybox", memoryMiB: 64 };

function pool(before: Record<string, unknown>, after: Record<string, unknown>): PreviewStep {
  const inputs = { app: "a", name: "py", replicas: 2, template, rollout: "rolling" };
  return {
    op: "update",
    urn: "urn:pulumi:s::p::sandfleet:index:SandboxPool::py",
    oldState: { type: "sandfleet:index:SandboxPool", inputs: { ...inputs, ...before } },
    newState: { type: "sandfleet:index:SandboxPool", inputs: { ...inputs, ...after } },
  };
}

const rowsOf = (summary: string) => summary.split("\n").filter((l) => /^\| (?!resource|---)/.test(l));
const live = (ready: number, claimed: number): Map<string, PoolStatus> =>
  new Map([["a/py", { app: "a", name: "py", replicas: 2, ready, pending: 0, claimed } as PoolStatus]]);

describe("the preview summary", () => {
  it("says a pool that grows creates sandboxes, counted from its live unclaimed members", () => {
    const summary = previewSummary({ steps: [pool({}, { replicas: 5 })] }, live(1, 1), "s");
    expect(summary.split("\n")[0]).toBe("### sandfleet preview of stack `s`: 1 resource changes");
    expect(rowsOf(summary)).toEqual([
      "| SandboxPool `py` | create 4 sandboxes | `replicas`: 2 → 5 | creates 4 sandboxes; 1 claimed member not touched |",
    ]);
  });

  it("says a pool that shrinks removes sandboxes, and one that changes its template and grows does both", () => {
    expect(rowsOf(previewSummary({ steps: [pool({}, { replicas: 1 })] }, live(2, 0), "s"))).toEqual([
      "| SandboxPool `py` | remove 1 sandbox | `replicas`: 2 → 1 | ends and removes 1 sandbox, the newest unclaimed first; no claimed members |",
    ]);
    const both = pool({}, { replicas: 3, template: { ...template, memoryMiB: 96 } });
    expect(rowsOf(previewSummary({ steps: [both] }, live(2, 0), "s"))).toEqual([
      "| SandboxPool `py` | update in place | `replicas`: 2 → 3<br>`template.memoryMiB`: 64 → 96 | rolls 2 unclaimed members to the new template, one at a time, keeping the ready count; creates 1 sandbox; no claimed members |",
    ]);
  });

  it("names the variables a Secret adds and drops, never a value, and the pools that roll for it", () => {
    const secret: PreviewStep = {
      op: "update",
      urn: "urn:pulumi:s::p::sandfleet:index:Secret::token",
      oldState: {
        type: "sandfleet:index:Secret",
        inputs: { app: "a", name: "token", values: SECRET },
        outputs: { keys: ["OLD", "TOKEN"] },
      },
      newState: { type: "sandfleet:index:Secret", inputs: { app: "a", name: "token", values: SECRET } },
    };
    const members = pool({ secretEnv: SECRET }, { secretEnv: SECRET });
    const summary = previewSummary(
      { steps: [secret, members] },
      live(2, 0),
      "s",
      new Map([["a/token", ["NEW", "TOKEN"]]]),
    );
    expect(rowsOf(summary)).toEqual([
      "| Secret `token` | update in place | `values.NEW`: (none) → [secret]<br>`values.OLD`: [secret] → (none) | its values reach sandboxes started from now on: the rows of the sandboxes and pools that name it say which |",
      "| SandboxPool `py` | update in place | `secretEnv`: [secret] → [secret] | rolls 2 unclaimed members to the new template, one at a time, keeping the ready count; no claimed members |",
    ]);
    // Only a value changed: the Secret's values, as a whole.
    const rotated = previewSummary({ steps: [secret] }, new Map(), "s", new Map([["a/token", ["OLD", "TOKEN"]]]));
    expect(rowsOf(rotated)[0]).toContain("| `values`: [secret] → [secret] |");
  });

  it("does not blame a secret for a pool that only lost a member", () => {
    const lost = pool({ secretEnv: SECRET }, { secretEnv: SECRET });
    expect(rowsOf(previewSummary({ steps: [lost] }, live(1, 0), "s"))).toEqual([
      "| SandboxPool `py` | create 1 sandbox | — | creates 1 sandbox; no claimed members |",
    ]);
  });
});
