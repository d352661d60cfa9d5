// What the work queue holds: typed requests, one per object of our kinds, plus the one request that
// writes every registry Secret (and session key Secret). A request names what to reconcile, never how.
import type { OwnKind } from "../api/resources.js";
import type { Meta } from "./resources.js";

export interface ObjectRequest {
  kind: OwnKind;
  namespace: string;
  name: string;
}

export interface RegistriesRequest {
  kind: "Registries";
}

export type Request = ObjectRequest | RegistriesRequest;
export type RequestKind = Request["kind"];

export const REGISTRIES: RegistriesRequest = { kind: "Registries" };

export function requestFor(kind: OwnKind, meta: Meta): ObjectRequest {
  return { kind, namespace: meta.namespace ?? "", name: meta.name };
}

/** The work queue's identity of a request: equal requests are one key. */
export function requestId(request: Request): string {
  return request.kind === "Registries" ? request.kind : JSON.stringify([request.kind, request.namespace, request.name]);
}

/** What to do after a reconcile: nothing until something changes, or again after a delay. */
export interface Result {
  requeueAfterMs?: number;
}

export const DONE: Result = {};
