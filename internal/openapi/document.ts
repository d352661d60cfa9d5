// Loads an OpenAPI 3.0/3.1 document for an `openapi` registry entry: from a URL, a file, a path on
// the REST backend, or inline (text or object), validated and with every $ref resolved by
// @apidevtools/swagger-parser.
import SwaggerParser from "@apidevtools/swagger-parser";
import type { OpenAPI } from "openapi-types";
import { request, type Dispatcher } from "undici";
import { parse as parseYaml } from "yaml";
import type { OpenApiSource } from "../contract/registry.js";
import { describeUpstreamError } from "../upstream/errors.js";

export class OpenApiDocumentError extends Error {}

/**
 * Only a document the registry names as a file may pull in other local files through its $refs;
 * one from the network or inline may not (nor $refs to internal addresses: swagger-parser's safe
 * URL resolver). `headers` (the server's credential) go only to the REST backend's own origin.
 */
export async function loadOpenApiDocument(source: OpenApiSource, baseUrl: string, headers: Record<string, string>, dispatcher: Dispatcher, timeoutMs: number): Promise<OpenAPI.Document> {
  const document = source.documentPath !== undefined ? new URL(source.documentPath, baseUrl).href : source.document;
  if (document === undefined) throw new OpenApiDocumentError("no OpenAPI document configured");
  let api: OpenAPI.Document;
  try {
    if (typeof document === "object") api = await SwaggerParser.validate(structuredClone(document) as unknown as OpenAPI.Document, NO_LOCAL_FILES);
    else if (isUrl(document)) api = await SwaggerParser.validate(parseText(await download(document, baseUrl, headers, dispatcher, timeoutMs)), NO_LOCAL_FILES);
    else if (isInline(document)) api = await SwaggerParser.validate(parseText(document), NO_LOCAL_FILES);
    else api = await SwaggerParser.validate(document);
  } catch (err) {
    if (err instanceof OpenApiDocumentError) throw err;
    throw new OpenApiDocumentError(`invalid OpenAPI document: ${firstLines((err as Error).message)}`, { cause: err });
  }
  if (!("openapi" in api) || typeof api.openapi !== "string" || !api.openapi.startsWith("3.")) {
    throw new OpenApiDocumentError(`unsupported OpenAPI document: only OpenAPI 3.0 and 3.1 are served (got ${"swagger" in api ? `Swagger ${String(api.swagger)}` : "no version"})`);
  }
  return api;
}

const NO_LOCAL_FILES = { resolve: { file: false } } as const;

async function download(url: string, baseUrl: string, headers: Record<string, string>, dispatcher: Dispatcher, timeoutMs: number): Promise<string> {
  const sameOrigin = new URL(url).origin === new URL(baseUrl).origin;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { dispatcher, headers: { accept: "application/json, application/yaml", ...(sameOrigin ? headers : {}) }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new OpenApiDocumentError(`OpenAPI document ${url} not loaded: ${describeUpstreamError(err)}`, { cause: err });
  }
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new OpenApiDocumentError(`OpenAPI document ${url} not loaded: HTTP ${res.statusCode}`);
  return text;
}

/** JSON starts with a brace and YAML has more than one line; any other string is a file path. */
function isInline(text: string): boolean {
  return text.trimStart().startsWith("{") || text.includes("\n");
}

function parseText(text: string): OpenAPI.Document {
  try {
    return parseYaml(text) as OpenAPI.Document;
  } catch (err) {
    throw new OpenApiDocumentError(`invalid OpenAPI document: not JSON or YAML: ${firstLines((err as Error).message)}`, { cause: err });
  }
}

function isUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

function firstLines(text: string): string {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).slice(0, 2).join(" ");
}
