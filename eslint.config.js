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
  {
    files: ["provider/**/*.ts"],
    // provider/serve/ holds the HTTP servers sandfleet offers (metrics, dashboard), which use the client.
    // provider/runtime/observability/webhook-post.ts is the one client of receivers that are not engines: webhooks.
    ignores: [
      "provider/engines/**",
      "provider/digest.ts",
      "provider/serve/**",
      "provider/runtime/observability/webhook-post.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...["node:http", "node:https", "node:net"].map((name) => ({
              name,
              message: "Only provider/engines/ talks to an engine.",
            })),
            {
              name: "node:crypto",
              allowTypeImports: true,
              message: "Take ids and hashes from provider/digest.ts, which loads node:crypto only when used.",
            },
          ],
        },
      ],
    },
  },
  // The CLI is a shell over the public API: the runtime client (provider/index.ts) and sandfleet/spec.
  ...[
    { files: ["provider/cli/*.ts"], up: "\\.\\./" },
    { files: ["provider/cli/verbs/*.ts"], up: "\\.\\./\\.\\./" },
  ].map(({ files, up }) => ({
    files,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: `^${up}(?!index\\.ts$|spec/index\\.ts$)`,
              message: "The CLI uses only the public API: import from provider/index.ts or provider/spec/index.ts.",
            },
          ],
        },
      ],
    },
  })),
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
