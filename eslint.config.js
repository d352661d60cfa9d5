// Lint rules: the recommended sets plus type-aware checks that catch unhandled promises,
// which are the usual way a proxy leaks a request.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".cache/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  // Import boundaries (docs/architecture.md, "Folders and the direction of imports"): data flows
  // CRDs -> controller -> registry -> broker -> upstreams, and what both binaries share lives in
  // internal/contract, which imports nothing of either.
  ...boundaries(),
);

function boundaries() {
  const folders = (names) => names.map((name) => `**/${name}/*`);
  const BROKER_RUNTIME = ["auth", "broker", "brokerstatus", "catalog", "discovery", "limits", "metrics", "openapi", "registry", "server", "session", "stdio", "transport", "upstream"];
  const rule = (files, forbidden, message) => ({ files, rules: { "no-restricted-imports": ["error", { patterns: [{ group: folders(forbidden), message }] }] } });
  return [
    rule(["internal/contract/**/*.ts"], ["api", "controller", "kube", "config", "log", "mcp", "retry", ...BROKER_RUNTIME], "internal/contract holds the schemas and names both binaries agree on; it imports nothing of either."),
    rule(["internal/retry/**/*.ts", "internal/log/**/*.ts"], ["api", "contract", "controller", "kube", "config", "mcp", ...BROKER_RUNTIME], "a leaf module: it imports nothing of the gateway."),
    rule(["internal/kube/**/*.ts"], ["api", "controller", "config", "mcp", ...BROKER_RUNTIME], "kube knows nothing above it: only log and retry."),
    rule(["internal/api/**/*.ts"], ["controller", "kube", "config", ...BROKER_RUNTIME], "the CRD schemas import only internal/contract."),
    rule(["internal/controller/**/*.ts", "cmd/controller/**/*.ts"], BROKER_RUNTIME, "the controller never imports broker runtime; what it shares with the broker is in internal/contract."),
    rule(
      BROKER_RUNTIME.map((name) => `internal/${name}/**/*.ts`),
      ["controller", "api"],
      "broker runtime never imports the controller or the CRD schemas; shared schemas are in internal/contract.",
    ),
    // A later rule replaces an earlier one for the files both match, so the catalog's repeats broker runtime's.
    rule(["internal/catalog/**/*.ts"], ["controller", "api", "discovery", "broker", "transport", "session", "upstream"], "the catalog is below discovery (discovery feeds it, not the other way), and broker runtime never imports the controller or the CRD schemas."),
  ];
}
