// The import rule of docs/architecture.md ("Folders and the direction of imports") is the
// linter's: a probe file linted with the repository's own eslint.config.js, as if it lay in the
// folder named, fails on a forbidden import and passes an allowed one. The probe is not in the
// TypeScript project, so it is linted without type information (the type-aware rules are off for
// it); the boundary rule needs none.
import { resolve } from "node:path";
import { expect } from "chai";
import { ESLint, type Linter } from "eslint";

const repoRoot = resolve(import.meta.dirname, "../../..");

const withoutTypes: Linter.Config = {
  files: ["**/*.ts"],
  languageOptions: { parserOptions: { projectService: false } },
  rules: { "@typescript-eslint/no-floating-promises": "off", "@typescript-eslint/no-misused-promises": "off" },
};

describe("lint: import boundaries", function () {
  // Loading the config (typescript-eslint, TypeScript) takes about two seconds: too slow for the
  // unit tier, so this file runs in `make test`.
  this.timeout(20_000);
  let eslint: ESLint;

  before(() => {
    eslint = new ESLint({ cwd: repoRoot, overrideConfig: withoutTypes });
  });

  /** Every message of linting `code` as the file `filePath` (relative to the repository). */
  async function lint(filePath: string, code: string): Promise<Linter.LintMessage[]> {
    const [result] = await eslint.lintText(code, { filePath: resolve(repoRoot, filePath) });
    if (!result) throw new Error(`no lint result for ${filePath}`);
    return result.messages;
  }

  /** The boundary errors of one import, after making sure nothing else (a parse error above all) was said. */
  async function boundaryErrors(filePath: string, from: string): Promise<string[]> {
    const messages = await lint(filePath, `import { probe } from "${from}";\nexport const used = probe;\n`);
    expect(messages.filter((message) => message.ruleId !== "no-restricted-imports"), JSON.stringify(messages)).to.deep.equal([]);
    return messages.filter((message) => message.severity === 2).map((message) => message.message);
  }

  const forbidden: Array<{ file: string; from: string; because: string }> = [
    { file: "internal/kube/zz-probe.ts", from: "../catalog/catalog.js", because: "kube knows nothing above it" },
    { file: "internal/kube/zz-probe.ts", from: "../api/resources.js", because: "kube knows nothing above it" },
    { file: "internal/controller/zz-probe.ts", from: "../registry/source.js", because: "the controller never imports broker runtime" },
    { file: "internal/controller/reconcilers/zz-probe.ts", from: "../../session/signing-key.js", because: "the controller never imports broker runtime" },
    { file: "cmd/controller/zz-probe.ts", from: "../../internal/discovery/directory.js", because: "the controller never imports broker runtime" },
    { file: "internal/contract/zz-probe.ts", from: "../api/group.js", because: "internal/contract holds the schemas and names both binaries agree on" },
    { file: "internal/contract/zz-probe.ts", from: "../kube/api-error.js", because: "internal/contract holds the schemas and names both binaries agree on" },
    { file: "internal/retry/zz-probe.ts", from: "../kube/informer.js", because: "a leaf module" },
    { file: "internal/catalog/zz-probe.ts", from: "../discovery/directory.js", because: "the catalog is below discovery" },
    { file: "internal/broker/zz-probe.ts", from: "../controller/manager.js", because: "broker runtime never imports the controller" },
    { file: "internal/catalog/zz-probe.ts", from: "../api/group.js", because: "broker runtime never imports the controller or the CRD schemas" },
  ];
  for (const { file, from, because } of forbidden) {
    it(`${file} importing ${from} is a no-restricted-imports error`, async () => {
      const errors = await boundaryErrors(file, from);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.include(because);
    });
  }

  const allowed: Array<{ file: string; from: string }> = [
    { file: "internal/kube/zz-probe.ts", from: "../retry/backoff.js" },
    { file: "internal/kube/zz-probe.ts", from: "./api-error.js" },
    { file: "internal/controller/zz-probe.ts", from: "../contract/registry.js" },
    { file: "internal/controller/zz-probe.ts", from: "../kube/informer.js" },
    { file: "internal/contract/zz-probe.ts", from: "zod" },
    { file: "internal/catalog/zz-probe.ts", from: "../contract/tool-names.js" },
  ];
  for (const { file, from } of allowed) {
    it(`${file} importing ${from} passes`, async () => {
      expect(await boundaryErrors(file, from)).to.deep.equal([]);
    });
  }
});
