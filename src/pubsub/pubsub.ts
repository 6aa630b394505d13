// Moves events between instances. Each running server hands every event it receives to its local sockets
// (Bun topics); this layer only makes sure an event published on one instance reaches all of them.
export type Delivery = (topic: string, payload: string) => void;
/**
 * The receiving link went away ("lost") or is back with every topic subscribed again ("restored"); `lostAt` is when it
 * went away (ms since the epoch). Whatever was published in between never reached this instance.
 */
export type LinkChange = (change: "lost" | "restored", lostAt: number) => void;

export interface PubSub {
  readonly kind: "memory" | "redis";
  publish(topic: string, payload: string): Promise<void>;
  /** Starts receiving `topic` on this instance. Resolves once the subscription is live. */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  /** The one callback that receives every event for the topics this instance subscribed to. */
  onDelivery(deliver: Delivery): void;
  /** The one callback told when receiving stops and resumes (never, in process). */
  onLinkChange(handle: LinkChange): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}
