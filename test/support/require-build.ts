// The examples and the packed tarball import dist/: build it when a source is newer.
import { execFileSync } from "node:child_process";

export default function requireBuild(): void {
  execFileSync("bash", [new URL("../../scripts/lib/build.sh", import.meta.url).pathname], { stdio: "inherit" });
}
