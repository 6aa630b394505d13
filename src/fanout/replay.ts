// Replay then live: how a reader that missed events (a socket subscribing with `since`, a browser reconnecting with
// Last-Event-ID) gets the stored messages first and the live events after them, with no gap and no duplicate at the
// seam.
import { listenTopic } from "./deliver.ts";
import { type Delivery, type FanoutState, gapMarginMs, type Listener } from "./state.ts";

/** One reader joining a topic's live events after reading what it missed; see `replayThenLive`. */
export type Reader = {
  /**
   * Sends the reader what comes before the live events: whatever it needs first, then the stored messages after its
   * `since`, read from the database only now. Resolves to the id it has read up to (the last message sent, else its
   * `since`), or undefined when it asked for no replay.
   */
  replay(): Promise<string | undefined>;
  /** Takes one live event. */
  live(d: Delivery): void;
  /**
   * When given, the reader takes live events its own way once the seam is safe (a socket joins Bun's topic): called
   * in the same synchronous step in which `live` stops being called.
   */
  join?(): void;
};

/**
 * The caller holds `topic` (a channel's) and releases it; the returned function ends the reading.
 *
 * The one ordering rule it rests on: in a channel, commit order is id order. postMessage takes the channel's
 * advisory lock, reads the newest id, inserts its message with an id above it (newIdAfter: even when this
 * machine's clock is behind) and holds the lock until it commits (src/domain/messages.ts, src/lib/ids.ts).
 * Events are published after the commit.
 *
 * - No gap: the reader's buffer opens, synchronously and on a topic this instance already receives, before
 *   `replay` reads the database. A message committed before that read is in the replay; one committed after it
 *   is published after the buffer opened, so it reaches the reader live.
 * - No duplicate: `replay` resolves to `upTo`, the id it read up to. A message it did not return committed after
 *   every one it did (it was not visible to the read), so by the rule its id is above `upTo`; a message event
 *   with an id at or below `upTo` is therefore one the reader has, and is dropped: from the buffer and from every
 *   live event for `gapMarginMs` after the replay (a replayed message's own event may still be on its way that
 *   long). Only messages are replayed, so only `message` events are dropped; an edit, reaction or deletion of a
 *   replayed message passes (applying it twice changes nothing). A reader with a `join` then joins; one without
 *   keeps the filter (it costs nothing there).
 * - A replay cut short (the reader is told to page on from `upTo`) still gets the live events meanwhile: messages
 *   above `upTo` may come both live and from paging; readers key messages by id.
 */
export async function replayThenLive(state: FanoutState, topic: string, reader: Reader): Promise<() => void> {
  if (!state.held.has(topic)) throw new Error(`replayThenLive: ${topic} is not held`);
  let upTo: string | undefined;
  const have = (d: Delivery) => upTo !== undefined && d.event.op === "message" && d.event.id <= upTo;
  const buffered: Delivery[] = [];
  let take: Listener = (d) => buffered.push(d);
  const stopListening = listenTopic(state, topic, (d) => take(d));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = () => {
    clearTimeout(timer);
    stopListening();
  };
  try {
    upTo = await reader.replay();
  } catch (e) {
    end();
    throw e;
  }
  take = (d) => {
    if (!have(d)) reader.live(d);
  };
  for (const d of buffered) take(d);
  const { join } = reader;
  if (!join) return end;
  const joinNow = () => {
    end();
    join();
  };
  if (upTo === undefined) joinNow();
  else {
    timer = setTimeout(joinNow, gapMarginMs);
    timer.unref?.();
  }
  return end;
}
