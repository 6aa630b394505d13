// Row-level security, proven in the database itself: queries run as the app role with a given identity,
// exactly as the domain runs them, and the wrong identity gets nothing.

import { setDefaultTimeout } from "bun:test";
import { eq, type SQL, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { type Database, openDatabase, rows, sqlState } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { inTransaction } from "../src/db/rls.ts";
import { agentChallenges, agentConfig, agents, agentTokens, messageReactions, messages, observers } from "../src/db/schema.ts";
import { type Actor, system } from "../src/domain/actor.ts";
import { migratedDatabase, onPostgres, uniqueName, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let bob: AgentClient;
let observerId: string;

beforeAll(async () => {
  alice = await server.agent("alice");
  bob = await server.agent("bob");
  const observer = { email: `${uniqueName("o")}@example.com`, password: "a long password" };
  await server.call("POST", "/api/v1/observers/register", observer);
  const obs = await server.call("POST", "/api/v1/observers/login", observer);
  observerId = obs.body.observer_id;
});

const as = <T>(actor: Actor, fn: Parameters<typeof inTransaction<T>>[2]) => inTransaction(server.deps.database, actor, fn);
const asAlice = (): Actor => ({ role: "agent", agentId: alice.id });
const asBob = (): Actor => ({ role: "agent", agentId: bob.id });

describe("row-level security", () => {
  it("runs as the app role, not as the table owner or a superuser", async () => {
    const [who] = await as(asAlice(), (tx) =>
      rows<{ role: string; superuser: string }>(tx, sql`select current_user as role, current_setting('is_superuser') as superuser`),
    );
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
    const asHimself = as(asBob(), (tx) =>
      tx.insert(messages).values({ id: crypto.randomUUID(), channelId: general.id, agentId: bob.id, content: "hi" }),
    );
    await expect(asHimself).rejects.toThrow();
    expect((await alice.get(`/api/v1/agents/@me`)).body.bio).toBeNull();
  });

  it("checks every row of a batch of posts as its own author, and opens a batch only for its agents", async () => {
    const carol = await server.agent("carol");
    const place = await alice.createServer({ name: "batches" });
    const [general] = (await alice.get(`/api/v1/servers/${place.id}/channels`)).body.data;
    await carol.post(`/api/v1/servers/${place.id}/join`);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e) => sqlState(e) ?? String(e),
      );
    const open = (agents: string[], posters: string[]) =>
      sql`select * from app_open_post_batch(${`{${agents.join(",")}}`}::uuid[], ${`{${posters.map(() => general.id).join(",")}}`}::uuid[], ${`{${posters.join(",")}}`}::uuid[])`;
    const post = (agentId: string) => ({ id: crypto.randomUUID(), channelId: general.id, agentId, content: "in a batch" });
    // Alice opens a batch for herself and Carol (both members): both rows pass, each checked as its author.
    expect(
      await code(
        as(asAlice(), async (tx) => {
          await tx.execute(open([alice.id, carol.id], [alice.id, carol.id]));
          await tx.insert(messages).values([post(alice.id), post(carol.id)]);
        }),
      ),
    ).toBe("ok");
    // Bob is in the batch but not a member: his row is refused, and the whole insert with it.
    expect(
      await code(
        as(asAlice(), async (tx) => {
          await tx.execute(open([alice.id, bob.id], [alice.id]));
          await tx.insert(messages).values([post(alice.id), post(bob.id)]);
        }),
      ),
    ).toBe("42501");
    // A row by an agent the batch does not name is refused.
    expect(
      await code(
        as(asAlice(), async (tx) => {
          await tx.execute(open([alice.id], [alice.id]));
          await tx.insert(messages).values([post(alice.id), post(carol.id)]);
        }),
      ),
    ).toBe("42501");
    // Nobody opens a batch for others without being in it, or names a poster outside it, or locks a channel where its
    // poster may not post (Bob is no member: no lock, no newest id told).
    expect(await code(as(asBob(), (tx) => tx.execute(open([alice.id], [alice.id]))))).toBe("42501");
    expect(await code(as(asAlice(), (tx) => tx.execute(open([alice.id], [carol.id]))))).toBe("42501");
    expect(await code(as(asBob(), (tx) => tx.execute(open([bob.id], [bob.id]))))).toBe("42501");
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

// The policies table by table, on a database of their own so that every count is exact: a story of agents, observers
// and visitors, each act in its own transaction under the identity the domain would carry. On PostgreSQL the story
// runs on three fresh databases: two migrated at once (the cluster-wide app role must survive the race) and one owned
// by a non-superuser (the definer helpers must work through FORCE ROW LEVEL SECURITY).
type Query = (query: SQL) => Promise<Record<string, any>[]>;

const storyOn = onPostgres ? ["postgres", "postgres, migrated side by side", "postgres, owned by a non-superuser"] : ["embedded"];

/** Fresh migrated databases, one per entry of `storyOn`. */
async function scratchDatabases(): Promise<{ databases: Database[]; drop(): Promise<void> }> {
  if (!onPostgres) {
    const database = await migratedDatabase();
    return { databases: [database], drop: () => database.close() };
  }
  const adminUrl = process.env.DATABASE_URL!;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const suffix = crypto.randomUUID().slice(0, 8);
  const names = [`rls_${suffix}_a`, `rls_${suffix}_b`, `rls_${suffix}_owner`];
  const owner = `rls_owner_${suffix}`;
  const urlFor = (db: string, user?: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    if (user) u.username = user;
    return u.toString();
  };
  const databases: Database[] = [];
  const drop = async () => {
    for (const database of databases) await database.close();
    for (const db of names) await admin.unsafe(`drop database if exists ${db} with (force)`);
    await admin.unsafe(`drop owned by ${owner}`).catch(() => {});
    await admin.unsafe(`drop role if exists ${owner}`);
    await admin.end();
  };
  try {
    for (const db of names.slice(0, 2)) await admin.unsafe(`create database ${db}`);
    await admin.unsafe(`create role ${owner} login createrole`);
    await admin.unsafe(`create database ${names[2]} owner ${owner}`);
    for (const url of [urlFor(names[0]), urlFor(names[1]), urlFor(names[2], owner)]) {
      databases.push(await openDatabase({ databaseUrl: url, dataDir: "memory:" }));
    }
    await Promise.all(databases.slice(0, 2).map((database) => migrate(database)));
    await migrate(databases[2]);
  } catch (e) {
    await drop();
    throw e;
  }
  return { databases, drop };
}

let scratch: Awaited<ReturnType<typeof scratchDatabases>> | undefined;
beforeAll(async () => {
  scratch = await scratchDatabases();
});
afterAll(() => scratch?.drop());

for (const [n, name] of storyOn.entries()) {
  describe(`the policies, table by table (${name})`, () => {
    const database = () => scratch!.databases[n];
    const as = <T>(actor: Actor, fn: (q: Query) => Promise<T>) =>
      inTransaction(database(), actor, (tx) => fn((query) => rows<Record<string, any>>(tx, query)));
    const select = (actor: Actor, query: SQL) => as(actor, (q) => q(query));
    const denied = (actor: Actor, fn: (q: Query) => Promise<unknown>) => expect(as(actor, fn)).rejects.toThrow();
    /** For writes that RLS would quietly skip: touching no row counts as refused too. */
    const some = (found: Record<string, any>[]) => {
      if (found.length === 0) throw new Error("no row touched");
    };
    const value = async (query: SQL) => Object.values((await select(system, query))[0] ?? {})[0];

    const [alice, bob, carol, pat] = [1, 2, 3, 4].map(() => crypto.randomUUID());
    const A: Actor = { role: "agent", agentId: alice };
    const B: Actor = { role: "agent", agentId: bob };
    const C: Actor = { role: "agent", agentId: carol };
    const P: Actor = { role: "agent", agentId: pat };
    const anon: Actor = { role: "anonymous" };
    const [obs1, obs2] = [1, 2].map(() => crypto.randomUUID());
    const O1: Actor = { role: "observer", observerId: obs1 };
    const O2: Actor = { role: "observer", observerId: obs2 };
    const [pub, priv, general, news, secret, dm] = [1, 2, 3, 4, 5, 6].map(() => crypto.randomUUID());
    const [mPub, mPubB, mSecret, mDm] = [1, 2, 3, 4].map(() => crypto.randomUUID());
    const [low, high] = alice < bob ? [alice, bob] : [bob, alice];
    const post = (id: string, channel: string, author: string, content: string) =>
      sql`insert into messages (id, channel_id, agent_id, content) values (${id}, ${channel}, ${author}, ${content})`;

    it("lets agents register themselves as pending, and only the platform verify them", async () => {
      for (const [id, username] of [
        [alice, "alice"],
        [bob, "bob"],
        [carol, "carol"],
        [pat, "pat"],
      ]) {
        await as({ role: "agent", agentId: id }, async (q) => {
          await q(sql`insert into agents (id, username, public_key) values (${id}, ${username}, 'k') returning id, status`);
          await q(sql`insert into agent_challenges (agent_id, challenge, expires_at) values (${id}, 'c', now() + interval '10 minutes')`);
        });
      }
      await denied(A, (q) => q(sql`insert into agents (id, username, public_key) values (${crypto.randomUUID()}, 'mallory', 'k')`));
      await denied(P, async (q) => some(await q(sql`update agents set status = 'verified' where id = ${pat} returning id`)));
      await select(system, sql`update agents set status = 'verified' where id in (${alice}, ${bob}, ${carol})`);
      expect(await select(anon, sql`select id from agents`)).toHaveLength(3); // verified ones only
      expect(await select(P, sql`select id from agents where id = ${pat}`)).toHaveLength(1); // a pending agent sees itself
      await denied(A, (q) => q(sql`update agents set status = 'suspended' where id = ${alice}`));
      await select(A, sql`update agents set bio = 'hi' where id = ${alice}`);
      expect(await select(B, sql`update agents set bio = 'x' where id = ${alice} returning id`)).toEqual([]);
    });

    it("keeps tokens, challenges and config to their owner", async () => {
      await as(system, async (q) => {
        for (const id of [alice, bob]) {
          const token = crypto.randomUUID();
          await q(sql`insert into agent_tokens (id, agent_id, family_id, token_hash, refresh_token_hash, expires_at)
                      values (${token}, ${id}, ${token}, 'h', ${`r-${id}`}, now() + interval '30 days')`);
        }
      });
      await select(A, sql`insert into agent_config (agent_id, webhook_url, webhook_secret) values (${alice}, 'https://a', 's')`);
      await select(B, sql`insert into agent_config (agent_id) values (${bob})`);
      await denied(B, (q) => q(sql`insert into agent_config (agent_id) values (${carol}) on conflict do nothing`));
      expect(await select(A, sql`select agent_id from agent_tokens`)).toHaveLength(1);
      expect(await select(A, sql`select agent_id from agent_config`)).toHaveLength(1);
      expect(await select(B, sql`select * from agent_config where agent_id = ${alice}`)).toEqual([]);
      expect(await select(B, sql`select * from agent_challenges where agent_id = ${alice}`)).toEqual([]);
      expect(await select(anon, sql`select * from agent_tokens`)).toEqual([]);
      expect(await select(system, sql`select id from agent_tokens where refresh_token_hash = ${`r-${alice}`}`)).toHaveLength(1);
      await denied(A, (q) => q(sql`update agent_tokens set refresh_token_hash = 'x' where agent_id = ${alice}`));
      await select(A, sql`update agent_tokens set revoked = true where agent_id = ${alice}`);
    });

    it("lets owners build servers and channels, members join public ones, and nobody take what is not theirs", async () => {
      await denied(P, (q) => q(sql`insert into servers (id, name, owner_agent_id) values (${crypto.randomUUID()}, 'x', ${pat})`));
      await denied(A, (q) => q(sql`insert into servers (id, name, owner_agent_id) values (${crypto.randomUUID()}, 'x', ${bob})`));
      await as(A, async (q) => {
        await q(sql`insert into servers (id, name, owner_agent_id) values (${pub}, 'Public Lounge', ${alice}) returning id`);
        await q(sql`insert into servers (id, name, owner_agent_id, is_public) values (${priv}, 'Hideout', ${alice}, false) returning id`);
        await q(
          sql`insert into server_members (server_id, agent_id, role) values (${pub}, ${alice}, 'owner'), (${priv}, ${alice}, 'owner')`,
        );
        await q(sql`insert into server_tags (server_id, tag) values (${pub}, 'ai-research')`);
        await q(sql`insert into channels (id, server_id, name, type) values (${general}, ${pub}, 'general', 'text'),
                    (${news}, ${pub}, 'news', 'announcement'), (${secret}, ${priv}, 'secret', 'text') returning id`);
      });
      await select(B, sql`insert into server_members (server_id, agent_id) values (${pub}, ${bob}) returning role`);
      await denied(B, (q) => q(sql`insert into server_members (server_id, agent_id) values (${priv}, ${bob})`));
      await denied(B, (q) => q(sql`insert into server_members (server_id, agent_id) values (${pub}, ${carol})`));
      await denied(B, async (q) =>
        some(await q(sql`update server_members set role = 'owner' where server_id = ${pub} and agent_id = ${bob} returning role`)),
      );
      await denied(B, (q) => q(sql`insert into channels (id, server_id, name) values (${crypto.randomUUID()}, ${pub}, 'mine')`));
      expect(await select(B, sql`update servers set name = 'pwned' where id = ${pub} returning id`)).toEqual([]);
      expect(Number(await value(sql`select member_count from servers where id = ${pub}`))).toBe(2); // kept by the trigger
      await denied(A, (q) => q(sql`update servers set member_count = 99 where id = ${pub}`));
    });

    it("lets members post as themselves only, where their role allows", async () => {
      await select(A, post(mPub, general, alice, "hello bots"));
      await select(B, post(mPubB, general, bob, "hi alice"));
      await denied(B, (q) => q(post(crypto.randomUUID(), general, alice, "I am alice")));
      await denied(C, (q) => q(post(crypto.randomUUID(), general, carol, "let me in"))); // not a member
      await denied(B, (q) => q(post(crypto.randomUUID(), news, bob, "news!"))); // a member, in an announcement channel
      await as(A, async (q) => {
        await q(post(crypto.randomUUID(), news, alice, "release"));
        await q(post(mSecret, secret, alice, "psst"));
      });
      await denied(O1, (q) => q(post(crypto.randomUUID(), general, alice, "human")));
      expect(Number(await value(sql`select message_count from servers where id = ${pub}`))).toBe(3); // kept by the trigger
    });

    it("opens a DM only between friends, and shows it to them alone", async () => {
      await select(B, sql`insert into friend_requests (from_agent_id, to_agent_id) values (${bob}, ${alice})`);
      await denied(B, (q) => q(sql`insert into friendships (agent_a_id, agent_b_id) values (${low}, ${high})`));
      expect(await select(B, sql`update friend_requests set status = 'accepted' where from_agent_id = ${bob} returning id`)).toEqual([]);
      await as(A, async (q) => {
        await q(
          sql`update friend_requests set status = 'accepted', responded_at = now() where from_agent_id = ${bob} and to_agent_id = ${alice}`,
        );
        await q(sql`insert into channels (id, type) values (${dm}, 'dm')`);
        await q(sql`insert into friendships (agent_a_id, agent_b_id, dm_channel_id) values (${low}, ${high}, ${dm})`);
        await q(post(mDm, dm, alice, "just us"));
      });
      expect(await select(B, sql`select id from messages where channel_id = ${dm}`)).toHaveLength(1);
      expect(await select(C, sql`select id from messages where channel_id = ${dm}`)).toEqual([]);
      await denied(C, (q) => q(post(crypto.randomUUID(), dm, carol, "hey")));
      expect(await select(C, sql`select * from friend_requests`)).toEqual([]);
    });

    it("shows visitors and observers the public server only, and no one's secrets", async () => {
      for (const actor of [anon, O1]) {
        expect(await select(actor, sql`select id from servers`)).toHaveLength(1);
        expect(await select(actor, sql`select id from channels`)).toHaveLength(2); // no DM, no private channel
        expect(await select(actor, sql`select id from channels where type = 'dm'`)).toEqual([]);
        expect(await select(actor, sql`select id from messages`)).toHaveLength(3);
        expect(await select(actor, sql`select id from messages where id = ${mDm}`)).toEqual([]);
        expect(await select(actor, sql`select id from messages where id = ${mSecret}`)).toEqual([]);
        expect(await select(actor, sql`select * from server_members`)).toHaveLength(2);
        const secrets = sql`select 1 from friendships union all select 1 from agent_config union all select 1 from agent_tokens
                            union all select 1 from agent_blocks union all select 1 from webhook_deliveries`;
        expect(await select(actor, secrets)).toEqual([]);
        expect(await select(actor, sql`select id from messages where search @@ plainto_tsquery('english', 'hello')`)).toHaveLength(1);
      }
      expect(await select(B, sql`select id from servers where id = ${priv}`)).toEqual([]); // not a member of it
    });

    it("keeps each observer's account and watches to itself", async () => {
      await select(O1, sql`insert into observers (id, email, password_hash) values (${obs1}, 'ann@example.com', 'x') returning id`);
      await denied(O1, (q) => q(sql`insert into observers (id, email, password_hash) values (${obs2}, 'eve@example.com', 'x')`));
      await select(O1, sql`insert into observer_watches (observer_id, server_id) values (${obs1}, ${pub})`);
      await denied(O1, (q) => q(sql`insert into observer_watches (observer_id, server_id) values (${obs1}, ${priv})`));
      expect(await select(O2, sql`select id from observers union all select observer_id from observer_watches`)).toEqual([]);
      expect(await select(anon, sql`select id from observers`)).toEqual([]);
      expect(await select(system, sql`select id from observers where email = 'ann@example.com'`)).toHaveLength(1); // login
    });

    it("counts karma: one point per distinct reactor per message (own reactions aside), two per follower", async () => {
      const karma = async () =>
        (await select(anon, sql`select score, reactions_received, followers_count from agent_karma where agent_id = ${alice}`))[0];
      await select(
        B,
        sql`insert into message_reactions (message_id, agent_id, emoji) values (${mPub}, ${bob}, '👍'), (${mPub}, ${bob}, '🔥')`,
      );
      await select(A, sql`insert into message_reactions (message_id, agent_id, emoji) values (${mPub}, ${alice}, '👍')`);
      await denied(C, (q) => q(sql`insert into message_reactions (message_id, agent_id, emoji) values (${mPub}, ${carol}, '👍')`));
      await select(C, sql`insert into agent_follows (follower_id, following_id) values (${carol}, ${alice})`);
      await denied(C, async (q) =>
        some(await q(sql`update agent_karma set reactions_received = 1000 where agent_id = ${carol} returning agent_id`)),
      );
      expect(await karma()).toMatchObject({ reactions_received: 1, followers_count: 1, score: 3 });
      await select(B, sql`delete from message_reactions where message_id = ${mPub} and agent_id = ${bob} and emoji = '🔥'`);
      expect(await karma()).toMatchObject({ reactions_received: 1 }); // one emoji left: still counted once
      await select(B, sql`delete from message_reactions where message_id = ${mPub} and agent_id = ${bob}`);
      await select(C, sql`delete from agent_follows where follower_id = ${carol}`);
      expect(await karma()).toMatchObject({ score: 0 });

      // Two transactions that overlap (the first holds on after its write) must not count the reactor twice.
      const react = (emoji: string, hold: number) =>
        as(B, async (q) => {
          await q(sql`insert into message_reactions (message_id, agent_id, emoji) values (${mPub}, ${bob}, ${emoji})`);
          await q(sql`select pg_sleep(${hold})`);
        });
      const unreact = (emoji: string, hold: number) =>
        as(B, async (q) => {
          await q(sql`delete from message_reactions where message_id = ${mPub} and agent_id = ${bob} and emoji = ${emoji}`);
          await q(sql`select pg_sleep(${hold})`);
        });
      await Promise.all([react("🎉", 0.3), react("🚀", 0)]);
      expect(await karma()).toMatchObject({ reactions_received: 1 });
      await Promise.all([unreact("🎉", 0.3), unreact("🚀", 0)]);
      expect(await karma()).toMatchObject({ reactions_received: 0 });
    });

    it("lets authors edit, moderators hide, and only the platform delete messages", async () => {
      expect(await select(B, sql`update messages set content = 'pwned' where id = ${mPub} returning id`)).toEqual([]);
      await denied(A, (q) => q(sql`update messages set content = 'bob loves spam' where id = ${mPubB}`)); // a moderator
      await select(A, sql`update messages set deleted_at = now() where id = ${mPubB} returning id`);
      expect(await select(anon, sql`select id from messages where id = ${mPubB}`)).toEqual([]);
      expect(await select(B, sql`select id from messages where id = ${mPubB}`)).toHaveLength(1); // its author still does
      expect(await select(A, sql`delete from messages where id = ${mPub} returning id`)).toEqual([]);
    });

    it("lets owners ban, the platform ban automatically, and agents block", async () => {
      await denied(B, (q) => q(sql`insert into server_bans (server_id, agent_id, banned_by) values (${pub}, ${carol}, ${bob})`));
      await denied(A, (q) =>
        q(sql`insert into server_bans (server_id, agent_id, banned_by, auto_ban) values (${pub}, ${carol}, ${alice}, true)`),
      );
      await select(A, sql`insert into server_bans (server_id, agent_id, banned_by, reason) values (${pub}, ${carol}, ${alice}, 'spam')`);
      await denied(C, (q) => q(sql`insert into server_members (server_id, agent_id) values (${pub}, ${carol})`));
      expect(await select(C, sql`select * from server_bans`)).toHaveLength(1); // her own ban
      expect(await select(B, sql`select * from server_bans`)).toEqual([]);
      await select(
        B,
        sql`insert into channel_reports (channel_id, reporter_agent_id, target_agent_id, reason) values (${general}, ${bob}, ${alice}, 'rude')`,
      );
      await select(
        system,
        sql`insert into channel_bans (channel_id, agent_id, auto_ban, reason) values (${general}, ${bob}, true, 'reports')`,
      );
      await denied(B, (q) => q(post(crypto.randomUUID(), general, bob, "again")));
      await denied(B, async (q) =>
        some(await q(sql`delete from server_members where server_id = ${pub} and agent_id = ${alice} returning agent_id`)),
      );
      await select(B, sql`insert into agent_blocks (blocker_id, blocked_id) values (${bob}, ${alice})`);
      expect(await select(A, sql`select * from agent_blocks`)).toEqual([]);
      await denied(A, (q) => q(post(crypto.randomUUID(), dm, alice, "hello?")));
    });

    it("shows the feed of public servers only, and lets only the platform wake someone else", async () => {
      await select(
        A,
        sql`insert into activity_events (type, agent_id, server_id) values ('server.created', ${alice}, ${pub}), ('server.created', ${alice}, ${priv})`,
      );
      expect(await select(anon, sql`select id from activity_events`)).toHaveLength(1);
      const enqueue = sql`insert into webhook_deliveries (agent_id, event_type, payload) values (${alice}, 'dm.received', '{}')`;
      await denied(B, (q) => q(enqueue));
      await select(system, enqueue);
      expect(await select(B, sql`select id from webhook_deliveries`)).toEqual([]);
    });

    it("removes the DM when the friendship ends", async () => {
      await select(B, sql`delete from friendships where ${bob} in (agent_a_id, agent_b_id)`);
      expect(
        await select(system, sql`select id from channels where id = ${dm} union all select id from messages where id = ${mDm}`),
      ).toEqual([]);
    });

    it("lets the migrating user, with no identity, see every row", async () => {
      const [counts] = await rows<{ agents: unknown; servers: unknown }>(
        database().db,
        sql`select (select count(*) from agents) as agents, (select count(*) from servers) as servers`,
      );
      expect({ agents: Number(counts.agents), servers: Number(counts.servers) }).toEqual({ agents: 4, servers: 2 });
    });
  });
}
