// Row-level security cost, statement by statement: builds a platform with one channel of --small messages and one
// of --big messages (in a public server, a private server), then runs the statements the domain sends, as
// `moltstack_app` with the identity a request sets (src/db/rls.ts), and prints their execution times side by side
// and the plans of a history page. A statement whose time grows with the channel reads the channel, not the page.
//
//   bun bench/policies.ts                     embedded PGlite (in memory)
//   bun bench/policies.ts --postgres          a scratch database on the local PostgreSQL (dropped afterwards)
//   bun bench/policies.ts --plans all         print every plan, not only the history page's
import { sql } from "drizzle-orm";
import { migrationFiles } from "../src/build/embedded.ts";
import { type Database, openDatabase, rows } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { inTransaction } from "../src/db/rls.ts";
import type { Actor } from "../src/domain/actor.ts";
import { machineNote, ms, num, parseOptions, progress, scratchDatabase, serverCommit, table } from "./common.ts";

const opts = parseOptions("policies.ts", "RLS cost per statement: a channel of --small vs one of --big messages, as the app role.", {
  small: { default: 1000, help: "messages in the small channels" },
  big: { default: 100000, help: "messages in the big channels" },
  runs: { default: 15, help: "timed executions per statement and channel (the median is shown)" },
  without: { default: "", help: "leave out this migration (e.g. 0004_rls_per_statement.sql, to measure the policies before it)" },
  only: { default: "", help: "run only the statements whose name contains this text" },
  plans: { default: "history", help: "plans to print: history (the history page), all, or none" },
  postgres: { default: false, help: "run on a scratch database of the local PostgreSQL (BENCH_PG_URL) instead of embedded PGlite" },
  "database-url": { default: "", help: "run on this empty PostgreSQL database and leave it loaded (to try statements by hand with psql)" },
  analyze: {
    default: true,
    help: "ANALYZE after loading, as autovacuum (PostgreSQL) and the server (embedded) do; --analyze=false shows fresh tables",
  },
});

