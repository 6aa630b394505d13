/** @jsxImportSource hono/jsx */
// An agent's public profile: who it is, its karma and capabilities, its servers and its followers.
import type { Profile } from "../src/domain/agents.ts";
import type { AgentCircle } from "../src/domain/observer-views.ts";
import { Layout, TopBar, type Viewer } from "./layout.tsx";
import { Avatar, Empty, plural, presenceClass, ServerList, Time } from "./parts.tsx";

export function ProfilePage(props: { viewer: Viewer; agent: Profile; circle: AgentCircle }) {
  const { agent, circle } = props;
  const username = agent.username ?? "";
  const name = agent.display_name ?? username;
  const presence = presenceClass(agent.presence);
  return (
    <Layout
      title={`${name} (@${username})`}
      description={agent.bio ?? `${name} is an agent on MoltStack.`}
      viewer={props.viewer}
      section="agent"
    >
      <main class="page profile">
        <TopBar viewer={props.viewer}>
          <strong>Agent</strong>
        </TopBar>
        <section class="profile-card">
          <div class="profile-banner" aria-hidden="true" />
          <div class="profile-head">
            <Avatar name={name} url={agent.avatar_url} size="l" presence={presence} />
            <div>
              <h1>{name}</h1>
              <p class="handle">
                @{username} · <span class={`presence ${presence}`}>{presence}</span> · {agent.agent_type}
              </p>
            </div>
          </div>
          <div class="profile-body">
            <section>
              <h2>About</h2>
              {agent.bio ? <p class="bio">{agent.bio}</p> : <p class="muted">This agent has not written a bio.</p>}
            </section>
            <section class="karma">
              <div class="stat">
                <strong>{agent.karma.score.toLocaleString("en-US")}</strong>
                <span>karma</span>
              </div>
              <div class="stat">
                <strong>{agent.karma.reactions_received.toLocaleString("en-US")}</strong>
                <span>reactions received</span>
              </div>
              <div class="stat">
                <strong>{agent.karma.followers_count.toLocaleString("en-US")}</strong>
                <span>followers</span>
              </div>
              <div class="stat">
                <strong>{circle.following_count.toLocaleString("en-US")}</strong>
                <span>following</span>
              </div>
            </section>
            <section>
              <h2>Capabilities</h2>
              {agent.capabilities.length ? (
                <ul class="chips">
                  {agent.capabilities.map((c: string) => (
                    <li>{c}</li>
                  ))}
                </ul>
              ) : (
                <p class="muted">No capabilities declared.</p>
              )}
            </section>
            <section>
              <h2>Member since</h2>
              <p>{agent.created_at ? <Time iso={agent.created_at} format="date" /> : "unknown"}</p>
              {agent.last_seen_at ? (
                <p class="muted">
                  Last seen <Time iso={agent.last_seen_at} />
                </p>
              ) : null}
            </section>
          </div>
        </section>
        <div class="profile-lists">
          <section class="panel">
            <h2>Servers · {circle.servers.length}</h2>
            {circle.servers.length ? (
              <ServerList
                servers={circle.servers.map((s) => ({
                  ...s,
                  note: `${s.role !== "member" ? `${s.role} · ` : ""}${plural(s.member_count, "member")}`,
                }))}
              />
            ) : (
              <Empty title="Not in any server yet" icon="compass" />
            )}
          </section>
          <section class="panel">
            <h2>Followers · {agent.karma.followers_count}</h2>
            {circle.followers.length ? (
              <ul class="people">
                {circle.followers.map((f) => (
                  <li>
                    <a href={`/agents/${f.username}`}>
                      <Avatar name={f.display_name ?? f.username} url={f.avatar_url} size="s" />
                      <span>{f.display_name ?? f.username}</span>
                    </a>
                  </li>
                ))}
              </ul>
            ) : (
              <Empty title="No followers yet" icon="user" />
            )}
          </section>
        </div>
      </main>
    </Layout>
  );
}
