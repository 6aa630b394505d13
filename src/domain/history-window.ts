// Each channel's newest messages, with their authors and reactions, kept by the read model (src/read-model/): a
// history page inside the window is answered from memory; older pages, `after` cursors and a channel the caller may
// not read go to the database. A post of this process extends the window when it commits; any other change to the
// channel's messages (another instance's post, an edit, a delete, a reaction, an author's new name) voids it.
import type { Deps } from "../deps.ts";
import { answering, changedInPlace, remembered, type Store } from "../read-model/store.ts";
import type { MessageView } from "../wire.ts";
import type { Actor } from "./actor.ts";
import type { Page, PageQuery } from "./paging.ts";

/** Messages a window holds at most: any page of up to 100 newest, and paging back through the next ones. */
export const windowSize = 200;

type HistoryWindow = {
  /** Oldest first. */
  messages: MessageView[];
  ids: Set<string>;
  /** Whether the window holds every message of the channel (fewer than windowSize). */
  complete: boolean;
  bytes: number;
};

const messageBytes = (m: MessageView) => 480 + 2 * (m.content.length + (m.metadata ? JSON.stringify(m.metadata).length : 0));
const windowKey = (channelId: string) => `window:${channelId}`;
const windowTags = (channelId: string, w: HistoryWindow) => [
  windowKey(channelId),
  `channel:${channelId}`,
  ...new Set(w.messages.map((m) => `author:${m.agent.id}`)),
];

/**
 * A page answered from the channel's window, or undefined when the window cannot answer it (the read model is not
 * answering, an `after` cursor, a page older than the window). The caller has been found to be allowed to read.
 */
export async function pageFromWindow(
  deps: Deps,
  actor: Actor,
  channelId: string,
  page: PageQuery,
  load: (actor: Actor, channelId: string, page: PageQuery) => Promise<Page<MessageView> | undefined>,
): Promise<Page<MessageView> | undefined> {
  if (!answering(deps.readModel) || page.after) return undefined;
  const window = await remembered<HistoryWindow>(
    deps.readModel,
    windowKey(channelId),
    (w) => windowTags(channelId, w),
    async () => {
      const newest = await load(actor, channelId, { limit: windowSize });
      if (!newest) return undefined;
      const messages = newest.data.toReversed();
      return {
        messages,
        ids: new Set(messages.map((m) => m.id)),
        complete: !newest.has_more,
        bytes: messages.reduce((n, m) => n + messageBytes(m), 64),
      };
    },
    (w) => w.bytes,
  );
  if (!window) return undefined;
  const { messages } = window;
  let end = messages.length;
  if (page.before) {
    while (end > 0 && messages[end - 1].id >= page.before) end--;
    // A cursor older than the whole window: only the database knows what lies below it.
    if (end === 0 && !window.complete) return undefined;
  }
  const start = end - page.limit;
  if (start >= 0) return { data: messages.slice(start, end).toReversed(), has_more: start > 0 || !window.complete };
  if (!window.complete) return undefined;
  return { data: messages.slice(0, end).toReversed(), has_more: false };
}

/**
 * Tells the read model that the transaction in flight stores `m`: when it commits, the channel's window (if kept)
 * takes it instead of being voided. Answers the function that forgets it (called once the transaction is over).
 */
export function expectMessage(deps: Deps, m: MessageView): () => void {
  const key = `msg:${m.channel_id}:${m.id}`;
  deps.readModel.expected.set(key, (store) => extendWindow(store, m));
  return () => deps.readModel.expected.delete(key);
}

function extendWindow(store: Store, m: MessageView): void {
  const key = windowKey(m.channel_id);
  const window = store.entries.get(key)?.value as HistoryWindow | undefined;
  if (!window || window.ids.has(m.id)) return;
  const { messages } = window;
  // Ids ascend in commit order within a channel: a new message goes last, unless commits were told out of order.
  let at = messages.length;
  while (at > 0 && messages[at - 1].id > m.id) at--;
  if (at === 0 && !window.complete) return; // older than the window's oldest: not the window's to hold
  messages.splice(at, 0, m);
  window.ids.add(m.id);
  window.bytes += messageBytes(m);
  while (messages.length > windowSize) {
    const gone = messages.shift()!;
    window.ids.delete(gone.id);
    window.bytes -= messageBytes(gone);
    window.complete = false;
  }
  changedInPlace(store, key, window.bytes, [`author:${m.agent.id}`]);
}