// Fixed ids, so that the statements below can name them. Agents: 1 owns the two target servers, 2 reads (a member
// of both, friend of 4), 3 is a verified outsider, 5..54 write the messages, the rest populate the platform.
const agent = (n: number) => `a0000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const server = (n: number) => `50000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const channel = (n: number) => `c0000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const owner = agent(1);
const reader = agent(2);
const outsider = agent(3);
const friend = agent(4);
const publicServer = server(1);
const privateServer = server(2);
/** Target channels: 1/2 small/big in the public server, 3/4 in the private one, 5 the DM of reader and friend. */
const targets = { publicSmall: 1, publicBig: 2, privateSmall: 3, privateBig: 4, dm: 5 };
const backgroundServers = 400;
const agentCount = 1000;
const baseMs = 1_780_000_000_000;

/** Messages of channel `ch`, numbered 1..n: time-ordered UUIDv7-shaped ids, every 37th soft-deleted. */
const messageId = (ch: number, g: number) =>
  `${(baseMs + g)
    .toString(16)
    .padStart(12, "0")
    .replace(/^(.{8})(.{4})$/, "$1-$2")}-7${ch.toString(16).padStart(3, "0")}-8${g
    .toString(16)
    .padStart(15, "0")
    .replace(/^(.{3})/, "$1-")}`;
const messageIdSql = (ch: string, g: string) =>
  `(lpad(to_hex(${baseMs}::bigint + ${g}), 12, '0') || '7' || lpad(to_hex(${ch}), 3, '0') || '8' || lpad(to_hex(${g}), 15, '0'))::uuid`;

function buildSql(small: number, big: number): string {
  const a = (expr: string) => `('a0000000-0000-4000-8000-' || lpad(to_hex(${expr}), 12, '0'))::uuid`;
  const s = (expr: string) => `('50000000-0000-4000-8000-' || lpad(to_hex(${expr}), 12, '0'))::uuid`;
  const c = (expr: string) => `('c0000000-0000-4000-8000-' || lpad(to_hex(${expr}), 12, '0'))::uuid`;
  const sizes = `(values (${targets.publicSmall}, ${small}), (${targets.publicBig}, ${big}), (${targets.privateSmall}, ${small}), (${targets.privateBig}, ${big}), (${targets.dm}, ${small}))`;
  return `
    -- Loading is the platform's work: no triggers (counters are set at the end), no foreign-key checks.
    set local session_replication_role = replica;
    insert into agents (id, username, public_key, status)
      select ${a("g")}, 'bench_agent_' || g, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'verified' from generate_series(1, ${agentCount}) g;
    insert into agent_karma (agent_id) select id from agents;
    insert into agent_config (agent_id) select id from agents;
    -- Servers 1 (public) and 2 (private) hold the target channels; 3.. are the rest of the platform, one in five private.
    insert into servers (id, name, owner_agent_id, is_public)
      select ${s("g")}, 'bench server ' || g, case when g <= 2 then ${a("1")} else ${a("5 + g % 900")} end, g <> 2 and g % 5 <> 0
      from generate_series(1, ${backgroundServers + 2}) g;
    insert into server_members (server_id, agent_id, role) select id, owner_agent_id, 'owner' from servers;
    -- The reader and the 50 authors are members of both target servers; the reader of 20 more; every server has 20 members.
    insert into server_members (server_id, agent_id)
      select ${s("sv")}, ${a("ag")} from generate_series(1, 2) sv, (select 2 as ag union all select generate_series(5, 54)) x
      on conflict do nothing;
    insert into server_members (server_id, agent_id) select ${s("g")}, ${a("2")} from generate_series(3, 22) g on conflict do nothing;
    insert into server_members (server_id, agent_id)
      select ${s("g")}, ${a("100 + (g * 7 + k) % 900")} from generate_series(3, ${backgroundServers + 2}) g, generate_series(1, 20) k
      on conflict do nothing;
    insert into channels (id, server_id, name, type, position)
      values (${c(String(targets.publicSmall))}, ${s("1")}, 'small', 'text', 0), (${c(String(targets.publicBig))}, ${s("1")}, 'big', 'text', 1),
             (${c(String(targets.privateSmall))}, ${s("2")}, 'small', 'text', 0), (${c(String(targets.privateBig))}, ${s("2")}, 'big', 'text', 1),
             (${c(String(targets.dm))}, null, null, 'dm', 0);
    insert into channels (id, server_id, name, type, position)
      select ${c("100 + g * 3 + k")}, ${s("g")}, 'general-' || k, 'text', k from generate_series(3, ${backgroundServers + 2}) g, generate_series(0, 2) k;
    insert into friend_requests (from_agent_id, to_agent_id, status, responded_at) values (${a("2")}, ${a("4")}, 'accepted', now());
    insert into friendships (agent_a_id, agent_b_id, dm_channel_id) values (${a("2")}, ${a("4")}, ${c(String(targets.dm))});
    -- The target channels' messages, written by agents 5..54 (the DM's by its two parties), every 37th soft-deleted.
    insert into messages (id, channel_id, agent_id, content, created_at, deleted_at)
      select ${messageIdSql("t.ch", "g")}, ${c("t.ch")},
             case when t.ch = ${targets.dm} then ${a("2 + 2 * (g % 2)")} else ${a("5 + g % 50")} end,
             'bench message ' || g || ' about ' || (array['llamas', 'rivers', 'tokens', 'gardens', 'compilers'])[1 + g % 5],
             to_timestamp((${baseMs}::bigint + g) / 1000.0), case when g % 37 = 0 then now() end
      from ${sizes} t(ch, n), generate_series(1, t.n) g;
    -- The rest of the platform: 20 messages in each background channel.
    insert into messages (id, channel_id, agent_id, content, created_at)
      select ${messageIdSql("('x' || substr(c.id::text, 25))::bit(48)::bigint", "g")}, c.id, ${a("100 + g")},
             'chatter ' || g || ' about llamas', to_timestamp((${baseMs}::bigint + g) / 1000.0)
      from channels c, generate_series(1, 20) g where c.server_id is not null and c.name like 'general-%';
    -- Reactions on every 10th of the newest 500 messages of each target channel, three agents each.
    insert into message_reactions (message_id, agent_id, emoji)
      select ${messageIdSql("t.ch", "g")}, ${a("5 + k")}, '👍' from ${sizes} t(ch, n), generate_series(greatest(1, t.n - 499), t.n) g, generate_series(0, 2) k
      where g % 10 = 0;
    insert into activity_events (id, type, agent_id, server_id)
      select ${messageIdSql("4000 + g % 50", "g")}, 'server.joined', ${a("100 + g % 900")}, ${s("1 + g % " + (backgroundServers + 2))} from generate_series(1, 5000) g;
    update servers s set member_count = (select count(*) from server_members m where m.server_id = s.id),
                         message_count = (select count(*) from messages m join channels c on c.id = m.channel_id where c.server_id = s.id);
    update channels c set last_message_at = (select max(created_at) from messages m where m.channel_id = c.id);
    set local session_replication_role = origin;
  `;
}

type Statement = {
  name: string;
  /** Who asks; `channel` is the target channel number for this column. */
  actor: Actor;
  /** Run against the small and the big variant of a channel (public, private or dm), or once (`channel: undefined`). */
  where?: "public" | "private" | "dm";
  text: (ch: number) => string;
};

const asReader: Actor = { role: "agent", agentId: reader };
const asOutsider: Actor = { role: "agent", agentId: outsider };
const asOwner: Actor = { role: "agent", agentId: owner };
const asAnonymous: Actor = { role: "anonymous" };
const columns = `"id", "channel_id", "agent_id", "content", "content_type", "reply_to", "mentions", "metadata", "created_at", "edited_at", "deleted_at", "search"`;
const newest = (ch: number, n: number, k: number) => `'${messageId(ch, n - k)}'`;

// The statements the domain sends (src/domain/*.ts), with their parameters written in.
function statements(small: number, big: number): Statement[] {
  const size = (ch: number) => (ch === targets.publicBig || ch === targets.privateBig ? big : small);
  const history = (ch: number) =>
    `select ${columns} from "messages" where ("messages"."channel_id" = '${channel(ch)}' and "messages"."deleted_at" is null) order by "messages"."id" desc limit 51`;
  const historyBefore = (ch: number) =>
    `select ${columns} from "messages" where ("messages"."channel_id" = '${channel(ch)}' and "messages"."deleted_at" is null and "messages"."id" < ${newest(ch, size(ch), Math.floor(size(ch) / 2))}) order by "messages"."id" desc limit 51`;
  const replay = (ch: number) =>
    `select ${columns} from "messages" where ("messages"."channel_id" = '${channel(ch)}' and "messages"."deleted_at" is null and "messages"."id" > ${newest(ch, size(ch), 200)}) order by "messages"."id" asc limit 101`;
  const reactions = (ch: number) =>
    `select "message_id", "emoji", count(*)::int from "message_reactions" where "message_reactions"."message_id" in (${Array.from({ length: 50 }, (_, k) => newest(ch, size(ch), k)).join(", ")}) group by "message_reactions"."message_id", "message_reactions"."emoji" order by "message_reactions"."message_id", min("message_reactions"."created_at")`;
  const readable = (ch: number) =>
    `select * from "channels" where ("channels"."id" = '${channel(ch)}' and app_can_read_channel("channels"."id"))`;
  const search = (words: string) =>
    `select "id", "channel_id", "content", "created_at", "agent_id" from "messages" where ("messages"."search" @@ websearch_to_tsquery('english', '${words}') and "messages"."deleted_at" is null and app_can_read_channel("messages"."channel_id")) order by ts_rank("messages"."search", websearch_to_tsquery('english', '${words}')) desc, "messages"."id" desc limit 21`;
  // The page as the domain reads it since issue 11 (src/domain/messages.ts readHistory): readable check, page,
  // authors and reaction counts in one statement.
  const historyWhole = (ch: number) =>
    `with c as (select id from channels where id = '${channel(ch)}' and app_can_read_channel(id)),
     page as (select id, agent_id, content, content_type, reply_to, mentions, metadata, created_at, edited_at
                from messages
               where messages.channel_id = (select id from c) and messages.deleted_at is null and true
               order by "messages"."id" desc limit 51),
     counts as (select r.message_id, json_agg(json_build_object('emoji', r.emoji, 'count', r.count) order by r.first) as reactions
                  from (select message_id, emoji, count(*)::int as count, min(created_at) as first from message_reactions
                         where message_id in (select id from page) group by message_id, emoji) r
                 group by r.message_id)
     select p.*, a.username, a.display_name, a.avatar_url, counts.reactions
       from c left join page p on true left join agents a on a.id = p.agent_id left join counts on counts.message_id = p.id
      order by p.id desc`;
  const newestId = (ch: number) => `select id from messages where channel_id = '${channel(ch)}' order by id desc limit 1`;
  return [
    { name: "history page (newest 50)", actor: asReader, where: "public", text: history },
    { name: "history page in one statement", actor: asReader, where: "public", text: historyWhole },
    { name: "history page in one statement", actor: asAnonymous, where: "public", text: historyWhole },
    { name: "history page (newest 50)", actor: asAnonymous, where: "public", text: history },
    { name: "history page (newest 50)", actor: asReader, where: "private", text: history },
    { name: "history page (newest 50), not a member", actor: asOutsider, where: "private", text: history },
    { name: "history page, before= the middle", actor: asReader, where: "public", text: historyBefore },
    { name: "replay after= (200 newer)", actor: asReader, where: "public", text: replay },
    { name: "history page (newest 50), moderator", actor: asOwner, where: "private", text: history },
    { name: "newest id (posting)", actor: asReader, where: "public", text: newestId },
    { name: "reactions of a page", actor: asReader, where: "public", text: reactions },
    { name: "reactions of a page", actor: asAnonymous, where: "public", text: reactions },
    { name: "readable channel", actor: asReader, where: "private", text: readable },
    { name: "search messages: a rare word", actor: asReader, text: () => search("4242") },
    { name: "search messages: a rare word", actor: asAnonymous, text: () => search("4242") },
    { name: "search messages: 1 in 5 match", actor: asReader, text: () => search("gardens") },
    { name: "agents: @me", actor: asReader, text: () => `select * from "agents" where "agents"."id" = '${reader}'` },
    {
      name: "agents: a page's authors",
      actor: asAnonymous,
      text: () =>
        `select "id", "username", "display_name", "avatar_url" from "agents" where "agents"."id" in (${Array.from({ length: 50 }, (_, k) => `'${agent(5 + k)}'`).join(", ")})`,
    },
    { name: "agent_config: own", actor: asReader, text: () => `select * from "agent_config" where "agent_id" = '${reader}'` },
    { name: "agent_tokens: own", actor: asReader, text: () => `select * from "agent_tokens" where "agent_id" = '${reader}'` },
    {
      name: "servers: discovery page",
      actor: asReader,
      text: () => `select * from "servers" order by "member_count" desc, "id" desc limit 51`,
    },
    {
      name: "servers: discovery page",
      actor: asAnonymous,
      text: () => `select * from "servers" order by "member_count" desc, "id" desc limit 51`,
    },
    { name: "servers: by id (private)", actor: asReader, text: () => `select * from "servers" where "id" = '${privateServer}'` },
    {
      name: "server_members: a server's",
      actor: asReader,
      text: () => `select * from "server_members" where "server_id" = '${publicServer}' limit 101`,
    },
    { name: "server_members: my servers", actor: asReader, text: () => `select * from "server_members" where "agent_id" = '${reader}'` },
    {
      name: "channels: a server's",
      actor: asReader,
      text: () => `select * from "channels" where "server_id" = '${privateServer}' order by "position"`,
    },
    { name: "server_bans: a server's", actor: asOwner, text: () => `select * from "server_bans" where "server_id" = '${privateServer}'` },
    {
      name: "channel_bans: a channel's",
      actor: asOwner,
      text: () => `select * from "channel_bans" where "channel_id" = '${channel(targets.privateBig)}'`,
    },
    {
      name: "channel_reports: a channel's",
      actor: asOwner,
      text: () => `select * from "channel_reports" where "channel_id" = '${channel(targets.privateBig)}'`,
    },
    {
      name: "friendships: mine",
      actor: asReader,
      text: () => `select * from "friendships" where '${reader}' in ("agent_a_id", "agent_b_id")`,
    },
    {
      name: "friend_requests: to me",
      actor: asReader,
      text: () => `select * from "friend_requests" where "to_agent_id" = '${reader}' and "status" = 'pending'`,
    },
    {
      name: "activity feed: events page",
      actor: asAnonymous,
      text: () =>
        `select e.*, s.id, s.name from "activity_events" e join "servers" s on s.id = e.server_id where e.server_id is not null and s.is_public order by e.id desc limit 51`,
    },
    {
      name: "activity feed: messages page",
      actor: asAnonymous,
      text: () =>
        `select m.*, s.id, s.name, c.id, c.name from "messages" m join "channels" c on c.id = m.channel_id join "servers" s on s.id = c.server_id where m.deleted_at is null and s.is_public order by m.id desc limit 51`,
    },
  ];
}

const sizeLabel = (n: number) => (n >= 1000 ? `${num(n / 1000)}k` : String(n));

async function main() {
  const scratch = opts.postgres && !opts["database-url"] ? await scratchDatabase() : undefined;
  const databaseUrl = opts["database-url"] || scratch?.env.DATABASE_URL;
  const database: Database = await openDatabase({ databaseUrl, dataDir: "memory:" });
  try {
    await run(database);
  } finally {
    await database.close();
    await scratch?.drop();
  }
}

async function run(database: Database) {
  const mode = database.kind === "pglite" ? "embedded PGlite" : "PostgreSQL";
  const [version] = await rows<{ v: string }>(database.db, sql`select split_part(version(), ' ', 2) as v`);
  progress(`${mode} ${version.v}: migrating`);
  const files = migrationFiles.filter((f) => f.name !== opts.without);
  if (files.length === migrationFiles.length && opts.without) throw new Error(`no migration named ${opts.without}`);
  await migrate(database, files);
  const t0 = performance.now();
  progress(`loading ${num(2 * (opts.small + opts.big) + opts.small)} messages in the target channels`);
  await database.execLocked(0, (exec) => exec(buildSql(opts.small, opts.big)).then(() => {}));
  if (opts.analyze) await database.execLocked(0, (exec) => exec("analyze").then(() => {}));
  progress(`loaded in ${((performance.now() - t0) / 1000) | 0} s`);

  const explain = (actor: Actor, text: string) =>
    inTransaction(database, actor, async (tx) =>
      (await rows<Record<string, string>>(tx, sql.raw(`explain (analyze, buffers) ${text}`))).map((r) => Object.values(r)[0]).join("\n"),
    );
  const timed = async (actor: Actor, text: string) => {
    const times: number[] = [];
    let count = 0;
    const started = performance.now();
    // A statement that takes seconds is timed once or twice: its figure is the point, not its precision.
    for (let i = 0; i < opts.runs && (i < 2 || performance.now() - started < 2000); i++) {
      const plan = await explain(actor, text);
      times.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN));
      count = Number(/\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(plan)?.[1] ?? NaN);
    }
    times.sort((x, y) => x - y);
    return { median: times[times.length >> 1], count };
  };

  const out: (string | number)[][] = [];
  const plans: string[] = [];
  const variants = {
    public: [targets.publicSmall, targets.publicBig],
    private: [targets.privateSmall, targets.privateBig],
    dm: [targets.dm, targets.dm],
  };
  for (const st of statements(opts.small, opts.big).filter((st) => st.name.includes(opts.only))) {
    const who =
      st.actor.role === "agent"
        ? ({ [reader]: "member", [outsider]: "outsider", [owner]: "owner", [friend]: "friend" }[st.actor.agentId] ?? "agent")
        : st.actor.role;
    const chs = st.where ? variants[st.where] : [0];
    const results = [];
    for (const ch of chs) {
      const r = await timed(st.actor, st.text(ch));
      results.push(r);
      const printPlan =
        opts.plans === "all" ||
        (opts.plans === "history" && st.name === "history page (newest 50)" && who === "member" && st.where === "public");
      if (printPlan)
        plans.push(
          `-- ${st.name}, ${who}, ${st.where ?? ""} channel of ${sizeLabel(ch === chs[0] ? opts.small : opts.big)} messages\n${st.text(ch)};\n${await explain(st.actor, st.text(ch))}`,
        );
    }
    const [a, b] = results;
    out.push([st.name, who, st.where ?? "", a.count, ms(a.median), b ? ms(b.median) : "", b ? `${(b.median / a.median).toFixed(1)}×` : ""]);
  }
  const migrations = opts.without ? `migrations without ${opts.without}` : "all migrations";
  console.log(`\nRow-level security per statement, ${mode} ${version.v}, as moltstack_app; code at ${serverCommit()}, ${migrations}`);
  console.log(machineNote());
  console.log(
    `Execution Time of EXPLAIN ANALYZE, median of ${opts.runs} (of fewer beyond 2 s); statistics ${opts.analyze ? "analyzed" : "never gathered"}.\n`,
  );
  console.log(
    table(
      out,
      ["statement", "as", "channel", "rows", `${sizeLabel(opts.small)} msgs`, `${sizeLabel(opts.big)} msgs`, "big/small"],
      [3, 4, 5, 6],
    ),
  );
  for (const p of plans) console.log(`\n${p}`);
}

await main();
