// Bundles the `sandfleet` command into one CommonJS file, dist/bin/cli.cjs,
// started by dist/bin/sandfleet.cjs.
//
// One file, because resolving and linking some fifty ES modules cost a CLI run
// more than the engine's own work for an exec. CommonJS, because an ES module
// that imports a Node built-in builds that module's whole namespace (node:util
// drags in its diff engine, node:crypto its argon2), where require() does not.
// Verbs and heavy packages stay lazy: each runs its module's code only when
// used. The packages themselves (yaml, ajv, tar-fs) are not bundled; they
// load from the package's own dependencies.
import { writeFileSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: [new URL("../provider/cli/bin.ts", import.meta.url).pathname],
  outfile: new URL("../dist/bin/cli.cjs", import.meta.url).pathname,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node22",
  packages: "external",
  logLevel: "warning",
  // What import.meta gives the sources, in CommonJS terms.
  define: { "import.meta.resolve": "__resolveFromBundle", "import.meta.main": "false" },
  banner: {
    js: [
      'const __resolveFromBundle = (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href;',
    ].join("\n"),
  },
});

// The command itself: it turns on Node's compile cache before loading the
// bundle, so that later runs skip compiling it (a few ms each).
writeFileSync(
  new URL("../dist/bin/sandfleet.cjs", import.meta.url),
  ["#!/usr/bin/env node", 'require("node:module").enableCompileCache?.();', 'require("./cli.cjs");', ""].join("\n"),
  { mode: 0o755 },
);
