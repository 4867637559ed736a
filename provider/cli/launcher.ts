// The installed `sandfleet` command, dist/bin/sandfleet.cjs: it turns on Node's compile cache
// before it loads the CLI's bundle (dist/bin/cli.cjs), so that later runs skip compiling it.
import { createRequire, enableCompileCache } from "node:module";
import { compileCacheDir } from "./compile-cache.ts";

try {
  const dir = compileCacheDir();
  if (dir !== undefined) enableCompileCache(dir);
} catch {
  // No home to keep a cache in: the bundle is compiled each run.
}
createRequire(__filename)("./cli.cjs");
