// The documents and commands of the MCP Server Registration guide our users follow
// (../shared/seeds/004_bddb32df0fe420d4.txt), read from the guide itself.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const SEED_GUIDE = resolve(import.meta.dirname, "../../../../shared/seeds/004_bddb32df0fe420d4.txt");

/** Every `kubectl apply -f - <<EOF ... EOF` document of the guide, in order. */
export function seedDocuments(): string[] {
  const text = readFileSync(SEED_GUIDE, "utf8");
  return [...text.matchAll(/kubectl apply -f - <<EOF\n([\s\S]*?)\nEOF/g)].map((match) => match[1] ?? "");
}

/** The guide's curl flow, from "Step 1: Initialize MCP session" to the clean-up line. */
export function seedCurlScript(): string {
  const text = readFileSync(SEED_GUIDE, "utf8");
  const first = "# Step 1: Initialize MCP session";
  const last = "rm -f /tmp/mcp_headers";
  const start = text.indexOf(first);
  const end = text.indexOf(last, start);
  if (start < 0 || end < 0) throw new Error(`the guide's curl flow was not found in ${SEED_GUIDE}`);
  return text.slice(start, end + last.length);
}
