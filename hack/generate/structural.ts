// Turns zod 4's OpenAPI 3.0 output into a Kubernetes *structural* schema (apiextensions.k8s.io/v1
// JSONSchemaProps): every node typed, no $ref, no type unions, only keywords the API server accepts.
// Anything that cannot be said structurally throws, naming the field, rather than being dropped.
import { z } from "zod";

export type Schema = { [key: string]: unknown };

/** Keywords that mean the same in zod's output and in a CRD, copied as they are. */
const KEPT = new Set([
  "type",
  "description",
  "title",
  "default",
  "example",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "required",
  "enum",
  "nullable",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-embedded-resource",
]);

/** Keywords without a CRD counterpart that carry no validation: dropped. */
const DROPPED = new Set(["$schema", "$id", "id", "$comment", "deprecated", "readOnly", "writeOnly"]);

/** The string formats kube-apiserver validates (apiextensions' supported formats). */
const KUBERNETES_FORMATS = new Set([
  "bsonobjectid",
  "uri",
  "email",
  "hostname",
  "ipv4",
  "ipv6",
  "cidr",
  "mac",
  "uuid",
  "uuid3",
  "uuid4",
  "uuid5",
  "isbn",
  "isbn10",
  "isbn13",
  "creditcard",
  "ssn",
  "hexcolor",
  "rgbcolor",
  "byte",
  "password",
  "date",
  "duration",
  "datetime",
  "date-time",
  "int32",
  "int64",
  "float",
  "double",
]);

const SCALAR_TYPES = new Set(["string", "integer", "number", "boolean"]);

export class StructuralSchemaError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "StructuralSchemaError";
  }
}

/** zod's JSON Schema for what users write (`io: "input"`: defaulted fields are optional), every subschema inlined. */
export function zodToOpenApi(schema: z.ZodType): Schema {
  return z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", reused: "inline", cycles: "throw", unrepresentable: "throw" }) as Schema;
}

/** zod schema -> structural CRD schema. `path` names the node in error messages (e.g. "MCPServerRegistration.spec"). */
export function structuralSchema(schema: z.ZodType, path: string): Schema {
  let json: Schema;
  try {
    json = zodToOpenApi(schema);
  } catch (err) {
    // Recursive (z.lazy) and unrepresentable (z.date, z.bigint, transforms) schemas end here.
    throw new StructuralSchemaError(path, `zod cannot express it as one JSON Schema: ${(err as Error).message.split("\n")[0] ?? ""}`);
  }
  return toStructural(json, path);
}

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A union branch that only admits null: `{type: "null"}`, or OpenAPI 3.0's `{type: "string", nullable: true, enum: [null]}`. */
function isNullOnly(node: Schema): boolean {
  if (node.type === "null") return true;
  return Array.isArray(node.enum) && node.enum.length === 1 && node.enum[0] === null;
}

