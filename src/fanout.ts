// The fan-out of one running server, built once in server.ts and handed to the gateway and the pages. Events arrive
// from pub/sub (published on this instance or another), are parsed once into the wire module's union and handed,
// together with their serialized bytes, to every reader here: the gateway (which passes them to its sockets through
// Bun's topics) and the browsers' live streams. It holds each topic on the pub/sub while a reader needs it, joins a
// reader's replay from the database to the live events (`replayThenLive`), and when the pub/sub link itself was down
// (Redis restarted) re-reads from the database the messages its channels may have missed and delivers the ones it has
// not delivered yet, to sockets and browsers alike. Its state is `FanoutState` (src/fanout/state.ts); its jobs are the
// files beside it: receive.ts, deliver.ts, holds.ts, catch-up.ts and replay.ts.
import type { Deps } from "./deps.ts";
import { type Control, controlTopic } from "./domain/events.ts";
import { linkLost, linkRestored } from "./fanout/catch-up.ts";
import { hold, listen, release } from "./fanout/holds.ts";
import { receive } from "./fanout/receive.ts";
import { type Reader, replayThenLive } from "./fanout/replay.ts";
import { type Delivery, fanoutState, type Listener } from "./fanout/state.ts";

export type { Delivery, Reader };
export { gapMarginMs } from "./fanout/state.ts";

export type Fanout = {
  /** Resolves once this instance receives control instructions. */
  ready: Promise<void>;
  /** Every event this instance receives, whatever its topic, in the order it delivers them; returns the remover. */
  onEvent(listener: Listener): () => void;
  /**
   * Makes sure this instance receives `topic` (counted per holder). Resolves once the subscription is live; when it
   * fails the hold still counts, and the caller releases it as it would have.
   */
  hold(topic: string): Promise<void>;
  release(topic: string): void;
  /** Holds `topic` and passes its events to `listener`; resolves (once subscribed) to the function that stops both. */
  listen(topic: string, listener: Listener): Promise<() => void>;
  /** Replay then live (src/fanout/replay.ts). */
  replayThenLive(topic: string, reader: Reader): Promise<() => void>;
  /** Told a channel topic whose events were lost in a pub/sub outage and could not be re-read: its readers resume. */
  onMissedEvents(listener: (topic: string) => void): () => void;
  /** Told every instruction on the control topic (to gateways; never forwarded to sockets as it is). */
  onControl(listener: (instruction: Control) => void): () => void;
  /** Told when the server stops: open streams end (they would otherwise hold a graceful stop). */
  onStop(listener: () => void): () => void;
  stop(): void;
};

/** Builds the fan-out's state (src/fanout/state.ts) and hands pub/sub's messages and link changes to its jobs. */
export function createFanout(deps: Deps): Fanout {
  const state = fanoutState(deps);
  deps.pubsub.onMessage((topic, payload) => receive(state, topic, payload));
  deps.pubsub.onLinkChange(async (change, lostAt) => {
    if (change === "lost") return linkLost(state);
    await linkRestored(state, lostAt);
  });
  return {
    ready: deps.pubsub.subscribe(controlTopic),
    onEvent: state.everyEvent.add,
    hold: (topic) => hold(state, topic),
    release: (topic) => release(state, topic),
    listen: (topic, listener) => listen(state, topic, listener),
    replayThenLive: (topic, reader) => replayThenLive(state, topic, reader),
    onMissedEvents: state.missed.add,
    onControl: state.controls.add,
    onStop: state.stops.add,
    stop() {
      state.stops.emit();
      state.stops.clear();
    },
  };
}
