// Where the broker's registry comes from. The file source serves laptops and mounted Secrets;
// a Kubernetes Secret source plugs in behind the same interface.
import type { Registry } from "../contract/registry.js";

export interface RegistrySource {
  /** Starts delivering registries; the first valid one (or none) is delivered before this resolves. */
  start(onRegistry: (registry: Registry) => void): Promise<void>;
  stop(): void;
}
