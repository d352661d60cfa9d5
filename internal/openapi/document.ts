// Loads an OpenAPI 3.0/3.1 document for an `openapi` registry entry: from a URL, a file, a path on
// the REST backend, or inline (text or object), validated and with every $ref resolved by
// @apidevtools/swagger-parser.
import SwaggerParser from "@apidevtools/swagger-parser";
import type { OpenAPI } from "openapi-types";
import { parse as parseYaml } from "yaml";
import type { OpenApiSource } from "../registry/schema.js";

export class OpenApiDocumentError extends Error {}

/**
 * `headers` (the server's credential) go only to the REST backend's own origin: a document URL
 * elsewhere is fetched without them.
 */
export async function loadOpenApiDocument(source: OpenApiSource, baseUrl: string, headers: Record<string, string>, timeoutMs: number): Promise<OpenAPI.Document> {
  const located = locate(source, baseUrl);
  const sameOrigin = typeof located === "string" && isUrl(located) && new URL(located).origin === new URL(baseUrl).origin;
  let api: OpenAPI.Document;
  try {
    api = await SwaggerParser.validate(located, { resolve: { http: { headers: sameOrigin ? headers : {}, timeout: timeoutMs } } });
  } catch (err) {
    throw new OpenApiDocumentError(`invalid OpenAPI document: ${firstLine((err as Error).message)}`, { cause: err });
  }
  if (!("openapi" in api) || typeof api.openapi !== "string" || !api.openapi.startsWith("3.")) {
    throw new OpenApiDocumentError(`unsupported OpenAPI document: only OpenAPI 3.0 and 3.1 are served (got ${"swagger" in api ? `Swagger ${String(api.swagger)}` : "no version"})`);
  }
  return api;
}

/** What swagger-parser is handed: a URL or file path it reads itself (so relative $refs resolve), or the document as an object. */
function locate(source: OpenApiSource, baseUrl: string): string | OpenAPI.Document {
  if (source.documentPath !== undefined) return new URL(source.documentPath, baseUrl).href;
  const document = source.document;
  if (typeof document === "object") return structuredClone(document) as unknown as OpenAPI.Document;
  if (document === undefined) throw new OpenApiDocumentError("no OpenAPI document configured");
  if (isUrl(document)) return document;
  // Inline text: JSON starts with a brace, YAML has more than one line; anything else is a path.
  if (document.trimStart().startsWith("{") || document.includes("\n")) {
    try {
      return parseYaml(document) as OpenAPI.Document;
    } catch (err) {
      throw new OpenApiDocumentError(`invalid OpenAPI document: not JSON or YAML: ${firstLine((err as Error).message)}`, { cause: err });
    }
  }
  return document;
}

function isUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

function firstLine(text: string): string {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).slice(0, 2).join(" ");
}
