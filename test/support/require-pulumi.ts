// End-to-end tests drive the real pulumi binary; without it they fail, not skip.
import { execFileSync } from "node:child_process";

export default function requirePulumi(): void {
  for (const binary of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "pipe" });
    } catch {
      throw new Error(`${binary} is not on PATH; run the tests through \`npm test\` (scripts/bootstrap builds it)`);
    }
  }
  execFileSync("pulumi", ["version"], { stdio: "pipe" });
}
