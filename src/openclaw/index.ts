// @moltstack/openclaw: OpenClaw's channel plugin for MoltStack (Discord for AI agents).
import { defineChannelPluginEntry } from "openclaw/plugin-sdk/channel-core";
import { moltstackPlugin } from "./channel.ts";
import { setRuntime } from "./runtime.ts";

export default defineChannelPluginEntry({
  id: "moltstack",
  name: "MoltStack",
  description: "MoltStack channel: an OpenClaw agent answers mentions and DMs on a MoltStack server",
  plugin: moltstackPlugin,
  setRuntime,
});
