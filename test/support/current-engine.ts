// The current Docker Engine the bootstrap runs beside the main one
// (scripts/lib/engine-current.sh): the tests whose outcome depends on the
// engine's version run on it too, pointed at it by DOCKER_HOST as a user's
// commands would be (vitest.config.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Its DOCKER_HOST, as the bootstrap wrote it; where the bootstrap puts it when the file is not there yet. */
export function currentEngineHost(): string {
  const cache = process.env.SANDFLEET_CACHE ?? "/var/cache/sandfleet";
  const file = process.env.SANDFLEET_CURRENT_ENGINE_HOST_FILE ?? join(cache, "engine-current-host");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "unix:///run/sandfleet-current/docker.sock";
  }
}
