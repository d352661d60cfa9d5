// client-node's generated API calls have no timeout of their own: a call to an API server that stopped
// answering would hang for undici's 5 minutes. These per-call options attach an AbortSignal instead.
import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from "@kubernetes/client-node";

export function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    // The default, "replace", would drop any middleware the API client was configured with.
    middlewareMergeStrategy: "append",
  };
}
