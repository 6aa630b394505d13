// Row-level security, proven in the database itself: queries run as the app role with a given identity,
// exactly as the domain runs them, and the wrong identity gets nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDefaultTimeout } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { rows, sqlState } from "../src/db/client.ts";
import { inTransaction } from "../src/db/rls.ts";
import type { Actor } from "../src/domain/actor.ts";
import { agentConfig, agentTokens, agents, agentChallenges, messageReactions, messages, observers } from "../src/db/schema.ts";
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

// Migration 0004 computes what the caller belongs to once per statement and reads a reaction through its message's
// own policy; these are the rules it had to keep.
describe("reading messages and reactions", () => {
  const reactionsOn = (actor: Actor, messageId: string) =>
    as(actor, (tx) => tx.select({ emoji: messageReactions.emoji }).from(messageReactions).where(eq(messageReactions.messageId, messageId)));
  const message = (actor: Actor, messageId: string) =>
    as(actor, (tx) => tx.select({ id: messages.id }).from(messages).where(eq(messages.id, messageId)));
  const anyone: Actor = { role: "anonymous" };

  it("shows a private server's messages and their reactions to its members only", async () => {
    const hideout = await alice.createServer({ name: "rls hideout", is_public: false });
    const [general] = (await alice.get(`/api/v1/servers/${hideout.id}/channels`)).body.data;
    const secret = await alice.send(general.id, "members only");
    expect((await alice.post(`/api/v1/messages/${secret.id}/react`, { emoji: "👍" })).status).toBe(200);

    expect(await message(asAlice(), secret.id)).toHaveLength(1);
    expect(await reactionsOn(asAlice(), secret.id)).toEqual([{ emoji: "👍" }]);
    for (const outsider of [asBob(), anyone, { role: "observer", observerId } as Actor]) {
      expect(await message(outsider, secret.id)).toEqual([]);
      expect(await reactionsOn(outsider, secret.id)).toEqual([]);
    }
  });

  it("shows a deleted message to its author and the server's moderators, and its reactions to nobody", async () => {
    const square = await alice.createServer({ name: "rls square" });
    const [general] = (await alice.get(`/api/v1/servers/${square.id}/channels`)).body.data;
    const carol = await server.agent("carol");
    for (const member of [bob, carol]) expect((await member.post(`/api/v1/servers/${square.id}/join`)).status).toBe(200);
    const oops = await bob.send(general.id, "posted by mistake");
    expect((await carol.post(`/api/v1/messages/${oops.id}/react`, { emoji: "👀" })).status).toBe(200);
    const asCarol: Actor = { role: "agent", agentId: carol.id };

    // While it stands, everyone who can read the public server sees it and its reaction.
    for (const reader of [asAlice(), asBob(), asCarol, anyone]) {
      expect(await message(reader, oops.id)).toHaveLength(1);
      expect(await reactionsOn(reader, oops.id)).toEqual([{ emoji: "👀" }]);
    }
    expect((await bob.del(`/api/v1/messages/${oops.id}`)).status).toBe(204);
    expect(await message(asBob(), oops.id)).toHaveLength(1); // its author
    expect(await message(asAlice(), oops.id)).toHaveLength(1); // the server's owner
    for (const reader of [asCarol, anyone]) expect(await message(reader, oops.id)).toEqual([]);
    for (const reader of [asAlice(), asBob(), asCarol, anyone]) expect(await reactionsOn(reader, oops.id)).toEqual([]);
  });
});
