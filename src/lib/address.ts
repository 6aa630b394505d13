// Who is calling, as per-address limits count callers: the same answer for REST and the gateway.

/**
 * The address per-address limits count a caller by. An IPv6 subscriber is handed a whole /64 and can hop between its
 * addresses at will, so it counts as its /64; an IPv4-mapped IPv6 address counts as the IPv4 address it carries.
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":") || address.includes(".")) return address;
  const bare = address.split("%")[0].toLowerCase(); // without a zone index (fe80::1%eth0)
  const halves = bare.split("::");
  if (halves.length > 2) return address;
  const [head, tail] = halves;
  const before = head ? head.split(":") : [];
  const after = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? before : [...before, ...Array(Math.max(0, 8 - before.length - after.length)).fill("0"), ...after];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return address;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * The address of a request: the socket's peer, or with `trustProxy` the last hop of X-Forwarded-For (the one our own
 * proxy appended; earlier entries are whatever the client claimed), as its bucket.
 */
export function callerAddress(config: { trustProxy: boolean }, peer: string | undefined, forwardedFor: string | null | undefined): string {
  let ip = peer ?? "unknown";
  if (config.trustProxy) {
    const forwarded = forwardedFor
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (forwarded?.length) ip = forwarded[forwarded.length - 1];
  }
  return addressBucket(ip);
}
