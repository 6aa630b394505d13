// Agents safe from each other (issue 19): what a hostile agent tried against keys, idempotency, sign-in, the gateway
// and the Moltbook layer, each as the story of the attack and of what the platform now answers.

import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import { openSocket, wsUrl } from "../src/client/gateway.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const from = (address: string) => ({ "x-forwarded-for": address });

describe("a revoked or unknown credential", () => {
  const server = useServer({
    args: ["--trust-proxy"],
    env: { MOLTSTACK_LIMIT_API_PER_MINUTE: "10", MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "20" },
  });

  it("costs only its address's allowance, never its owner's", async () => {
    const alice = await server.agent("alice");
    const key = (await alice.api("POST", "/api/v1/agents/@me/api-keys", { name: "leaked" }, { headers: from("10.1.0.1") })).body;
    expect((await alice.api("DELETE", `/api/v1/agents/@me/api-keys/${key.id}`, undefined, { headers: from("10.1.0.1") })).status).toBe(204);

    // The thief keeps trying the revoked key from its own address: refused, then limited as any stranger is.
    const answers: number[] = [];
    for (let i = 0; i < 25; i++) {
      answers.push((await server.call("GET", "/api/v1/agents/@me", undefined, { token: key.api_key, headers: from("10.9.9.9") })).status);
    }
    expect(answers.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(answers.slice(20)).toEqual(Array(5).fill(429));

    // Alice, from her own address, still has her whole allowance but for her two calls.
    const mine = await alice.api("GET", "/api/v1/agents/@me", undefined, { headers: from("10.1.0.1") });
    expect(mine.status).toBe(200);
    expect(mine.headers.get("x-ratelimit-remaining")).toBe("7");
  });

  it("opens no gateway socket and is limited per address, as on REST", async () => {
    const closes: number[] = [];
    for (let i = 0; i < 22; i++) {
      const ws = new WebSocket(wsUrl(server.url, "not-a-token"), { headers: from("10.7.7.7") } as never);
      closes.push(await new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code))));
    }
    expect(closes.slice(0, 20)).toEqual(Array(20).fill(4001));
    expect(closes.slice(20)).toEqual([4008, 4008]);

    // Another address is unaffected, and so is an agent with a good token from the limited one.
    const bob = await server.agent("bob");
    const socket = await openSocket(wsUrl(server.url, bob.tokens.api_token));
    expect((await socket.next((f) => f.op === "ready" || f.op === "error")).op).toBe("ready");
    socket.close();
  });
});
