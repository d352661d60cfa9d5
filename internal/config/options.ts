// Command-line options declared once as a table: each flag has an environment variable and a
// default, a zod schema validates the lot, and --help and the docs are rendered from the table.
import { parseArgs } from "node:util";
import { z } from "zod";

export interface OptionSpec {
  flag: string;
  env: string;
  description: string;
  default: string;
}

export function usage(command: string, specs: readonly OptionSpec[]): string {
  const lines = specs.map((option) => `  --${option.flag} (env ${option.env}, default ${JSON.stringify(option.default)})\n      ${option.description}`);
  return `Usage: ${command} [options]\n\n${lines.join("\n")}\n`;
}

/** Flags win over environment variables, which win over defaults. Throws with a readable message. */
export function parseOptions<Schema extends z.ZodType>(specs: readonly OptionSpec[], schema: Schema, argv: string[], env: NodeJS.ProcessEnv): z.infer<Schema> | "help" {
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: "boolean" }, ...Object.fromEntries(specs.map((option) => [option.flag, { type: "string" as const }])) },
    strict: true,
  });
  if (values.help) return "help";
  const raw = Object.fromEntries(specs.map((option) => [option.flag, (values as Record<string, unknown>)[option.flag] ?? env[option.env] ?? option.default]));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  return parsed.data;
}
