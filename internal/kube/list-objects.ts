// One consistent LIST of a resource path, page by page as client-go does, so that a large collection does not
// cost the API server one huge response. A raw GET: client-node's typed clients cannot list an arbitrary
// group/version/plural (CustomObjectsApi has no core group, KubernetesObjectApi wants a kind).
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from "@kubernetes/client-node";
import { statusMessage } from "./api-error.js";
import type { ObjectWithMetadata } from "./resource.js";

const PAGE_SIZE = 500;
const REQUEST_TIMEOUT_MS = 60_000;

/** A non-2xx answer of the API server; statusCode 410 means an expired resourceVersion or continue token. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ObjectList<T> {
  items: T[];
  /** Where a watch picks up after this list. */
  resourceVersion: string;
}

interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

const http = new IsomorphicFetchHttpLibrary();

export async function listObjects<T extends ObjectWithMetadata>(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal): Promise<ObjectList<T>> {
  const items: T[] = [];
  let resourceVersion: string;
  let continueToken = "";
  do {
    const page = await getJson<ListPage<T>>(kc, path, { ...query, limit: String(PAGE_SIZE), ...(continueToken && { continue: continueToken }) }, signal);
    // The items of a list carry no apiVersion/kind (the list does); watch events do. Fill them in, so that
    // consumers (events, owner references) see the same shape either way.
    const kind = page.kind?.replace(/List$/, "");
    for (const item of page.items ?? []) items.push({ apiVersion: page.apiVersion, kind, ...item } as T);
    resourceVersion = page.metadata?.resourceVersion ?? "";
    continueToken = page.metadata?.continue ?? "";
  } while (continueToken);
  return { items, resourceVersion };
}

async function getJson<T>(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(cluster.server + path);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const request = new RequestContext(url.toString(), HttpMethod.GET);
  await kc.applySecurityAuthentication(request);
  request.setSignal(AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]));
  const response = await http.send(request).toPromise();
  const body = await response.body.text();
  if (response.httpStatusCode !== 200) throw new ApiError(response.httpStatusCode, statusMessage(body) ?? `HTTP ${response.httpStatusCode} from GET ${path}`);
  return JSON.parse(body) as T;
}

