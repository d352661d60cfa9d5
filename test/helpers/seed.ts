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
