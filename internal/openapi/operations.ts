// Each operation of an OpenAPI document as an MCP tool: its name (operationId, else method and
// path), its description (summary and description), an input schema with one property per path,
// query and header parameter plus `body` for a JSON request body; and a call's arguments as the
// HTTP request that operation describes.
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { OpenAPI } from "openapi-types";
import { MAX_CLIENT_NAME_LENGTH } from "../contract/tool-names.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const LOCATIONS = new Set(["path", "query", "header"]);

export interface OperationParameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  /** Arrays in a query: `a=1&a=2` (explode, the default) or `a=1,2`. */
  explode: boolean;
}

export interface Operation {
  tool: Tool;
  method: string;
  /** The path template, e.g. /pet/{petId}. */
  path: string;
  parameters: OperationParameter[];
  /** The input property holding the JSON request body, when the operation takes one. */
  body?: { property: string; contentType: string };
}

type Json = Record<string, unknown>;

export function operationsOf(api: OpenAPI.Document): Operation[] {
  const operations: Operation[] = [];
  const names = new Set<string>();
  for (const [path, item] of Object.entries((api.paths ?? {}) as Record<string, Json | undefined>)) {
    if (!item) continue;
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      const name = uniqueName(toolName(typeof operation.operationId === "string" ? operation.operationId : `${method}_${path}`), names);
      operations.push(describe(name, method, path, operation, mergedParameters(item.parameters, operation.parameters)));
    }
  }
  return operations;
}

/** Path-level parameters apply unless the operation redefines them (same name and location). */
function mergedParameters(pathLevel: unknown, operationLevel: unknown): Json[] {
  const merged = new Map<string, Json>();
  for (const list of [pathLevel, operationLevel]) {
    for (const parameter of Array.isArray(list) ? (list as Json[]) : []) merged.set(`${String(parameter.in)}:${String(parameter.name)}`, parameter);
  }
  return [...merged.values()].filter((parameter) => LOCATIONS.has(String(parameter.in)));
}

function describe(name: string, method: string, path: string, operation: Json, parameterObjects: Json[]): Operation {
  const properties: Record<string, object> = {};
  const required: string[] = [];
  const parameters: OperationParameter[] = [];
  for (const parameter of parameterObjects) {
    const parameterName = String(parameter.name);
    const location = parameter.in as OperationParameter["in"];
    const isRequired = location === "path" || parameter.required === true;
    const schema = { ...acyclic(parameter.schema ?? { type: "string" }) as Json };
    if (typeof parameter.description === "string" && schema.description === undefined) schema.description = parameter.description;
    properties[parameterName] = schema;
    if (isRequired) required.push(parameterName);
    parameters.push({ name: parameterName, in: location, required: isRequired, explode: parameter.explode !== false });
  }
  let body: Operation["body"];
  const requestBody = operation.requestBody as Json | undefined;
  const content = (requestBody?.content ?? {}) as Record<string, Json>;
  const contentType = Object.keys(content).find((type) => /^application\/([\w.+-]*\+)?json\b/i.test(type));
  if (contentType) {
    const property = properties.body === undefined ? "body" : "requestBody";
    const schema = { ...acyclic(content[contentType]?.schema ?? {}) as Json };
    if (typeof requestBody?.description === "string" && schema.description === undefined) schema.description = requestBody.description;
    properties[property] = schema;
    if (requestBody?.required === true) required.push(property);
    body = { property, contentType };
  }
  const inputSchema: Tool["inputSchema"] = { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
  const text = [operation.summary, operation.description].filter((part): part is string => typeof part === "string" && part.trim() !== "");
  const tool: Tool = { name, inputSchema, ...(text.length > 0 ? { description: [...new Set(text)].join("\n\n") } : {}) };
  if (method === "get" || method === "head") tool.annotations = { readOnlyHint: true };
  return { tool, method: method.toUpperCase(), path, parameters, body };
}

/** Letters, digits, _ and - only, at most 64 characters. */
function toolName(raw: string): string {
  const name = raw.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/_+/g, "_").replace(/^_|_$/g, "");
  return (name || "operation").slice(0, MAX_CLIENT_NAME_LENGTH);
}

function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name.slice(0, MAX_CLIENT_NAME_LENGTH - String(n).length - 1)}_${n}`;
  taken.add(candidate);
  return candidate;
}

/** A copy of a dereferenced schema that JSON can carry: a schema that contains itself becomes `{}` (anything) where it recurs. */
function acyclic(value: unknown, ancestors: Set<unknown> = new Set()): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.has(value)) return {};
  ancestors.add(value);
  const copy = Array.isArray(value) ? value.map((item) => acyclic(item, ancestors)) : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, acyclic(item, ancestors)]));
  ancestors.delete(value);
  return copy;
}

export interface HttpCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** The HTTP request for a call; a missing required argument is an Error whose message the caller sees. */
export function httpCallFor(operation: Operation, baseUrl: string, args: Record<string, unknown>): HttpCall {
  const headers: Record<string, string> = { accept: "application/json" };
  const query = new URLSearchParams();
  let path = operation.path;
  for (const parameter of operation.parameters) {
    const value = args[parameter.name];
    if (value === undefined || value === null) {
      if (parameter.required) throw new Error(`missing required ${parameter.in} parameter "${parameter.name}"`);
      continue;
    }
    if (parameter.in === "path") path = path.replaceAll(`{${parameter.name}}`, encodeURIComponent(scalar(value)));
    else if (parameter.in === "header") headers[parameter.name.toLowerCase()] = scalar(value);
    else if (Array.isArray(value) && parameter.explode) for (const item of value) query.append(parameter.name, scalar(item));
    else query.append(parameter.name, Array.isArray(value) ? value.map(scalar).join(",") : scalar(value));
  }
  const search = query.size > 0 ? `?${query.toString()}` : "";
  const call: HttpCall = { url: `${baseUrl.replace(/\/+$/, "")}${path}${search}`, method: operation.method, headers };
  const body = operation.body ? args[operation.body.property] : undefined;
  if (operation.body && body !== undefined) {
    call.headers["content-type"] = operation.body.contentType;
    call.body = JSON.stringify(body);
  }
  return call;
}

function scalar(value: unknown): string {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}
