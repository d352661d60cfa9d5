// A JSON answer with its length: a body of known size keeps the keep-alive connection reusable
// without chunked encoding.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";

/** Writes `body` (already serialized JSON) as the whole answer, with `headers` besides the content type and length. */
export function writeJson(res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
