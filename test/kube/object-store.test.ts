// The informer's cache on its own: which events a relist (replace) and single changes produce.
import { expect } from "chai";
import { ObjectStore } from "../../internal/kube/object-store.js";
import type { KubeObject } from "../../internal/kube/resource.js";

const obj = (namespace: string, name: string, resourceVersion: string): KubeObject => ({ metadata: { namespace, name, resourceVersion } });
const summary = (changes: Array<[string, KubeObject]>) => changes.map(([event, o]) => `${event} ${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);

describe("kube ObjectStore", () => {
  it("reports add, then update only for a new resourceVersion", () => {
    const store = new ObjectStore<KubeObject>();
    expect(store.upsert(obj("a", "x", "1"))).to.equal("add");
    expect(store.upsert(obj("a", "x", "1"))).to.equal(undefined);
    expect(store.upsert(obj("a", "x", "2"))).to.equal("update");
    expect(store.get("a", "x")?.metadata.resourceVersion).to.equal("2");
  });

  it("removes and returns what it held", () => {
    const store = new ObjectStore<KubeObject>();
    store.upsert(obj("a", "x", "1"));
    expect(store.remove("a", "x")?.metadata.resourceVersion).to.equal("1");
    expect(store.remove("a", "x")).to.equal(undefined);
    expect(store.list()).to.deep.equal([]);
  });

  it("turns a relist into deletes for what vanished (last seen version), adds and updates", () => {
    const store = new ObjectStore<KubeObject>();
    store.replace([obj("a", "same", "1"), obj("a", "changed", "1"), obj("a", "vanished", "1"), obj("b", "whole-namespace-gone", "3"), obj("", "cluster", "1")]);
    const changes = store.replace([obj("a", "same", "1"), obj("a", "changed", "5"), obj("c", "new", "6"), obj("", "cluster", "1")]);
    expect(summary(changes)).to.have.members(["delete a/vanished@1", "delete b/whole-namespace-gone@3", "update a/changed@5", "add c/new@6"]);
    expect(store.list().map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).to.have.members(["a/same", "a/changed", "c/new", "/cluster"]);
    expect(store.list("b")).to.deep.equal([]);
    expect(store.list("")).to.have.length(1);
  });
});
