// The read model's memory: entries loaded from the database on first use, each tagged with the change keys that void
// it (migrations/0007_read_model.sql), bounded by a byte budget with least-recently-used eviction. It answers only
// while it is caught up with the stream of changes: a lost link to the other instances' changes empties it until the
// link is back. A load that raced a change it depends on is answered but not kept (positions, as Synapse's streams).

export type Entry = {
  value: unknown;
  tags: string[];
  bytes: number;
};

export type Store = {
  /** Off (budget 0): nothing is kept, every read goes to the database. */
  enabled: boolean;
  budgetBytes: number;
  usedBytes: number;
  entries: Map<string, Entry>;
  byTag: Map<string, Set<string>>;
  /** How many batches of changes have been applied; a load remembers it when it starts. */
  position: number;
  /** The tags of the newest batches, to tell whether a load raced one of them. */
  recent: { position: number; tags: string[] }[];
  /** Below this position nothing can be told (the store was emptied since): loads from before it are not kept. */
  floor: number;
  /** False while changes may be missed (the link to other instances' changes is down): nothing is kept or answered. */
  caughtUp: boolean;
  /** Writes of this process not yet committed, by the key their commit will name (a post's `msg:` key). */
  expected: Map<string, (store: Store) => void>;
  stats: { hits: number; misses: number; evicted: number; dropped: number };
};

const recentKept = 4096;

export function createStore(budgetBytes: number): Store {
  return {
    enabled: budgetBytes > 0,
    budgetBytes,
    usedBytes: 0,
    entries: new Map(),
    byTag: new Map(),
    position: 0,
    recent: [],
    floor: 0,
    caughtUp: true,
    expected: new Map(),
    stats: { hits: 0, misses: 0, evicted: 0, dropped: 0 },
  };
}

/** Whether the store may answer now. */
export const answering = (store: Store) => store.enabled && store.caughtUp;

export function lookup<T>(store: Store, key: string): T | undefined {
  if (!answering(store)) return undefined;
  const entry = store.entries.get(key);
  if (!entry) {
    store.stats.misses++;
    return undefined;
  }
  // Most recently used last: eviction takes from the front.
  store.entries.delete(key);
  store.entries.set(key, entry);
  store.stats.hits++;
  return entry.value as T;
}

/** Whether any change since `at` named one of `tags` (or cannot be told). */
export function changedSince(store: Store, at: number, tags: string[]): boolean {
  if (at < store.floor || !store.caughtUp) return true;
  if (at === store.position) return false;
  const oldest = store.recent[0]?.position ?? store.position + 1;
  if (at + 1 < oldest) return true;
  const wanted = new Set(tags);
  for (let i = store.recent.length - 1; i >= 0 && store.recent[i].position > at; i--) {
    for (const t of store.recent[i].tags) if (wanted.has(t)) return true;
  }
  return false;
}

/** Keeps a value loaded since position `at`, unless a change to one of its tags came in meanwhile. */
export function keep(store: Store, at: number, key: string, value: unknown, tags: string[], bytes: number): void {
  if (!answering(store) || changedSince(store, at, tags) || bytes > store.budgetBytes / 4) return;
  remove(store, key);
  store.entries.set(key, { value, tags, bytes });
  store.usedBytes += bytes;
  for (const t of tags) tagged(store, t, key);
  while (store.usedBytes > store.budgetBytes) {
    const oldest = store.entries.keys().next().value;
    if (oldest === undefined) break;
    remove(store, oldest);
    store.stats.evicted++;
  }
}

/** A kept value changed in place (a window that took a new message): its size and tags follow. */
export function changedInPlace(store: Store, key: string, bytes: number, tags: string[] = []): void {
  const entry = store.entries.get(key);
  if (!entry) return;
  store.usedBytes += bytes - entry.bytes;
  entry.bytes = bytes;
  for (const t of tags) {
    if (entry.tags.includes(t)) continue;
    entry.tags.push(t);
    tagged(store, t, key);
  }
}

function tagged(store: Store, tag: string, key: string): void {
  const keys = store.byTag.get(tag);
  if (keys) keys.add(key);
  else store.byTag.set(tag, new Set([key]));
}

export function remove(store: Store, key: string): void {
  const entry = store.entries.get(key);
  if (!entry) return;
  store.entries.delete(key);
  store.usedBytes -= entry.bytes;
  for (const t of entry.tags) {
    const keys = store.byTag.get(t);
    keys?.delete(key);
    if (keys?.size === 0) store.byTag.delete(t);
  }
}

/**
 * Applies one committed transaction's change keys. A key is a tag: every entry tagged with it goes. A new message
 * (`msg:<channel>:<id>`) voids its channel's window, unless this process wrote it and extends the window itself.
 */
export function applyChanges(store: Store, keys: string[]): void {
  const tags: string[] = [];
  for (const key of keys) {
    if (key.startsWith("msg:")) {
      const split = key.lastIndexOf(":");
      const channel = key.slice(4, split);
      tags.push(`window:${channel}`);
      const extend = store.expected.get(key);
      store.expected.delete(key);
      if (extend) extend(store);
      // A message this process put in the window already (its own notification, heard back) changes nothing.
      else if (!(store.entries.get(`window:${channel}`)?.value as { ids?: Set<string> } | undefined)?.ids?.has(key.slice(split + 1)))
        drop(store, `window:${channel}`);
      continue;
    }
    tags.push(key);
    drop(store, key);
  }
  store.position++;
  store.recent.push({ position: store.position, tags });
  if (store.recent.length > recentKept) store.recent.splice(0, store.recent.length - recentKept);
}

function drop(store: Store, tag: string): void {
  const keys = store.byTag.get(tag);
  if (!keys) return;
  for (const key of [...keys]) {
    remove(store, key);
    store.stats.dropped++;
  }
}

/** Everything goes: changes may have been missed. Loads begun before are not kept. */
export function empty(store: Store): void {
  store.entries.clear();
  store.byTag.clear();
  store.usedBytes = 0;
  store.position++;
  store.floor = store.position;
  store.recent = [];
}

/** The link that carries other instances' changes went down (false) or is listening again (true). */
export function linkChanged(store: Store, up: boolean): void {
  empty(store);
  store.caughtUp = up;
}

/**
 * The value under `key`: from memory, or loaded (and kept, tagged with `tags`, unless a change to one of them came in
 * while it loaded). `load` answers undefined for "nothing to keep" (not found, not allowed).
 */
export async function remembered<T>(
  store: Store,
  key: string,
  tags: string[] | ((value: T) => string[]),
  load: () => Promise<T | undefined>,
  bytes: (value: T) => number = () => 512,
): Promise<T | undefined> {
  const hit = lookup<T>(store, key);
  if (hit !== undefined) return hit;
  const at = store.position;
  const value = await load();
  if (value !== undefined) keep(store, at, key, value, typeof tags === "function" ? tags(value) : tags, bytes(value));
  return value;
}
