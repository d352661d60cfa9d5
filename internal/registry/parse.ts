// Turns registry YAML text into a validated Registry, with an error message a person can act on.
// Errors name a place (line and column, or the field path), never the text there: the registry
// holds credentials, and the message goes to the log.
import { LineCounter, parse as parseYaml, YAMLError } from "yaml";
import { z } from "zod";
import { RegistrySchema, type Registry } from "../contract/registry.js";

/** The library's own message (without prettyErrors it quotes no source) and where. */
function describeYamlError(err: unknown, lines: LineCounter): string {
  if (!(err instanceof YAMLError)) return "unreadable";
  const at = lines.linePos(err.pos[0]);
  return `${err.message} (${err.code}) at line ${at.line}, column ${at.col}`;
}

export function parseRegistry(text: string): Registry {
  let document: unknown;
  const lines = new LineCounter();
  try {
    // prettyErrors off: the library would otherwise quote the offending line in its message.
    document = parseYaml(text, { prettyErrors: false, lineCounter: lines });
  } catch (err) {
    // eslint-disable-next-line preserve-caught-error -- the cause holds the registry text, credentials included, and would reach the log.
    throw new Error(`registry is not valid YAML: ${describeYamlError(err, lines)}`);
  }
  const parsed = RegistrySchema.safeParse(document ?? {});
  if (!parsed.success) throw new Error(`registry is invalid: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
  return parsed.data;
}
