import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // Dynamic-provider methods are async by contract even when they do not await.
      "@typescript-eslint/require-await": "off",
    },
  },
  // Which imports each part of provider/ may use. ESLint keeps one setting of a rule per file (the
  // last that matches), so each block below carries every restriction its files are under.
  ...importRules(),
  {
    // @kubernetes/client-node declares its API objects as classes, and is meant to be given plain objects.
    files: ["provider/engines/kubernetes/**/*.ts", "test/unit/kubernetes-mapping.test.ts"],
    rules: { "@typescript-eslint/no-unsafe-class-instance-assignment": "off" },
  },
  {
    files: ["**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
);

/**
 * - Only provider/engines/ talks to an engine (node:http, node:https, node:net), except the HTTP
 *   servers sandfleet offers (provider/serve/) and the webhook poster, the one client of receivers
 *   that are not engines.
 * - Ids and hashes come from provider/digest.ts, which loads node:crypto only when used.
 * - Above the engines, code speaks to the port (engines/port.ts), connects through
 *   engines/connect.ts and reads engine rules from engines/engine-rules.ts: never an engine's folder.
 * - The CLI is a shell over the public API: provider/index.ts and provider/spec/index.ts.
 */
function importRules() {
  const engineCalls = ["node:http", "node:https", "node:net"].map((name) => ({
    name,
    message: "Only provider/engines/ talks to an engine.",
  }));
  const crypto = {
    name: "node:crypto",
    allowTypeImports: true,
    message: "Take ids and hashes from provider/digest.ts, which loads node:crypto only when used.",
  };
  const engineFolders = {
    regex: "/engines/(docker|kubernetes)/",
    message:
      "Only provider/engines/ reaches into an engine: use the port (engines/port.ts) or engines/engine-rules.ts.",
  };
  const publicApi = (up) => ({
    regex: `^${up}(?!index\\.ts$|spec/index\\.ts$)`,
    message: "The CLI uses only the public API: import from provider/index.ts or provider/spec/index.ts.",
  });
  const rule = (paths, patterns) => ({ "no-restricted-imports": ["error", { paths, patterns }] });
  const servers = ["provider/serve/**", "provider/runtime/observability/webhook-post.ts"];
  return [
    {
      files: ["provider/**/*.ts"],
      ignores: ["provider/engines/**", "provider/digest.ts", "provider/cli/**", ...servers],
      rules: rule([...engineCalls, crypto], [engineFolders]),
    },
    { files: servers, rules: rule([crypto], [engineFolders]) },
    { files: ["provider/cli/*.ts"], rules: rule([...engineCalls, crypto], [publicApi("\\.\\./")]) },
    { files: ["provider/cli/verbs/*.ts"], rules: rule([...engineCalls, crypto], [publicApi("\\.\\./\\.\\./")]) },
  ];
}
