// Moves events between instances. Each running server hands every event it receives to its own readers (the fan-out,
// src/fanout.ts); this layer only makes sure an event published on one instance reaches all of them.
export type Receiver = (topic: string, payload: string) => void;
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
  /** Adds a listener for every payload received on the topics this instance subscribed to; returns its remover. */
  onMessage(listener: Receiver): () => void;
  /** Adds a listener told when receiving stops and resumes (never, in process); returns its remover. */
  onLinkChange(listener: LinkChange): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
}
