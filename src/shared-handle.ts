/**
 * One in-process object shared by several holders: each holder gets a handle whose `close()`
 * releases only its own reference; the object itself closes when the last handle does.
 * Used by the memory broker and backend, which play the part of one server per process.
 */

interface Closable {
  close(): Promise<void>;
}

const registries = new Map<string, { target: Closable; refs: number }>();

/** Returns a handle on the object registered under `key`, creating it with `make` if needed. */
export function sharedHandle<T extends Closable>(key: string, make: () => T): T {
  let entry = registries.get(key);
  if (!entry) {
    entry = { target: make(), refs: 0 };
    registries.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  const close = async () => {
    if (released) return;
    released = true;
    if (--e.refs === 0) {
      registries.delete(key);
      await e.target.close();
    }
  };
  // Methods are bound to the real object: its private fields are not reachable through a proxy.
  return new Proxy(e.target as T, {
    get(target, prop) {
      if (prop === "close") return close;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