export function toStructural(input: unknown, path: string): Schema {
  if (input === true) return { "x-kubernetes-preserve-unknown-fields": true };
  if (!isObject(input)) throw new StructuralSchemaError(path, `expected a schema object, got ${JSON.stringify(input)}`);
  let node: Schema = { ...input };

  for (const key of ["$ref", "$defs", "definitions"]) {
    if (key in node) throw new StructuralSchemaError(path, `${key} is not allowed in a CRD schema (the generator inlines reused schemas; recursive schemas cannot be a CRD)`);
  }

  // Unions: T | null becomes a nullable T, a union of literals one enum; anything else has no structural form.
  if ("anyOf" in node || "oneOf" in node) {
    const { anyOf, oneOf, ...rest } = node;
    const branches = ((anyOf ?? oneOf) as unknown[]).map((branch, i) => {
      if (!isObject(branch)) throw new StructuralSchemaError(path, `union branch ${i} is not a schema`);
      return branch;
    });
    const nonNull = branches.filter((branch) => !isNullOnly(branch));
    const nullable = nonNull.length < branches.length;
    let merged: Schema;
    if (nonNull.length === 1) {
      merged = { ...nonNull[0], ...rest };
    } else if (isEnumUnion(nonNull)) {
      merged = { type: nonNull[0]?.type, ...rest, enum: nonNull.flatMap((branch) => (branch.enum as unknown[] | undefined) ?? [branch.const]) };
    } else {
      throw new StructuralSchemaError(path, "unions of different types or object shapes are not structural; use one object with optional fields and a CEL rule");
    }
    if (nullable) merged.nullable = true;
    node = merged;
  }

  for (const key of ["allOf", "not", "if", "then", "else", "prefixItems", "patternProperties", "dependentSchemas", "dependentRequired", "unevaluatedProperties", "unevaluatedItems", "contains"]) {
    if (key in node) throw new StructuralSchemaError(path, `${key} is not supported in a CRD schema`);
  }

  if ("const" in node) {
    node.enum = [node.const];
    delete node.const;
  }
  if (Array.isArray(node.type)) {
    const types = (node.type as string[]).filter((type) => type !== "null");
    if (types.length < (node.type as string[]).length) node.nullable = true;
    if (types.length !== 1) throw new StructuralSchemaError(path, `a field must have exactly one type, not ${JSON.stringify(node.type)}`);
    node.type = types[0];
  }
  if (node.type === "null") throw new StructuralSchemaError(path, "a field that can only be null cannot be a CRD field");
  if (Array.isArray(node.enum) && node.enum.includes(null)) {
    node.enum = node.enum.filter((value) => value !== null);
    node.nullable = true;
  }

  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}.${key}`;
    switch (key) {
      case "properties": {
        if (!isObject(value)) throw new StructuralSchemaError(at, "expected an object");
        out.properties = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, toStructural(child, `${path}.${name}`)]));
        break;
      }
      case "items": {
        if (Array.isArray(value)) throw new StructuralSchemaError(at, "tuples are not structural; use an object");
        out.items = toStructural(value, `${path}[]`);
        break;
      }
      case "additionalProperties": {
        if (value === false) break; // Unknown fields are pruned anyway; `false` is not allowed.
        if (value === true || (isObject(value) && Object.keys(value).length === 0)) {
          out["x-kubernetes-preserve-unknown-fields"] = true;
        } else {
          if ("properties" in node) throw new StructuralSchemaError(at, "properties and additionalProperties cannot both be set in a CRD schema");
          out.additionalProperties = toStructural(value, `${path}[*]`);
        }
        break;
      }
      case "propertyNames": {
        // Map keys are strings in any case; a key pattern has no structural keyword.
        if (!(isObject(value) && Object.keys(value).every((k) => k === "type") && value.type === "string")) {
          throw new StructuralSchemaError(at, "constraints on map keys are not supported; validate them with a CEL rule");
        }
        break;
      }
      case "format": {
        if (KUBERNETES_FORMATS.has(String(value))) out.format = value;
        else if (!("pattern" in node)) throw new StructuralSchemaError(at, `format ${JSON.stringify(value)} is unknown to Kubernetes and has no pattern to fall back on`);
        // Otherwise zod's pattern carries the check (e.g. startsWith -> format "starts_with" + pattern).
        break;
      }
      case "exclusiveMinimum":
      case "exclusiveMaximum": {
        if (typeof value === "number") {
          out[key === "exclusiveMinimum" ? "minimum" : "maximum"] = value;
          out[key] = true;
        } else if (value === true) {
          out[key] = true;
        }
        break;
      }
      case "minimum":
      case "maximum": {
        // zod bounds every .int() by the safe-integer range; the API server's int64 needs no such bound.
        if (node.type === "integer" && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) break;
        if (!(key in out)) out[key] = value;
        break;
      }
      case "uniqueItems": {
        if (value !== true) break;
        // The API server forbids uniqueItems (quadratic); a set-typed list says the same for scalars.
        const items = node.items;
        if (!isObject(items) || !SCALAR_TYPES.has(String(items.type))) throw new StructuralSchemaError(at, "uniqueItems works only for lists of scalars (x-kubernetes-list-type: set)");
        const listType = node["x-kubernetes-list-type"];
        if (listType !== undefined && listType !== "set") throw new StructuralSchemaError(at, `uniqueItems conflicts with x-kubernetes-list-type ${JSON.stringify(listType)}`);
        out["x-kubernetes-list-type"] = "set";
        break;
      }
      case "examples": {
        if (Array.isArray(value) && value.length > 0) out.example = value[0];
        break;
      }
      default: {
        if (KEPT.has(key)) out[key] = value;
        else if (!DROPPED.has(key)) throw new StructuralSchemaError(at, `keyword ${JSON.stringify(key)} has no CRD counterpart`);
      }
    }
  }

  if (out.type === undefined && out["x-kubernetes-preserve-unknown-fields"] !== true && out["x-kubernetes-int-or-string"] !== true) {
    const constraints = Object.keys(out).filter((key) => !["description", "title", "default", "example", "nullable"].includes(key));
    if (constraints.length > 0) throw new StructuralSchemaError(path, `a field with constraints (${constraints.join(", ")}) needs a type`);
    out["x-kubernetes-preserve-unknown-fields"] = true; // z.unknown()/z.any(): any JSON value.
  }
  if (out.type === "array" && out.items === undefined) throw new StructuralSchemaError(path, "an array needs an item schema");
  return out;
}

function isEnumUnion(branches: Schema[]): boolean {
  const first = branches[0];
  if (first === undefined || !SCALAR_TYPES.has(String(first.type))) return false;
  return branches.every(
    (branch) => branch.type === first.type && ("const" in branch || Array.isArray(branch.enum)) && Object.keys(branch).every((key) => ["type", "const", "enum"].includes(key)),
  );
}

/** A copy with every object's keys in alphabetical order, so the output never depends on declaration order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys(value[key])]),
  );
}
