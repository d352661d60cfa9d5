// Everything that travels between a client and its upstreams besides requests and their answers:
// what an upstream sends while answering (progress for the client's token, log messages), its
// requests to the client (sampling, elicitation, roots) under gateway ids and the client's answers
// back, cancellations both ways, resource updates from upstream streams and list changes.
import type { IncomingHttpHeaders } from "node:http";
import type { ListChange, ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import { errorResponse, ErrorCode, isNotification, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { Notification } from "../mcp/protocol.js";
import { forwardedRequestOrigin, type GatewaySession, type InflightCall, type RequestAsker } from "../session/session.js";
import type { SessionStore } from "../session/store.js";
import type { RequestChannel } from "../transport/post-responder.js";
import { describeUpstreamError } from "../upstream/errors.js";
import type { UpstreamSession } from "../upstream/session.js";
import { clientToken } from "./client-token.js";
import type { SessionUpstreams } from "./session-upstreams.js";

/** From an upstream's own stream, clients get updates of resources they subscribed to and log messages; list changes come from discovery. */
function isRelayedUpdate(session: GatewaySession, notification: JsonRpcNotification): boolean {
  if (notification.method === Notification.ResourceUpdated) return session.isSubscribed(String(notification.params?.uri));
  return !notification.method.endsWith("/list_changed");
}

export class Relay {
  constructor(
    private readonly directory: ServerDirectory,
    private readonly store: SessionStore,
    private readonly upstreams: SessionUpstreams,
    private readonly log: Logger,
  ) {}

  /** Passes what an upstream session sends while answering to the client, giving its requests gateway ids. */
  duringCall(session: GatewaySession, server: string, upstream: UpstreamSession, message: JsonRpcMessage, channel: RequestChannel, progressToken: unknown): void {
    if (isNotification(message) && message.method === Notification.Cancelled) {
      this.relayCancellation(session, upstream, message, channel);
      return;
    }
    if (!isRequest(message)) {
      this.passNotification(message, channel, progressToken);
      return;
    }
    this.forwardToClient(session, server, upstream, message, channel);
  }

  /**
   * What a per-request (2026-07-28) upstream sends while answering: notifications only (that era
   * has no server-to-client requests, and nothing of the upstream's to withdraw).
   */
  duringPerRequestCall(message: JsonRpcMessage, channel: RequestChannel, progressToken: unknown): void {
    if (isNotification(message) && message.method !== Notification.Cancelled) this.passNotification(message, channel, progressToken);
  }

  /** Progress is passed only for the token the client asked with: anything else could collide with the client's own tokens. */
  private passNotification(message: JsonRpcMessage, channel: RequestChannel, progressToken: unknown): void {
    if (!isNotification(message) || message.method !== Notification.Progress || (progressToken !== undefined && message.params?.progressToken === progressToken)) {
      channel.send(message);
    }
  }

  /**
   * What an upstream sends on its own GET stream goes to the client's streams. A request there
   * (sampling, elicitation, roots sent outside the call they serve) goes on the stream of the call
   * in flight on that upstream session when there is exactly one, so a client without a GET stream
   * still gets it; else on the session's GET stream.
   */
  fromUpstreamStream(session: GatewaySession, server: string): (upstream: UpstreamSession) => (message: JsonRpcMessage) => void {
    return (upstream) => (message) => {
      if (isRequest(message)) {
        this.forwardToClient(session, server, upstream, message, session.soleCall(upstream)?.stream);
      } else if (isNotification(message) && message.method === Notification.Cancelled) {
        this.relayCancellation(session, upstream, message);
      } else if (isNotification(message) && isRelayedUpdate(session, message)) {
        this.notifyClient(session, message);
      }
    };
  }

  /**
   * The client answered a request an upstream sent it: the answer goes back under the upstream's id
   * (settles once sent, or not sendable). A request this replica did not send was asked by a call
   * on another one: the id names the upstream, whose upstream session this replica reaches as well
   * as that one; anything else (the question of a call to an upstream without sessions, waiting on
   * the replica running it) is handed to the other replicas, and the one running the call takes it.
   */
  answerUpstream(session: GatewaySession, response: JsonRpcResponse, headers: IncomingHttpHeaders | undefined): Promise<void> {
    const here = this.answerHere(session, response, headers);
    if (here) return here;
    const origin = forwardedRequestOrigin(response.id);
    const server = origin && session.recordedUpstream(origin.server) ? this.directory.server(origin.server) : undefined;
    if (origin && server && headers) return this.replyUpstream(session, this.upstreams.upstreamFor(session, server, headers), origin.upstreamId, response, clientToken(server, headers));
    if (!origin || !this.store.answerElsewhere(session, response)) this.log.debug({ session: session.id, id: response.id }, "response to an unknown request ignored");
    return Promise.resolve();
  }

  /**
   * The answer to a request this replica sent the client, to whoever asked it (settles once sent);
   * undefined when it sent none under that id. Handed over by another replica, it comes without
   * the client's headers: the asker then gets no client token (none travels between replicas).
   */
  answerHere(session: GatewaySession, response: JsonRpcResponse, headers: IncomingHttpHeaders | undefined): Promise<void> | undefined {
    const forwarded = session.takeForwarded(response.id);
    if (!forwarded) return undefined;
    return this.replyUpstream(session, Promise.resolve(forwarded.upstream), forwarded.upstreamId, response, clientToken(this.directory.server(forwarded.server), headers));
  }

  /** The client cancelled a request: stopped here, or by the replica running it (a load balancer may have sent it there). */
  clientCancelled(session: GatewaySession, params: Params, headers: IncomingHttpHeaders): void {
    if (!this.cancel(session, params, headers.authorization)) this.store.cancelElsewhere(session, params);
  }

  /**
   * Stops a request this replica runs for the session. The upstream is told (MCP: it then sends
   * no answer), and only after that the gateway stops waiting, so the upstream never sees its
   * answer stream closed before the cancellation.
   */
  cancel(session: GatewaySession, params: Params, authorization?: string): boolean {
    const call = session.inflightCall(params.requestId);
    if (!call) return false;
    const told = this.tellUpstreamCancelled(call, params, authorization);
    if (told) void told.finally(() => call.abort.abort());
    else call.abort.abort();
    return true;
  }

  /**
   * MCP: whoever gives up on a request tells the other side, so the upstream can stop working on
   * it. Undefined when the request has not gone out yet; else settles once told (or not reachable).
   */
  tellUpstreamCancelled(call: InflightCall, params: Params, authorization = call.authorization): Promise<void> | undefined {
    if (!call.upstream || call.upstreamId === undefined) return undefined;
    return call.upstream.notify(Notification.Cancelled, { ...params, requestId: call.upstreamId }, authorization).catch(() => undefined);
  }

  /** The client's roots changed: every upstream session it holds hears it. */
  rootsChanged(session: GatewaySession, headers: IncomingHttpHeaders): void {
    void this.upstreams.forEach(session, headers, (upstream, authorization) => upstream.notify(Notification.RootsListChanged, undefined, authorization));
  }

  /** Lists changed: every session of the store hears it now, or when it opens a stream. */
  announce(kinds: Set<ListChange>): void {
    const methods = [...kinds].map((kind) => `notifications/${kind}/list_changed`);
    for (const session of this.store.all()) {
      for (const method of methods) session.announceListChange(method);
    }
  }

  /**
   * An upstream's request goes to the client on the call's own stream, else on the session's GET
   * stream (here or on another replica); with none open, the upstream is told at once instead of
   * waiting for its timeout.
   */
  private forwardToClient(session: GatewaySession, server: string, upstream: UpstreamSession, request: JsonRpcRequest, channel?: Pick<RequestChannel, "send">): void {
    const forwarded = session.forwardRequest(server, upstream, request);
    if (channel?.send(forwarded) || this.notifyClient(session, forwarded)) return;
    session.takeForwarded(forwarded.id);
    upstream.reply(errorResponse(request.id, ErrorCode.InternalError, "the client has no open stream to receive this request")).catch(() => undefined);
  }

  /**
   * The upstream gave up on a request it sent the client (sampling, elicitation, roots): the
   * client hears it under the gateway id it was sent, on the call's stream or the session's.
   * Cancellations of anything else are the upstream's business.
   */
  private relayCancellation(session: GatewaySession, upstream: UpstreamSession, notification: JsonRpcNotification, channel?: RequestChannel): void {
    const id = session.withdrawForwarded(upstream, notification.params?.requestId);
    if (id === undefined) return;
    const translated: JsonRpcNotification = { ...notification, params: { ...notification.params, requestId: id } };
    if (!channel?.send(translated)) this.notifyClient(session, translated);
  }

  /** To the session's newest stream on this replica, else to a replica holding one. */
  private notifyClient(session: GatewaySession, message: JsonRpcMessage): boolean {
    return session.notify(message) || this.store.deliverElsewhere(session, message);
  }

  private replyUpstream(session: GatewaySession, upstream: Promise<RequestAsker>, upstreamId: JsonRpcId, response: JsonRpcResponse, authorization: string | undefined): Promise<void> {
    return upstream
      .then((target) => target.reply({ ...response, id: upstreamId } as JsonRpcResponse, authorization))
      .catch((err: unknown) => {
        this.log.warn({ session: session.id, err: describeUpstreamError(err) }, "could not pass the client's answer upstream");
      });
  }
}
