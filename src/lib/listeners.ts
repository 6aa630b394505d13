// A list of listeners: what an object offers instead of one callback, so that every part that needs to hear it can.
// One listener that throws (or rejects) is logged and does not keep the others from hearing.

export type Listeners<A extends unknown[]> = {
  /** Adds `fn`; returns the function that removes it again. */
  add(fn: (...args: A) => unknown): () => void;
  /** Calls every listener, in the order they were added. */
  emit(...args: A): void;
  clear(): void;
  readonly size: number;
};

export function listeners<A extends unknown[]>(name: string): Listeners<A> {
  const list = new Set<(...args: A) => unknown>();
  const failed = (e: unknown) => console.error(`${name}: a listener failed: ${(e as Error)?.message ?? e}`);
  return {
    add(fn) {
      // A wrapper per registration: the same function added twice is two listeners, each removed on its own.
      const entry = (...args: A) => fn(...args);
      list.add(entry);
      return () => void list.delete(entry);
    },
    emit(...args) {
      for (const fn of [...list]) {
        try {
          const result = fn(...args);
          if (result instanceof Promise) result.catch(failed);
        } catch (e) {
          failed(e);
        }
      }
    },
    clear() {
      list.clear();
    },
    get size() {
      return list.size;
    },
  };
}
