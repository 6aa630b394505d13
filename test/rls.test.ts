// Row-level security, proven in the database itself: queries run as the app role with a given identity,
// exactly as the domain runs them, and the wrong identity gets nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDefaultTimeout } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { rows, sqlState } from "../src/db/client.ts";
import { type Actor, inTransaction } from "../src/db/rls.ts";
import { agentConfig, agentTokens, agents, agentChallenges, messages, observers } from "../src/db/schema.ts";
import type { AgentClient } from "../src/client/agent.ts";
import { type TestServer, testServer, uniqueName } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

let server: TestServer;
let alice: AgentClient;
let bob: AgentClient;
let observerId: string;

beforeAll(async () => {
  server = await testServer();
  alice = await server.agent("alice");
  bob = await server.agent("bob");
  const observer = { email: `${uniqueName("o")}@example.com`, password: "a long password" };
  await server.call("POST", "/api/v1/observers/register", observer);
  const obs = await server.call("POST", "/api/v1/observers/login", observer);
  observerId = obs.body.observer_id;
});
afterAll(async () => {
  await server?.stop();
});

const as = <T>(actor: Actor, fn: Parameters<typeof inTransaction<T>>[2]) => inTransaction(server.deps.database, actor, fn);
const asAlice = (): Actor => ({ role: "agent", agentId: alice.id });
const asBob = (): Actor => ({ role: "agent", agentId: bob.id });

describe("row-level security", () => {
  it("runs as the app role, not as the table owner or a superuser", async () => {
    const [who] = await as(asAlice(), (tx) => rows<{ role: string; superuser: string }>(tx, sql`select current_user as role, current_setting('is_superuser') as superuser`));
    expect(who.role).toBe("moltstack_app");
    expect(who.superuser).toBe("off");
  });

  it("shows an agent only its own tokens, challenges and config", async () => {
    const mine = await as(asAlice(), (tx) => tx.select({ agentId: agentTokens.agentId }).from(agentTokens));
    expect(mine.length).toBeGreaterThan(0);
    expect(new Set(mine.map((r) => r.agentId))).toEqual(new Set([alice.id]));

    const bobsTokens = await as(asAlice(), (tx) => tx.select().from(agentTokens).where(eq(agentTokens.agentId, bob.id)));
    expect(bobsTokens).toEqual([]);
    const bobsConfig = await as(asAlice(), (tx) => tx.select().from(agentConfig).where(eq(agentConfig.agentId, bob.id)));
    expect(bobsConfig).toEqual([]);
    const bobsChallenges = await as(asAlice(), (tx) => tx.select().from(agentChallenges).where(eq(agentChallenges.agentId, bob.id)));
    expect(bobsChallenges).toEqual([]);
    const ownConfig = await as(asBob(), (tx) => tx.select().from(agentConfig).where(eq(agentConfig.agentId, bob.id)));
    expect(ownConfig).toHaveLength(1);
  });

  it("shows anonymous callers and observers no secrets at all", async () => {
    for (const actor of [{ role: "anonymous" }, { role: "observer", observerId }] as Actor[]) {
      expect(await as(actor, (tx) => tx.select().from(agentTokens))).toEqual([]);
      expect(await as(actor, (tx) => tx.select().from(agentConfig))).toEqual([]);
      expect(await as(actor, (tx) => tx.select().from(agentChallenges))).toEqual([]);
    }
    // Observers see their own account and no one else's.
    expect(await as({ role: "anonymous" }, (tx) => tx.select().from(observers))).toEqual([]);
    expect(await as({ role: "observer", observerId }, (tx) => tx.select().from(observers))).toHaveLength(1);
    expect(await as({ role: "agent", agentId: alice.id }, (tx) => tx.select().from(observers))).toEqual([]);
    // Public profiles are public.
    expect(await as({ role: "anonymous" }, (tx) => tx.select().from(agents).where(eq(agents.id, alice.id)))).toHaveLength(1);
  });

  it("refuses writes made as someone else", async () => {
    const rename = await as(asBob(), (tx) => tx.update(agents).set({ bio: "owned by bob" }).where(eq(agents.id, alice.id)).returning());
    expect(rename).toEqual([]);
    const steal = as(asBob(), (tx) => tx.update(agents).set({ status: "suspended" }).where(eq(agents.id, bob.id)).returning());
    await expect(steal).rejects.toThrow();
    const server1 = await alice.createServer({ name: "rls" });
    const [general] = (await alice.get(`/api/v1/servers/${server1.id}/channels`)).body.data;
    const forged = as(asBob(), (tx) =>
      tx.insert(messages).values({ id: crypto.randomUUID(), channelId: general.id, agentId: alice.id, content: "forged" }),
    );
    let code: string | undefined;
    await forged.catch((e) => (code = sqlState(e)));
    expect(code).toBe("42501");
    // Bob is not a member either, so even as himself he cannot post there.
    const asHimself = as(asBob(), (tx) => tx.insert(messages).values({ id: crypto.randomUUID(), channelId: general.id, agentId: bob.id, content: "hi" }));
    await expect(asHimself).rejects.toThrow();
    expect((await alice.get(`/api/v1/agents/@me`)).body.bio).toBeNull();
  });
});
