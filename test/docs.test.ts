// The operations guide must list every flag of both binaries with its environment variable and default, as the code has them.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "chai";
import { BROKER_OPTIONS } from "../internal/config/broker-options.js";
import { CONTROLLER_OPTIONS } from "../internal/config/controller-options.js";
import { refusalTable } from "../internal/transport/refusals.js";

describe("docs", () => {
  it("docs/operations.md lists every flag of both binaries, with variable and default", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/operations.md"), "utf8");
    for (const option of [...BROKER_OPTIONS, ...CONTROLLER_OPTIONS]) {
      expect(doc, option.flag).to.include(`| \`--${option.flag}\` | \`${option.env}\` | \`${option.default}\` | ${option.description} |`);
    }
  });

  it("docs/operations.md carries the transport's refusal table as internal/transport/refusals.ts produces it", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/operations.md"), "utf8");
    expect(doc).to.include(refusalTable());
  });
});
