// Where a webhook may be sent: a URL is checked and its host resolved, and unless private targets are allowed every
// address must be on the public internet (no loopback, private, link-local or cloud-metadata address: no SSRF).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Deps } from "../../deps.ts";

/** How long a webhook's host may take to resolve, and its POST to answer. */
export const requestTimeoutMs = 5_000;

export class WebhookRefused extends Error {}

/**
 * Checks a webhook URL and resolves its host (every address). Unless private targets are allowed, all of them must be
 * public: the answer names the address to connect to, so a DNS answer that changes after the check is never used.
 */
export async function webhookTarget(deps: Deps, raw: string): Promise<{ url: URL; address: string }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookRefused("is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new WebhookRefused("must be an http(s) URL");
  if (url.username || url.password) throw new WebhookRefused("must not carry credentials (deliveries are signed instead)");
  const addresses = await resolve(url.hostname);
  if (addresses.length === 0) throw new WebhookRefused("does not resolve to an address");
  if (!deps.config.allowPrivateWebhooks && !addresses.every(isPublicAddress)) {
    // The address itself is not named: an agent must not learn what internal names resolve to.
    throw new WebhookRefused("must resolve to public addresses only (not loopback, private, link-local or metadata)");
  }
  return { url, address: addresses[0] };
}

async function resolve(hostname: string): Promise<string[]> {
  const literal = hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(literal)) return [literal];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const answers = await Promise.race([
      lookup(literal, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), requestTimeoutMs);
      }),
    ]);
    return answers.map((a) => a.address);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

/** IPv4 ranges that are not the public internet: [first octets..., prefix length]. */
const privateV4: [number, number, number, number, number][] = [
  [0, 0, 0, 0, 8], // "this network"
  [10, 0, 0, 0, 8],
  [100, 64, 0, 0, 10], // carrier-grade NAT
  [127, 0, 0, 0, 8],
  [169, 254, 0, 0, 16], // link-local, cloud metadata (169.254.169.254)
  [172, 16, 0, 0, 12],
  [192, 0, 0, 0, 24],
  [192, 0, 2, 0, 24],
  [192, 88, 99, 0, 24],
  [192, 168, 0, 0, 16],
  [198, 18, 0, 0, 15],
  [198, 51, 100, 0, 24],
  [203, 0, 113, 0, 24],
  [224, 0, 0, 0, 4], // multicast
  [240, 0, 0, 0, 4], // reserved, broadcast
];

function v4Public(bytes: number[]): boolean {
  const value = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return !privateV4.some(([a, b, c, d, prefix]) => {
    const net = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return (value & mask) >>> 0 === net;
  });
}

function parseV4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** Eight 16-bit groups, or undefined. Accepts `::` and a trailing dotted quad; drops a zone (`%eth0`). */
function parseV6(text: string): number[] | undefined {
  let s = text.split("%")[0].toLowerCase();
  const tail: number[] = [];
  if (s.includes(".")) {
    const lastColon = s.lastIndexOf(":");
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const group = (part: string) => (part === "" ? [] : part.split(":"));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const missing = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [
    ...head.map((g) => parseInt(g, 16)),
    ...Array(halves.length === 2 ? missing : 0).fill(0),
    ...rest.map((g) => parseInt(g, 16)),
    ...tail,
  ];
}

/** Whether an address is on the public internet. Anything we cannot parse is not. */
export function isPublicAddress(address: string): boolean {
  const v4 = parseV4(address);
  if (v4) return v4Public(v4);
  const h = parseV6(address);
  if (!h) return false;
  const embedded = (hi: number, lo: number) => v4Public([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => h.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && h[5] === 0xffff) return embedded(h[6], h[7]); // IPv4-mapped
  if (zeros(0, 6)) return false; // ::, ::1, IPv4-compatible (deprecated)
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return embedded(h[6], h[7]); // NAT64
  if (h[0] === 0x2002) return embedded(h[1], h[2]); // 6to4
  if (h[0] === 0x2001 && h[1] < 0x200) return false; // Teredo, benchmarking, ORCHID and other IETF special use
  if (h[0] === 0x2001 && h[1] === 0x0db8) return false; // documentation
  // Only 2000::/3 is global unicast; that also rules out fc00::/7, fe80::/10, fec0::/10, ff00::/8 and 64:ff9b:1::/48.
  return (h[0] & 0xe000) === 0x2000;
}
