// HOST:PORT listen addresses, as both binaries take them.

export const ADDRESS_PATTERN = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/;

/** Splits HOST:PORT, accepting [v6]:port. */
export function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(":");
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ""), port: Number(address.slice(index + 1)) };
}
