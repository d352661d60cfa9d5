// The one rule on exposed names that both binaries apply: common clients accept only tool names
// matching `^[a-zA-Z0-9_-]{1,64}$`, so the broker warns of longer ones in its status and the
// controller reports them on the registration.

/** Exposed names longer than this break common clients. */
export const MAX_CLIENT_NAME_LENGTH = 64;

/** The names of `names` that are too long for common clients, in their order. */
export function namesTooLong(names: readonly string[]): string[] {
  return names.filter((name) => name.length > MAX_CLIENT_NAME_LENGTH);
}
