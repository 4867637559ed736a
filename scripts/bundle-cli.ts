// Bundles the `sandfleet` command into one CommonJS file, dist/bin/cli.cjs,
// started by dist/bin/sandfleet.cjs.
//
// One file, because resolving and linking some fifty ES modules cost a CLI run
// more than the engine's own work for an exec. CommonJS, because an ES module
// that imports a Node built-in builds that module's whole namespace (node:util
// drags in its diff engine, node:crypto its argon2), where require() does not.
// Verbs and heavy packages stay lazy: each runs its module's code only when
// used. The packages themselves (ajv, tar-fs) are not bundled; they load from
// the package's own dependencies. Two are, because a call to a cluster needs
// them (the kubeconfig is YAML, an exec a WebSocket) and finding their many
// files one require at a time cost more than parsing them: yaml and ws.
import { chmodSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const BUNDLED = new Set(["yaml", "ws"]);
const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as Record<
  string,
  Record<string, string> | undefined
>;
const external = [
  ...["dependencies", "devDependencies", "peerDependencies"].flatMap((key) => Object.keys(manifest[key] ?? {})),
  // ws's optional native helpers, which it requires only if they are there.
  "bufferutil",
  "utf-8-validate",
].filter((name) => !BUNDLED.has(name));

// Both files: one CommonJS file each, for the Node versions the package supports.
const commonJs = { bundle: true, format: "cjs", platform: "node", target: "node22", logLevel: "warning" } as const;

await build({
  ...commonJs,
  entryPoints: [new URL("../provider/cli/bin.ts", import.meta.url).pathname],
  outfile: new URL("../dist/bin/cli.cjs", import.meta.url).pathname,
  external: external.flatMap((name) => [name, `${name}/*`]),
  // What import.meta gives the sources, in CommonJS terms.
  define: { "import.meta.resolve": "__resolveFromBundle", "import.meta.main": "false" },
  banner: {
    js: [
      'const __resolveFromBundle = (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href;',
    ].join("\n"),
  },
});

// The command itself, provider/cli/launcher.ts: it turns on Node's compile
// cache, in a folder of this user's own, before it loads the bundle.
await build({
  ...commonJs,
  entryPoints: [new URL("../provider/cli/launcher.ts", import.meta.url).pathname],
  outfile: new URL("../dist/bin/sandfleet.cjs", import.meta.url).pathname,
  banner: { js: "#!/usr/bin/env node" },
});
chmodSync(new URL("../dist/bin/sandfleet.cjs", import.meta.url), 0o755);
