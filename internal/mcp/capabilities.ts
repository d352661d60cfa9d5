// Capability objects as MCP peers declare them (ServerCapabilities, ClientCapabilities): nested
// objects whose keys are features (`tools`, `resources`, `extensions`, ...) and whose leaves are
// flags (`listChanged`, `subscribe`) or settings.

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * What one peer offers in two declarations (a both-era server's `initialize` and `server/discover`
 * answers): every feature either names, at every depth, so an `extensions` object in one does not
 * hide the other's entries. A flag is on when either says so; of other leaves, `first`'s wins.
 */
export function unionCapabilities(first: Record<string, unknown>, second: Record<string, unknown>): Record<string, unknown> {
  const union: Record<string, unknown> = { ...second, ...first };
  for (const key of Object.keys(second)) {
    if (!Object.hasOwn(first, key)) continue;
    const [a, b] = [first[key], second[key]];
    if (isObject(a) && isObject(b)) union[key] = unionCapabilities(a, b);
    else if (typeof a === "boolean" && typeof b === "boolean") union[key] = a || b;
  }
  return union;
}
