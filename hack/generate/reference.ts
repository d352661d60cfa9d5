// docs/crd-reference.md: every field of every resource, from the same structural schemas as the CRDs.
import { API_VERSION } from "../../internal/api/group.js";
import type { ResourceDefinition } from "../../internal/api/resources.js";
import { CATEGORIES, crdFileName, resourceSchema } from "./crd.js";
import type { Schema } from "./structural.js";

interface Field {
  path: string;
  schema: Schema;
  required: boolean;
}

interface Rule {
  path: string;
  rule: string;
  message?: string;
}

/** Table cells: a pipe would end the cell (even inside backticks), a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function code(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.includes("`") ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function typeName(schema: Schema): string {
  if (schema["x-kubernetes-int-or-string"] === true) return "int or string";
  if (schema.type === "array") return `[]${typeName((schema.items as Schema | undefined) ?? {})}`;
  if (schema.type === "object" && schema.additionalProperties !== undefined) return `map[string]${typeName(schema.additionalProperties as Schema)}`;
  if (schema.type === undefined) return "any";
  return String(schema.type);
}

function range(min: unknown, max: unknown, exclusiveMin: unknown, exclusiveMax: unknown, unit = ""): string | undefined {
  const lo = min === undefined ? undefined : `${exclusiveMin === true ? ">" : "≥"} ${String(min)}`;
  const hi = max === undefined ? undefined : `${exclusiveMax === true ? "<" : "≤"} ${String(max)}`;
  if (lo !== undefined && hi !== undefined && exclusiveMin !== true && exclusiveMax !== true) return `${unit}${String(min)}–${String(max)}`;
  const parts = [lo, hi].filter((part) => part !== undefined);
  return parts.length === 0 ? undefined : `${unit}${parts.join(", ")}`;
}

function validation(schema: Schema): string {
  const parts: string[] = [];
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map(code).join(", ")}`);
  if (schema.pattern !== undefined) parts.push(`pattern ${code(schema.pattern)}`);
  if (schema.format !== undefined) parts.push(`format ${code(schema.format)}`);
  const length = range(schema.minLength, schema.maxLength, undefined, undefined, "length ");
  if (length !== undefined) parts.push(length);
  const value = range(schema.minimum, schema.maximum, schema.exclusiveMinimum, schema.exclusiveMaximum);
  if (value !== undefined) parts.push(value);
  if (schema.multipleOf !== undefined) parts.push(`multiple of ${String(schema.multipleOf)}`);
  const items = range(schema.minItems, schema.maxItems, undefined, undefined, "items ");
  if (items !== undefined) parts.push(items);
  const properties = range(schema.minProperties, schema.maxProperties, undefined, undefined, "entries ");
  if (properties !== undefined) parts.push(properties);
  const listType = schema["x-kubernetes-list-type"];
  if (listType === "map") parts.push(`list map keyed by ${((schema["x-kubernetes-list-map-keys"] as string[] | undefined) ?? []).map(code).join(", ")}`);
  else if (listType !== undefined) parts.push(`list type ${code(listType)}`);
  if (schema.nullable === true) parts.push("may be null");
  if (Array.isArray(schema["x-kubernetes-validations"]) && schema["x-kubernetes-validations"].length > 0) parts.push("CEL rules below");
  return parts.join("; ");
}

function collect(schema: Schema, path: string, fields: Field[], rules: Rule[]): void {
  for (const entry of (schema["x-kubernetes-validations"] as { rule: string; message?: string }[] | undefined) ?? []) {
    rules.push({ path, rule: entry.rule, ...(entry.message === undefined ? {} : { message: entry.message }) });
  }
  const required = new Set((schema.required as string[] | undefined) ?? []);
  for (const [name, child] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const childPath = path === "" ? name : `${path}.${name}`;
    fields.push({ path: childPath, schema: child, required: required.has(name) });
    collect(child, childPath, fields, rules);
  }
  if (schema.items !== undefined) {
    const items = schema.items as Schema;
    // Scalar items get a row of their own when they are constrained (e.g. non-empty strings).
    if (items.properties === undefined && validation(items) !== "") fields.push({ path: `${path}[]`, schema: items, required: false });
    collect(items, `${path}[]`, fields, rules);
  }
  if (schema.additionalProperties !== undefined) {
    const values = schema.additionalProperties as Schema;
    if (values.properties === undefined && validation(values) !== "") fields.push({ path: `${path}[*]`, schema: values, required: false });
    collect(values, `${path}[*]`, fields, rules);
  }
}

function section(title: string, root: string, schema: Schema): string[] {
  const fields: Field[] = [];
  const rules: Rule[] = [];
  collect(schema, root, fields, rules);
  const lines = [`### ${title}`, ""];
  if (typeof schema.description === "string") lines.push(schema.description, "");
  if (fields.length === 0) {
    lines.push("No fields.", "");
  } else {
    lines.push("| Field | Type | Required | Default | Validation | Description |", "| --- | --- | --- | --- | --- | --- |");
    for (const field of fields) {
      const s = field.schema;
      lines.push(
        `| ${cell(code(field.path))} | ${cell(typeName(s))} | ${field.required ? "yes" : ""} | ${s.default === undefined ? "" : cell(code(s.default))} | ${cell(validation(s))} | ${cell(typeof s.description === "string" ? s.description : "")} |`,
      );
    }
    lines.push("");
  }
  if (rules.length > 0) {
    lines.push("CEL rules (checked by the API server; on update, `oldSelf` is the stored value):", "");
    for (const rule of rules) lines.push(`- on ${code(rule.path)}: ${code(rule.rule)}${rule.message === undefined ? "" : `, rejected with "${rule.message}"`}`);
    lines.push("");
  }
  return lines;
}

function anchor(kind: string): string {
  return kind.toLowerCase();
}

function resourceReference(resource: ResourceDefinition): string[] {
  const schema = resourceSchema(resource);
  const properties = schema.properties as Record<string, Schema>;
  const lines = [
    `## ${resource.kind}`,
    "",
    resource.description,
    "",
    "| | |",
    "| --- | --- |",
    `| API version | \`${API_VERSION}\` |`,
    `| Kind | \`${resource.kind}\` |`,
    "| Scope | Namespaced |",
    `| Plural / singular | \`${resource.plural}\` / \`${resource.singular}\` |`,
    `| Short names | ${resource.shortNames.map(code).join(", ")} |`,
    `| Categories | ${CATEGORIES.map(code).join(", ")} (\`kubectl get ${CATEGORIES[0] ?? ""}\` lists every kind of this API) |`,
    "| Subresources | `status` |",
    `| CRD | [config/crd/${crdFileName(resource)}](../config/crd/${crdFileName(resource)}) |`,
    "",
    `### Columns of \`kubectl get ${resource.shortNames[0] ?? resource.plural}\``,
    "",
    "| Column | Type | JSONPath | Description |",
    "| --- | --- | --- | --- |",
    "| NAME | string | `.metadata.name` | Name of the resource |",
    ...resource.columns.map((column) => `| ${column.name.toUpperCase()} | ${column.type} | ${cell(code(column.jsonPath))} | ${cell(column.description ?? "")} |`),
    "",
    ...section("spec", "spec", properties.spec as Schema),
    ...section("status", "status", properties.status as Schema),
  ];
  return lines;
}

export function renderReference(resources: ResourceDefinition[], header: string): string {
  const lines = [
    `<!-- ${header} -->`,
    "",
    "# API reference: `" + API_VERSION + "`",
    "",
    "All resources are namespaced. Fields marked *yes* under Required must be set; fields with a",
    "default are filled in by the API server when left out. Validation is done by the API server",
    "(OpenAPI schema and CEL rules in the CRDs), so `kubectl apply` rejects an invalid resource with",
    "the reason. Regenerate this page and the CRDs with `make generate` (`npx tsc -p tsconfig.json && node dist/hack/gen-crds.js`).",
    "",
    ...resources.map((resource) => `- [${resource.kind}](#${anchor(resource.kind)}) (\`${resource.shortNames.join("`, `")}\`)`),
    "",
    ...resources.flatMap(resourceReference),
  ];
  return `${lines.join("\n").replace(/\n+$/, "")}\n`;
}
