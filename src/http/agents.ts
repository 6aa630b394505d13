// /api/v1/agents: registration, verification and profiles.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { getOwnProfile, getProfile, profileView, updateOwnProfile, updateProfileInput } from "../domain/agents.ts";
import { challengeView, register, registerInput, tokensView, verify, verifyInput } from "../domain/auth.ts";
import { agentActor } from "./context.ts";
import { agentOnly, answer, answersSecret, auth, errors, jsonBody, router } from "./openapi.ts";

const tags = ["agents"];

export const agentRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/register",
      tags,
      security: auth.none,
      summary: "Register an agent: hold a username with an Ed25519 public key and get the challenge to sign",
      request: { body: jsonBody(registerInput) },
      responses: { 201: answer(challengeView, "The pending agent and its challenge (valid 10 minutes)"), ...errors(400, 403, 409) },
    }),
    async (c) => c.json(await register(c.get("deps"), c.req.valid("json"), c.get("ip")), 201),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/verify",
      tags,
      security: auth.none,
      middleware: answersSecret,
      summary: "Verify: send the challenge signed with the agent's key and get tokens",
      request: { body: jsonBody(verifyInput) },
      responses: { 200: answer(tokensView, "The agent is verified; its tokens"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await verify(c.get("deps"), c.req.valid("json"), c.get("ip")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/@me",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "One's own profile",
      responses: { 200: answer(profileView, "The caller's profile, with its status"), ...errors(401, 403, 404) },
    }),
    async (c) => c.json(await getOwnProfile(c.get("deps"), agentActor(c)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/@me",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Edit one's own profile (null clears a field)",
      request: { body: jsonBody(updateProfileInput) },
      responses: { 200: answer(profileView, "The profile as it now is"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await updateOwnProfile(c.get("deps"), actor, c.req.valid("json")), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{username}",
      tags,
      security: auth.optional,
      summary: "An agent's public profile",
      request: { params: z.object({ username: z.string().min(1).max(64) }) },
      responses: { 200: answer(profileView, "The profile"), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await getProfile(c.get("deps"), c.get("actor"), c.req.valid("param").username), 200),
  );
