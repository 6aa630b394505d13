// Checks migrations/ and its row-level security against a real database, as the app would see it: a story of agents,
// observers and visitors, each act in its own transaction under the identity src/db/rls.ts sets.
//   bun src/db/rls-check.ts pglite
//   bun src/db/rls-check.ts postgres [postgres://postgres@127.0.0.1:5432/postgres]
// The postgres mode creates scratch databases (two migrated as the superuser, one as a non-superuser owner) and
// drops them afterwards.
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";

type Query = (text: string, params?: unknown[]) => Promise<any[]>;
type Engine = {
  name: string;
  exec(text: string): Promise<void>;
  tx<T>(fn: (q: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};
type Actor =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | { role: "agent"; agentId: string }
  | { role: "system" };

const migrationsDir = join(import.meta.dir, "..", "..", "migrations");

function migrationStatements(): string[] {
  return readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => readFileSync(join(migrationsDir, f), "utf8").split("--> statement-breakpoint"))
    .filter((s) => s.trim() !== "");
}

async function migrate(engine: Engine) {
  for (const statement of migrationStatements()) await engine.exec(statement);
}

function pgliteEngine(db: PGlite): Engine {
  return {
    name: "pglite",
    exec: async (text) => void (await db.exec(text)),
    tx: (fn) => db.transaction((t) => fn(async (text, params) => (await t.query(text, params)).rows as any[])),
    close: () => db.close(),
  };
}

function postgresEngine(url: string, name: string): Engine {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  return {
    name,
    exec: async (text) => void (await sql.unsafe(text)),
    tx: (fn) => sql.begin((t) => fn(async (text, params) => [...(await t.unsafe(text, params as any[]))])) as any,
    close: () => sql.end({ timeout: 5 }),
  };
}

/** The whole story; returns the number of failed checks. */
async function story(engine: Engine): Promise<number> {
  let failed = 0;
  const report = (ok: boolean, what: string, detail = "") => {
    if (!ok) failed++;
    console.log(`${ok ? "ok  " : "FAIL"} [${engine.name}] ${what}${detail ? ` (${detail})` : ""}`);
  };
  const as = <T>(actor: Actor, fn: (q: Query) => Promise<T>) =>
    engine.tx(async (q) => {
      await q(
        `select set_config('role', 'moltstack_app', true), set_config('moltstack.role', $1, true),
                set_config('moltstack.agent_id', $2, true), set_config('moltstack.observer_id', $3, true)`,
        [actor.role, actor.role === "agent" ? actor.agentId : "", actor.role === "observer" ? actor.observerId : ""],
      );
      return fn(q);
    });
  const expectRows = async (what: string, actor: Actor, text: string, params: unknown[], want: number) => {
    try {
      const rows = await as(actor, (q) => q(text, params));
      report(rows.length === want, what, `${rows.length} rows, want ${want}`);
    } catch (e) {
      report(false, what, (e as Error).message);
    }
  };
  const expectOk = async (what: string, actor: Actor, fn: (q: Query) => Promise<unknown>) => {
    try {
      await as(actor, fn);
      report(true, what);
    } catch (e) {
      report(false, what, (e as Error).message);
    }
  };
  const expectDenied = async (what: string, actor: Actor, fn: (q: Query) => Promise<unknown>) => {
    try {
      await as(actor, fn);
      report(false, what, "it was allowed");
    } catch (e) {
      report(true, what, (e as Error).message.slice(0, 90));
    }
  };
  const value = async (actor: Actor, text: string, params: unknown[] = []) =>
    Object.values((await as(actor, (q) => q(text, params)))[0] ?? {})[0];

  const [alice, bob, carol, pat] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const A: Actor = { role: "agent", agentId: alice };
  const B: Actor = { role: "agent", agentId: bob };
  const C: Actor = { role: "agent", agentId: carol };
  const P: Actor = { role: "agent", agentId: pat };
  const anon: Actor = { role: "anonymous" };
  const system: Actor = { role: "system" };
  const [obs1, obs2] = [randomUUID(), randomUUID()];
  const O1: Actor = { role: "observer", observerId: obs1 };
  const O2: Actor = { role: "observer", observerId: obs2 };
  const [pub, priv, general, news, secret, dm] = [1, 2, 3, 4, 5, 6].map(() => randomUUID());
  const [mPub, mPubB, mSecret, mDm] = [1, 2, 3, 4].map(() => randomUUID());

  // Registration: each agent inserts itself (pending) and its challenge; verification is the platform's.
  for (const [id, name] of [[alice, "alice"], [bob, "bob"], [carol, "carol"], [pat, "pat"]] as const) {
    await expectOk(`${name} registers itself as pending`, { role: "agent", agentId: id }, async (q) => {
      await q(`insert into agents (id, username, public_key) values ($1, $2, 'k') returning id, status`, [id, name]);
      await q(`insert into agent_challenges (agent_id, challenge, expires_at) values ($1, 'c', now() + interval '10 minutes')`, [id]);
    });
  }
  await expectDenied("an agent cannot register someone else", A, (q) =>
    q(`insert into agents (id, username, public_key) values ($1, 'mallory', 'k')`, [randomUUID()]),
  );
  await expectDenied("a pending agent cannot verify itself", P, (q) =>
    q(`update agents set status = 'verified' where id = $1 returning id`, [pat]).then((r) => {
      if (r.length === 0) throw new Error("no row updated");
    }),
  );
  await expectOk("system verifies alice, bob and carol", system, (q) =>
    q(`update agents set status = 'verified' where id = any($1::uuid[])`, [[alice, bob, carol]]),
  );
  await expectRows("anonymous sees verified agents, not pending ones", anon, `select id from agents`, [], 3);
  await expectRows("a pending agent sees itself", P, `select id from agents where id = $1`, [pat], 1);
  await expectDenied("an agent cannot suspend-proof itself by changing its status", A, (q) =>
    q(`update agents set status = 'suspended' where id = $1`, [alice]),
  );
  await expectOk("an agent edits its own profile", A, (q) => q(`update agents set bio = 'hi' where id = $1`, [alice]));
  await expectRows("bob cannot edit alice's profile", B, `update agents set bio = 'x' where id = $1 returning id`, [alice], 0);

  // Secrets: tokens, challenges and config are the owner's alone.
  await expectOk("system issues tokens", system, async (q) => {
    for (const id of [alice, bob])
      await q(
        `insert into agent_tokens (id, agent_id, family_id, token_hash, refresh_token_hash, expires_at)
         values ($1, $2, $1, 'h', $3, now() + interval '30 days')`,
        [randomUUID(), id, `r-${id}`],
      );
  });
  await expectOk("alice writes her config", A, (q) =>
    q(`insert into agent_config (agent_id, webhook_url, webhook_secret) values ($1, 'https://a', 's')`, [alice]),
  );
  await expectOk("bob writes his config", B, (q) => q(`insert into agent_config (agent_id) values ($1)`, [bob]));
  await expectDenied("bob cannot write config for alice", B, (q) =>
    q(`insert into agent_config (agent_id) values ($1) on conflict do nothing`, [carol]),
  );
  await expectRows("alice sees her own token only", A, `select agent_id from agent_tokens`, [], 1);
  await expectRows("alice sees her own config only", A, `select agent_id from agent_config`, [], 1);
  await expectRows("bob cannot read alice's config", B, `select * from agent_config where agent_id = $1`, [alice], 0);
  await expectRows("bob cannot read alice's challenges", B, `select * from agent_challenges where agent_id = $1`, [alice], 0);
  await expectRows("anonymous sees no tokens", anon, `select * from agent_tokens`, [], 0);
  await expectRows("system finds a token by its refresh hash", system,
    `select id from agent_tokens where refresh_token_hash = $1`, [`r-${alice}`], 1);
  await expectDenied("alice cannot re-point her token's hash", A, (q) =>
    q(`update agent_tokens set refresh_token_hash = 'x' where agent_id = $1`, [alice]),
  );
  await expectOk("alice revokes her own tokens", A, (q) => q(`update agent_tokens set revoked = true where agent_id = $1`, [alice]));

  // Servers and channels.
  await expectDenied("a pending agent cannot create a server", P, (q) =>
    q(`insert into servers (id, name, owner_agent_id) values ($1, 'x', $2)`, [randomUUID(), pat]),
  );
  await expectDenied("alice cannot create a server owned by bob", A, (q) =>
    q(`insert into servers (id, name, owner_agent_id) values ($1, 'x', $2)`, [randomUUID(), bob]),
  );
  await expectOk("alice creates a public and a private server with channels", A, async (q) => {
    await q(`insert into servers (id, name, owner_agent_id) values ($1, 'Public Lounge', $2) returning id`, [pub, alice]);
    await q(`insert into servers (id, name, owner_agent_id, is_public) values ($1, 'Hideout', $2, false) returning id`, [priv, alice]);
    await q(`insert into server_members (server_id, agent_id, role) values ($1, $3, 'owner'), ($2, $3, 'owner')`, [pub, priv, alice]);
    await q(`insert into server_tags (server_id, tag) values ($1, 'ai-research')`, [pub]);
    await q(
      `insert into channels (id, server_id, name, type) values ($1, $4, 'general', 'text'), ($2, $4, 'news', 'announcement'),
       ($3, $5, 'secret', 'text') returning id`,
      [general, news, secret, pub, priv],
    );
  });
  await expectOk("bob joins the public server", B, (q) =>
    q(`insert into server_members (server_id, agent_id) values ($1, $2) returning role`, [pub, bob]),
  );
  await expectDenied("bob cannot join the private server", B, (q) =>
    q(`insert into server_members (server_id, agent_id) values ($1, $2)`, [priv, bob]),
  );
  await expectDenied("bob cannot sign carol up", B, (q) =>
    q(`insert into server_members (server_id, agent_id) values ($1, $2)`, [pub, carol]),
  );
  await expectDenied("bob cannot make himself owner", B, (q) =>
    q(`update server_members set role = 'owner' where server_id = $1 and agent_id = $2 returning role`, [pub, bob]).then(
      (r) => {
        if (r.length === 0) throw new Error("no row updated");
      },
    ),
  );
  await expectDenied("bob (member) cannot create a channel", B, (q) =>
    q(`insert into channels (id, server_id, name) values ($1, $2, 'mine')`, [randomUUID(), pub]),
  );
  await expectRows("bob cannot rename the server", B, `update servers set name = 'pwned' where id = $1 returning id`, [pub], 0);
  const members = await value(system, `select member_count from servers where id = $1`, [pub]);
  report(Number(members) === 2, "member_count is kept by the trigger", `member_count=${members}`);
  await expectDenied("alice (owner) cannot hand herself another owner's counters", A, (q) =>
    q(`update servers set member_count = 99 where id = $1`, [pub]),
  );

  // Posting.
  await expectOk("alice posts in #general", A, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'hello bots')`, [mPub, general, alice]),
  );
  await expectOk("bob posts in #general", B, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'hi alice') returning id`, [mPubB, general, bob]),
  );
  await expectDenied("bob cannot post as alice", B, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'I am alice')`, [randomUUID(), general, alice]),
  );
  await expectDenied("carol (not a member) cannot post", C, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'let me in')`, [randomUUID(), general, carol]),
  );
  await expectDenied("bob (member) cannot post in an announcement channel", B, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'news!')`, [randomUUID(), news, bob]),
  );
  await expectOk("alice (owner) posts in the announcement channel and the private server", A, async (q) => {
    await q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'release')`, [randomUUID(), news, alice]);
    await q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'psst')`, [mSecret, secret, alice]);
  });
  await expectDenied("observers cannot post", O1, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'human')`, [randomUUID(), general, alice]),
  );
  const counted = await value(system, `select message_count from servers where id = $1`, [pub]);
  report(Number(counted) === 3, "message_count is kept by the trigger", `message_count=${counted}`);

  // DMs: a request, an answer, a DM channel owned by the friendship.
  await expectOk("bob sends alice a friend request", B, (q) =>
    q(`insert into friend_requests (from_agent_id, to_agent_id) values ($1, $2)`, [bob, alice]),
  );
  await expectDenied("bob cannot befriend alice before she accepts", B, (q) =>
    q(`insert into friendships (agent_a_id, agent_b_id) values ($1, $2)`, [alice < bob ? alice : bob, alice < bob ? bob : alice]),
  );
  await expectRows("bob cannot accept his own request", B, `update friend_requests set status = 'accepted' where from_agent_id = $1 returning id`, [bob], 0);
  await expectOk("alice accepts, opens the DM channel and records the friendship", A, async (q) => {
    await q(`update friend_requests set status = 'accepted', responded_at = now() where from_agent_id = $1 and to_agent_id = $2`, [bob, alice]);
    await q(`insert into channels (id, type) values ($1, 'dm')`, [dm]);
    await q(`insert into friendships (agent_a_id, agent_b_id, dm_channel_id) values ($1, $2, $3)`, [
      alice < bob ? alice : bob,
      alice < bob ? bob : alice,
      dm,
    ]);
    await q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'just us')`, [mDm, dm, alice]);
  });
  await expectRows("bob reads the DM", B, `select id from messages where channel_id = $1`, [dm], 1);
  await expectRows("carol cannot read the DM", C, `select id from messages where channel_id = $1`, [dm], 0);
  await expectDenied("carol cannot post in the DM", C, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'hey')`, [randomUUID(), dm, carol]),
  );
  await expectRows("carol sees none of their friend requests", C, `select * from friend_requests`, [], 0);

  // What visitors and observers see.
  for (const [who, actor] of [["anonymous", anon], ["an observer", O1]] as const) {
    await expectRows(`${who} sees the public server only`, actor, `select id from servers`, [], 1);
    await expectRows(`${who} sees the public server's channels, no DM or private channel`, actor, `select id from channels`, [], 2);
    await expectRows(`${who} sees no DM channel`, actor, `select id from channels where type = 'dm'`, [], 0);
    await expectRows(`${who} sees public messages only`, actor, `select id from messages`, [], 3);
    await expectRows(`${who} cannot read the DM message`, actor, `select id from messages where id = $1`, [mDm], 0);
    await expectRows(`${who} cannot read the private server's message`, actor, `select id from messages where id = $1`, [mSecret], 0);
    await expectRows(`${who} sees the public server's members`, actor, `select * from server_members`, [], 2);
    await expectRows(`${who} sees no friendships, configs, tokens or blocks`, actor,
      `select 1 from friendships union all select 1 from agent_config union all select 1 from agent_tokens
       union all select 1 from agent_blocks union all select 1 from webhook_deliveries`, [], 0);
    await expectRows(`${who} finds public messages by full-text search`, actor,
      `select id from messages where search @@ plainto_tsquery('english', 'hello')`, [], 1);
  }
  await expectRows("bob (not a member of the private server) cannot see it", B, `select id from servers where id = $1`, [priv], 0);

  // Observers.
  await expectOk("an observer registers itself", O1, (q) =>
    q(`insert into observers (id, email, password_hash) values ($1, 'ann@example.com', 'x') returning id`, [obs1]),
  );
  await expectDenied("an observer cannot register as someone else", O1, (q) =>
    q(`insert into observers (id, email, password_hash) values ($1, 'eve@example.com', 'x')`, [obs2]),
  );
  await expectOk("an observer watches the public server", O1, (q) =>
    q(`insert into observer_watches (observer_id, server_id) values ($1, $2)`, [obs1, pub]),
  );
  await expectDenied("an observer cannot watch a private server", O1, (q) =>
    q(`insert into observer_watches (observer_id, server_id) values ($1, $2)`, [obs1, priv]),
  );
  await expectRows("another observer sees neither the observer nor its watches", O2,
    `select id from observers union all select observer_id from observer_watches`, [], 0);
  await expectRows("anonymous cannot look observers up by email", anon, `select id from observers`, [], 0);
  await expectRows("system looks observers up by email (login)", system, `select id from observers where email = $1`, ["ann@example.com"], 1);

  // Karma: one point per distinct reactor per message (own reactions excluded), two per follower.
  await expectOk("bob reacts twice to alice's message, alice reacts to her own", B, async (q) => {
    await q(`insert into message_reactions (message_id, agent_id, emoji) values ($1, $2, '👍'), ($1, $2, '🔥')`, [mPub, bob]);
  });
  await expectOk("alice reacts to her own message", A, (q) =>
    q(`insert into message_reactions (message_id, agent_id, emoji) values ($1, $2, '👍')`, [mPub, alice]),
  );
  await expectDenied("carol (not a member) cannot react", C, (q) =>
    q(`insert into message_reactions (message_id, agent_id, emoji) values ($1, $2, '👍')`, [mPub, carol]),
  );
  await expectOk("carol follows alice", C, (q) => q(`insert into agent_follows (follower_id, following_id) values ($1, $2)`, [carol, alice]));
  await expectDenied("carol cannot write karma", C, (q) =>
    q(`update agent_karma set reactions_received = 1000 where agent_id = $1 returning agent_id`, [carol]).then((r) => {
      if (r.length === 0) throw new Error("no row updated");
    }),
  );
  const karma = async () =>
    (await as(anon, (q) => q(`select score, reactions_received, followers_count from agent_karma where agent_id = $1`, [alice])))[0];
  let k = await karma();
  report(k?.reactions_received === 1 && k?.followers_count === 1 && k?.score === 3, "alice's karma: 1 reaction + 2 * 1 follower = 3", JSON.stringify(k));
  await expectOk("bob takes one emoji back", B, (q) => q(`delete from message_reactions where message_id = $1 and agent_id = $2 and emoji = '🔥'`, [mPub, bob]));
  k = await karma();
  report(k?.reactions_received === 1, "one emoji left: still counted once", JSON.stringify(k));
  await expectOk("bob takes the other emoji back, carol unfollows", B, (q) =>
    q(`delete from message_reactions where message_id = $1 and agent_id = $2`, [mPub, bob]),
  );
  await expectOk("carol unfollows", C, (q) => q(`delete from agent_follows where follower_id = $1`, [carol]));
  k = await karma();
  report(k?.score === 0, "karma back to 0", JSON.stringify(k));
  const react = (emoji: string, pause: number) =>
    as(B, async (q) => {
      await q(`insert into message_reactions (message_id, agent_id, emoji) values ($1, $2, $3)`, [mPub, bob, emoji]);
      await q(`select pg_sleep($1)`, [pause]);
    });
  const unreact = (emoji: string, pause: number) =>
    as(B, async (q) => {
      await q(`delete from message_reactions where message_id = $1 and agent_id = $2 and emoji = $3`, [mPub, bob, emoji]);
      await q(`select pg_sleep($1)`, [pause]);
    });
  await Promise.all([react("🎉", 0.3), react("🚀", 0)]);
  k = await karma();
  report(k?.reactions_received === 1, "two emojis in concurrent transactions count once", JSON.stringify(k));
  await Promise.all([unreact("🎉", 0.3), unreact("🚀", 0)]);
  k = await karma();
  report(k?.reactions_received === 0, "taking both back concurrently uncounts once", JSON.stringify(k));

  // Editing and soft deletion.
  await expectRows("bob cannot edit alice's message", B, `update messages set content = 'pwned' where id = $1 returning id`, [mPub], 0);
  await expectDenied("alice (moderator) cannot rewrite bob's message", A, (q) =>
    q(`update messages set content = 'bob loves spam' where id = $1`, [mPubB]),
  );
  await expectOk("alice (moderator) soft-deletes bob's message", A, (q) =>
    q(`update messages set deleted_at = now() where id = $1 returning id`, [mPubB]),
  );
  await expectRows("anonymous no longer sees the deleted message", anon, `select id from messages where id = $1`, [mPubB], 0);
  await expectRows("its author still does", B, `select id from messages where id = $1`, [mPubB], 1);
  await expectRows("nobody but the platform hard-deletes a message", A, `delete from messages where id = $1 returning id`, [mPub], 0);

  // Moderation.
  await expectDenied("bob (member) cannot ban carol", B, (q) =>
    q(`insert into server_bans (server_id, agent_id, banned_by) values ($1, $2, $3)`, [pub, carol, bob]),
  );
  await expectDenied("alice cannot record an automatic ban herself", A, (q) =>
    q(`insert into server_bans (server_id, agent_id, banned_by, auto_ban) values ($1, $2, $3, true)`, [pub, carol, alice]),
  );
  await expectOk("alice (owner) bans carol", A, (q) =>
    q(`insert into server_bans (server_id, agent_id, banned_by, reason) values ($1, $2, $3, 'spam')`, [pub, carol, alice]),
  );
  await expectDenied("a banned agent cannot join", C, (q) =>
    q(`insert into server_members (server_id, agent_id) values ($1, $2)`, [pub, carol]),
  );
  await expectRows("carol sees her own ban", C, `select * from server_bans`, [], 1);
  await expectRows("bob does not see carol's ban", B, `select * from server_bans`, [], 0);
  await expectOk("bob reports alice in #general", B, (q) =>
    q(`insert into channel_reports (channel_id, reporter_agent_id, target_agent_id, reason) values ($1, $2, $3, 'rude')`, [general, bob, alice]),
  );
  await expectOk("system bans bob from #general automatically", system, (q) =>
    q(`insert into channel_bans (channel_id, agent_id, auto_ban, reason) values ($1, $2, true, 'reports')`, [general, bob]),
  );
  await expectDenied("a channel-banned agent cannot post there", B, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'again')`, [randomUUID(), general, bob]),
  );
  await expectDenied("bob cannot kick the owner", B, (q) =>
    q(`delete from server_members where server_id = $1 and agent_id = $2 returning agent_id`, [pub, alice]).then((r) => {
      if (r.length === 0) throw new Error("no row deleted");
    }),
  );
  await expectOk("bob blocks alice", B, (q) => q(`insert into agent_blocks (blocker_id, blocked_id) values ($1, $2)`, [bob, alice]));
  await expectRows("alice does not see bob's block", A, `select * from agent_blocks`, [], 0);
  await expectDenied("alice cannot DM bob once he blocked her", A, (q) =>
    q(`insert into messages (id, channel_id, agent_id, content) values ($1, $2, $3, 'hello?')`, [randomUUID(), dm, alice]),
  );

  // Feed.
  await expectOk("alice records feed events", A, (q) =>
    q(`insert into activity_events (type, agent_id, server_id) values ('server.created', $1, $2), ('server.created', $1, $3)`, [alice, pub, priv]),
  );
  await expectRows("anonymous sees the public server's event only", anon, `select id from activity_events`, [], 1);

  // Outbox: only the platform enqueues for someone else.
  await expectDenied("bob cannot enqueue a webhook for alice", B, (q) =>
    q(`insert into webhook_deliveries (agent_id, event_type, payload) values ($1, 'dm.received', '{}')`, [alice]),
  );
  await expectOk("system enqueues a webhook for alice", system, (q) =>
    q(`insert into webhook_deliveries (agent_id, event_type, payload) values ($1, 'dm.received', '{}')`, [alice]),
  );
  await expectRows("alice sees her delivery, bob does not", B, `select id from webhook_deliveries`, [], 0);

  // Ending the friendship removes the DM.
  await expectOk("bob unfriends alice", B, (q) => q(`delete from friendships where $1 in (agent_a_id, agent_b_id)`, [bob]));
  await expectRows("the DM channel and its messages are gone", system, `select id from channels where id = $1 union all select id from messages where id = $2`, [dm, mDm], 0);

  // No identity at all: the migrating user (a superuser, or a member of moltstack_definer) sees everything.
  try {
    const rows = await engine.tx((q) => q(`select (select count(*) from agents) as agents, (select count(*) from servers) as servers`));
    report(Number(rows[0].agents) === 4 && Number(rows[0].servers) === 2, "without an identity the migrating user sees every row", JSON.stringify(rows[0]));
  } catch (e) {
    report(false, "without an identity the migrating user sees every row", (e as Error).message);
  }
  return failed;
}

async function checkPglite(): Promise<number> {
  const started = performance.now();
  const db = await PGlite.create();
  const engine = pgliteEngine(db);
  try {
    await migrate(engine);
    console.log(`pglite: migrated in ${Math.round(performance.now() - started)} ms`);
    return await story(engine);
  } finally {
    await engine.close();
  }
}

async function checkPostgres(adminUrl: string): Promise<number> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const urlFor = (db: string, user?: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    if (user) u.username = user;
    return u.toString();
  };
  const suffix = Math.floor(Math.random() * 1e6);
  const dbs = [`rlscheck_${suffix}_a`, `rlscheck_${suffix}_b`, `rlscheck_${suffix}_owner`];
  const owner = `rlscheck_owner_${suffix}`;
  let failed = 0;
  try {
    for (const db of dbs.slice(0, 2)) await admin.unsafe(`create database ${db}`);
    // A non-superuser owner: the definer helpers must work through FORCE ROW LEVEL SECURITY.
    await admin.unsafe(`create role ${owner} login createrole`);
    await admin.unsafe(`create database ${dbs[2]} owner ${owner}`);
    const engines = [
      postgresEngine(urlFor(dbs[0]), "postgres:a"),
      postgresEngine(urlFor(dbs[1]), "postgres:b"),
      postgresEngine(urlFor(dbs[2], owner), "postgres:non-superuser-owner"),
    ];
    try {
      // Both superuser databases at once: the cluster-wide role must survive the race and already existing.
      await Promise.all(engines.slice(0, 2).map(migrate));
      await migrate(engines[2]);
      console.log("postgres: migrated 3 databases");
      for (const engine of engines) failed += await story(engine);
    } finally {
      for (const engine of engines) await engine.close();
    }
  } finally {
    for (const db of dbs) await admin.unsafe(`drop database if exists ${db} with (force)`);
    await admin.unsafe(`drop owned by ${owner}`).catch(() => {});
    await admin.unsafe(`drop role if exists ${owner}`);
    await admin.end();
  }
  return failed;
}

const mode = process.argv[2] ?? "pglite";
const failed =
  mode === "postgres" ? await checkPostgres(process.argv[3] ?? "postgres://postgres@127.0.0.1:5432/postgres") : await checkPglite();
console.log(failed === 0 ? "all checks passed" : `${failed} checks failed`);
process.exit(failed === 0 ? 0 : 1);
