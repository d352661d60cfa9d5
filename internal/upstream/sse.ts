// The legacy HTTP+SSE client transport (MCP 2024-11-05): a GET on the server's SSE URL whose
// first `endpoint` event names the URL to POST messages to; everything the server sends,
// responses included, arrives on that one stream.
import { request } from "undici";
import type { ChannelEvents, MessageChannel } from "./channel.js";
import type { UpstreamTarget } from "./connector.js";
import { SessionExpiredError, UpstreamProtocolError } from "./errors.js";
import { parseJson, readSse, type UpstreamHttp } from "./http.js";

export async function openSseChannel(http: UpstreamHttp, target: UpstreamTarget, events: ChannelEvents, signal?: AbortSignal): Promise<MessageChannel> {
  const stream = new AbortController();
  const abortStream = () => stream.abort();
  signal?.addEventListener("abort", abortStream, { once: true });
  const res = await request(target.url, {
    method: "GET",
    dispatcher: http.agent,
    headers: { ...target.headers, accept: "text/event-stream" },
    signal: stream.signal,
    headersTimeout: http.options.firstByteTimeoutMs,
    bodyTimeout: 0,
  })
    .catch(http.nameTimeout)
    .finally(() => signal?.removeEventListener("abort", abortStream));
  await http.rejectErrors(res.statusCode, res.body, {});
  const contentType = String(res.headers["content-type"] ?? "");
  if (!contentType.startsWith("text/event-stream")) {
    await res.body.dump();
    throw new UpstreamProtocolError(`SSE endpoint answered "${contentType}", not text/event-stream`);
  }

  let closing = false;
  const endpoint = new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UpstreamProtocolError(`no endpoint event within ${http.options.firstByteTimeoutMs} ms`)), http.options.firstByteTimeoutMs);
    const onData = (data: string, event: string) => {
      if (event === "endpoint") {
        clearTimeout(timer);
        resolve(postUrl(target.url, data));
      } else if (event === "message") {
        events.message(parseJson(data));
      }
    };
    readSse(res.body, http.options.maxResponseBytes, onData).then(
      () => {
        clearTimeout(timer);
        const reason = new UpstreamProtocolError("SSE stream ended");
        reject(reason);
        if (!closing) events.closed(reason);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
        if (!closing) events.closed(err instanceof Error ? err : new UpstreamProtocolError(String(err)));
      },
    );
  });
  const postTo = await endpoint.catch((err: unknown) => {
    closing = true;
    stream.abort();
    throw err;
  });

  return {
    async send(message) {
      const posted = await request(postTo, {
        method: "POST",
        dispatcher: http.agent,
        headers: { ...target.headers, "content-type": "application/json" },
        body: message,
        headersTimeout: http.options.firstByteTimeoutMs,
        bodyTimeout: http.options.bodyTimeoutMs,
      }).catch(http.nameTimeout);
      if (posted.statusCode === 404) {
        await posted.body.dump();
        throw new SessionExpiredError();
      }
      await http.rejectErrors(posted.statusCode, posted.body, {});
      await posted.body.dump();
    },
    close() {
      closing = true;
      stream.abort();
      return Promise.resolve();
    },
  };
}

/** The endpoint event's URL, relative to the SSE URL; another origin would send our messages (and credential) elsewhere. */
function postUrl(sseUrl: string, data: string): URL {
  let url: URL;
  try {
    url = new URL(data.trim(), sseUrl);
  } catch {
    throw new UpstreamProtocolError(`SSE endpoint event is not a URL: ${JSON.stringify(data.slice(0, 100))}`);
  }
  const origin = new URL(sseUrl).origin;
  if (url.origin !== origin) throw new UpstreamProtocolError(`SSE endpoint event points to ${url.origin}, not ${origin}`);
  return url;
}
