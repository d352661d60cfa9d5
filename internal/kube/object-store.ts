// The informer's cache: the last seen version of every object, by namespace and name. Every change reports
// the event it means, so the informer's handlers see exactly the changes the cache went through.
import type { ObjectWithMetadata } from "./resource.js";

export type ChangeEvent = "add" | "update" | "delete";

export class ObjectStore<T extends ObjectWithMetadata> {
  private readonly byNamespace = new Map<string, Map<string, T>>();

  get(namespace: string, name: string): T | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    return [...this.byNamespace.values()].flatMap((objects) => [...objects.values()]);
  }

  /** Stores obj; undefined when this very version was stored already (a relist of an unchanged object). */
  upsert(obj: T): "add" | "update" | undefined {
    const namespace = obj.metadata.namespace ?? "";
    const name = obj.metadata.name ?? "";
    let objects = this.byNamespace.get(namespace);
    if (!objects) {
      objects = new Map();
      this.byNamespace.set(namespace, objects);
    }
    const stored = objects.get(name);
    objects.set(name, obj);
    if (!stored) return "add";
    return stored.metadata.resourceVersion === obj.metadata.resourceVersion ? undefined : "update";
  }

  /** Removes an object; the version that was stored, if any. */
  remove(namespace: string, name: string): T | undefined {
    const objects = this.byNamespace.get(namespace);
    const stored = objects?.get(name);
    objects?.delete(name);
    if (objects?.size === 0) this.byNamespace.delete(namespace);
    return stored;
  }

  /**
   * Makes the store hold exactly `items` (a fresh list) and returns the changes: adds and updates, and a delete
   * (with the last seen version) for each object the list no longer has. After a watch gap, such as an
   * expired resourceVersion or an API server restart, that is the only way a deletion shows up.
   */
  replace(items: T[]): Array<[ChangeEvent, T]> {
    const changes: Array<[ChangeEvent, T]> = [];
    const listed = new Set(items.map(keyOf));
    for (const stored of this.list()) {
      if (listed.has(keyOf(stored))) continue;
      this.remove(stored.metadata.namespace ?? "", stored.metadata.name ?? "");
      changes.push(["delete", stored]);
    }
    for (const obj of items) {
      const event = this.upsert(obj);
      if (event) changes.push([event, obj]);
    }
    return changes;
  }
}

function keyOf(obj: ObjectWithMetadata): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}
