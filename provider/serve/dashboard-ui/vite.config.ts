import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard's page, built into dist/dashboard with the package: Preact,
// with JSX compiled by Vite's own transformer (no plugin).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
});
