// Turns registry YAML text into a validated Registry, with an error message a person can act on.
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RegistrySchema, type Registry } from "./schema.js";

export function parseRegistry(text: string): Registry {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new Error(`registry is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = RegistrySchema.safeParse(document ?? {});
  if (!parsed.success) throw new Error(`registry is invalid: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
  return parsed.data;
}
