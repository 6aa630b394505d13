// The state of one running server's fan-out, named so that each of its jobs (receive.ts, deliver.ts, holds.ts,
// catch-up.ts, replay.ts) is a top-level function over it. Built once by `createFanout` (src/fanout.ts).
import type { Deps } from "../deps.ts";
import type { Control } from "../domain/events.ts";
import { type Listeners, listeners } from "../lib/listeners.ts";
import type { TopicEvent } from "../wire.ts";

/**
 * How long before a lost pub/sub link the re-read starts, and how long a replay's seam stays guarded: a message's
 * event is taken to reach every instance within this long of its id being made (the id is made under the channel's
 * lock just before the insert; the event is published right after the commit).
 */
export const gapMarginMs = 5_000;

/** One event as this instance received it: parsed once, serialized once, the same object for every reader. */
export type Delivery = { readonly topic: string; readonly event: TopicEvent; readonly bytes: string };
export type Listener = (d: Delivery) => void;

/** Message ids delivered lately in one channel topic, oldest first (`order` from `head` on). */
export type RecentIds = { ids: Set<string>; order: { id: string; at: number }[]; head: number };

export type FanoutState = {
  readonly deps: Deps;
  /** How many holders each topic has on this instance. */
  readonly held: Map<string, number>;
  /** When each held topic was first held here: nothing published before that is this instance's to re-deliver. */
  readonly heldSince: Map<string, number>;
  /** Message ids delivered lately per channel topic; kept while the link is down or being caught up. */
  readonly recent: Map<string, RecentIds>;
  /** Above zero while the link is down or being caught up (and a while after): `recent` keeps every id. */
  keepRecent: number;
  /** The subscription of each held topic, which every holder waits for. */
  readonly subscriptions: Map<string, Promise<void>>;
  /**
   * Channels held back from the moment the pub/sub link is lost until each is caught up, with the live events that
   * arrived meanwhile: those go out after the missed messages, so a client sees ids in order and its `since` never
   * passes a message still to come.
   */
  heldBack: Map<string, Delivery[]> | undefined;
  readonly everyEvent: Listeners<[Delivery]>;
  readonly byTopic: Map<string, Listeners<[Delivery]>>;
  readonly missed: Listeners<[string]>;
  readonly controls: Listeners<[Control]>;
  readonly stops: Listeners<[]>;
};

export function fanoutState(deps: Deps): FanoutState {
  return {
    deps,
    held: new Map(),
    heldSince: new Map(),
    recent: new Map(),
    keepRecent: 0,
    subscriptions: new Map(),
    heldBack: undefined,
    everyEvent: listeners<[Delivery]>("fan-out"),
    byTopic: new Map(),
    missed: listeners<[string]>("fan-out (missed events)"),
    controls: listeners<[Control]>("fan-out (control)"),
    stops: listeners<[]>("fan-out (stop)"),
  };
}
