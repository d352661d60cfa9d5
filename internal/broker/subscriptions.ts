// subscriptions/listen streams of the per-request era: each open stream with the filter it was
// acknowledged with. List changes come from the directory (upstreams' list_changed and registry
// changes alike); resource updates from the internal session whose upstream sessions hold the
// subscriptions, fanned out to the streams of that session that asked for the URI; task status
// notifications from the stream's own listens towards upstreams (task-listens.ts). Every
// notification carries the stream's subscriptionId.
import type { ListChange } from "../discovery/directory.js";
import { isNotification, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification } from "../mcp/jsonrpc.js";
import { MetaKey, Notification, SubscriptionsAcknowledged } from "../mcp/protocol.js";
import type { ClientStream, GatewaySession } from "../session/session.js";
import type { RequestChannel } from "../transport/post-responder.js";

/** What a stream agreed to deliver (the acknowledged subset of the client's filter). */
export interface AgreedFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
  /** Gateway task ids whose status notifications (tasks extension) the stream carries. */
  taskIds?: string[];
}

/** One open stream, for the front end that opened it. */
export interface OpenStream {
  /** Settles when the client closed the stream or it ended here. */
  closed: Promise<void>;
  /** The URIs the session's streams still want. */
  uris: () => Set<string>;
  /** Sends a notification on this stream only, with its subscriptionId. */
  send: (method: string, params: Record<string, unknown>) => void;
  /** Ends the stream gracefully (what it agreed to can no longer be kept). */
  end: () => void;
}

const WANTS: Record<ListChange, keyof AgreedFilter> = {
  tools: "toolsListChanged",
  prompts: "promptsListChanged",
  resources: "resourcesListChanged",
};

interface Listener {
  subscriptionId: JsonRpcId;
  filter: AgreedFilter;
  channel: RequestChannel;
  /** The internal session holding its resource subscriptions, when it has any. */
  session?: GatewaySession;
  gone?: () => void;
}

function tagged(method: string, subscriptionId: JsonRpcId, params: Record<string, unknown> = {}): JsonRpcNotification {
  const meta = (params._meta as Record<string, unknown> | undefined) ?? {};
  return { jsonrpc: "2.0", method, params: { ...params, _meta: { ...meta, [MetaKey.SubscriptionId]: subscriptionId } } };
}

export class Subscriptions {
  private readonly listeners = new Set<Listener>();
  /** One sink per internal session with listening streams: the Broker delivers that session's updates to it. */
  private readonly sinks = new Map<GatewaySession, ClientStream>();

  constructor(
    /** An upstream's request that came on an upstream's own stream: answered for the client, who cannot receive it. */
    private readonly refuseUpstreamRequest: (session: GatewaySession, gatewayId: JsonRpcId) => void,
  ) {}

  /** Acknowledges the stream, then keeps it until the client closes it; returns what to do when it is gone. */
  open(subscriptionId: JsonRpcId, filter: AgreedFilter, channel: RequestChannel, session?: GatewaySession): OpenStream {
    const listener: Listener = { subscriptionId, filter, channel, session };
    channel.send(tagged(SubscriptionsAcknowledged, subscriptionId, { notifications: filter }));
    this.listeners.add(listener);
    if (session && !this.sinks.has(session)) {
      const sink = this.sinkFor(session);
      this.sinks.set(session, sink);
      session.addStream(sink);
    }
    const closed = new Promise<void>((resolve) => {
      listener.gone = resolve;
      if (channel.signal.aborted) this.remove(listener);
      else channel.signal.addEventListener("abort", () => this.remove(listener), { once: true });
    });
    // What the session's other streams still want, so the caller unsubscribes only from the rest.
    const uris = () => {
      const wanted = new Set<string>();
      for (const other of this.listeners) if (other.session === session) for (const uri of other.filter.resourceSubscriptions ?? []) wanted.add(uri);
      return wanted;
    };
    const send = (method: string, params: Record<string, unknown>) => {
      if (this.listeners.has(listener)) channel.send(tagged(method, subscriptionId, params));
    };
    const end = () => {
      if (this.listeners.has(listener)) this.end(listener);
    };
    return { closed, uris, send, end };
  }

  announce(kinds: Set<ListChange>): void {
    for (const listener of this.listeners) {
      for (const kind of kinds) if (listener.filter[WANTS[kind]]) listener.channel.send(tagged(`notifications/${kind}/list_changed`, listener.subscriptionId));
    }
  }

  /** Shutdown: every stream gets its graceful end, a result carrying its subscriptionId. */
  closeAll(): void {
    for (const listener of [...this.listeners]) this.end(listener);
  }

  /** The stream is gone (closed by the client, or ended here): its session's sink goes with the last of them. */
  private remove(listener: Listener): void {
    if (!this.listeners.delete(listener)) return;
    const session = listener.session;
    if (session && ![...this.listeners].some((other) => other.session === session)) {
      const sink = this.sinks.get(session);
      if (sink) session.removeStream(sink);
      this.sinks.delete(session);
    }
    listener.gone?.();
  }

  private end(listener: Listener): void {
    this.remove(listener);
    listener.channel.respond({ jsonrpc: "2.0", id: listener.subscriptionId, result: { resultType: "complete", _meta: { [MetaKey.SubscriptionId]: listener.subscriptionId } } });
  }

  private sinkFor(session: GatewaySession): ClientStream {
    return {
      send: (message: JsonRpcMessage) => {
        if (isRequest(message)) {
          this.refuseUpstreamRequest(session, message.id);
          return;
        }
        if (!isNotification(message) || message.method !== Notification.ResourceUpdated) return;
        const uri = String(message.params?.uri);
        for (const listener of this.listeners) {
          if (listener.session === session && listener.filter.resourceSubscriptions?.includes(uri)) {
            listener.channel.send(tagged(message.method, listener.subscriptionId, message.params));
          }
        }
      },
      // The internal session ended (its upstream sessions with it): its streams end too, gracefully.
      close: () => {
        for (const listener of [...this.listeners]) if (listener.session === session) this.end(listener);
      },
    };
  }
}
