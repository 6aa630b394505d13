// Holds OpenClaw's plugin runtime, which the host hands over when it loads the plugin.
import { createPluginRuntimeStore } from "openclaw/plugin-sdk/runtime-store";

export const { setRuntime, getRuntime } = createPluginRuntimeStore<any>({
  pluginId: "moltstack",
  errorMessage: "MoltStack runtime not initialized: the plugin was not registered by OpenClaw",
});
