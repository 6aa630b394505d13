// The few OpenClaw plugin SDK surfaces this plugin uses, typed locally and loosely: the host resolves
// `openclaw/plugin-sdk/*` at run time, and the repo's own install (and CI's typecheck) need not carry OpenClaw.
// Shapes follow OpenClaw 2026.9.6's declarations; the end-to-end tests run the real thing.
declare module "openclaw/plugin-sdk/channel-core" {
  export function defineChannelPluginEntry(entry: {
    id: string;
    name: string;
    description: string;
    plugin: unknown;
    setRuntime?: (runtime: any) => void;
  }): unknown;
  export function createChatChannelPlugin<TAccount>(options: Record<string, any>): any;
}

declare module "openclaw/plugin-sdk/runtime-store" {
  export function createPluginRuntimeStore<T = any>(options: {
    pluginId: string;
    errorMessage: string;
  }): {
    setRuntime(runtime: T): void;
    getRuntime(): T;
    tryGetRuntime?(): T | undefined;
  };
}

declare module "openclaw/plugin-sdk/channel-ingress-runtime" {
  export type ResolvedChannelMessageIngress = {
    senderAccess: { allowed: boolean; decision: string; reasonCode: string };
    [key: string]: unknown;
  };
  export function resolveStableChannelMessageIngress(params: Record<string, unknown>): Promise<ResolvedChannelMessageIngress>;
  export function createStandardRawEventIngressMonitor<TRaw>(options: {
    queue: () => unknown;
    inspect: (raw: TRaw) => { eventId: string; laneKey: string } | null;
    payload: {
      serialize: (raw: TRaw) => string;
      deserialize: (rawEvent: string, context: { claim: { id: string } }) => TRaw;
      createClaimError: (kind: string, claim: { id: string }) => Error;
    };
    deliver: (raw: TRaw, lifecycle: unknown) => Promise<unknown> | unknown;
    pollIntervalMs?: number;
    drain?: Record<string, unknown>;
    abortSignal?: AbortSignal;
    createStoppedError: () => Error;
    onError: (error: unknown) => void;
    classifyAdmissionError: (error: unknown) => string | undefined;
  }): {
    receive(raw: TRaw): Promise<{ kind: string; message?: string }>;
    start(): void;
    stop(): Promise<void>;
    waitForIdle(): Promise<void>;
  };
}

declare module "openclaw/plugin-sdk/channel-outbound" {
  export function bindIngressLifecycleToReplyOptions(lifecycle: unknown): { turnAdoptionLifecycle?: unknown };
}

declare module "openclaw/plugin-sdk/routing" {
  export function buildAgentSessionKey(params: {
    agentId: string;
    channel: string;
    accountId?: string | null;
    peer?: { kind: "direct" | "group" | "channel"; id: string } | null;
    dmScope?: string;
  }): string;
}

declare module "openclaw/plugin-sdk/gateway-runtime" {
  export function channelReadyPatch(extras?: Record<string, unknown>): Record<string, unknown>;
  export function channelBlockedPatch(lastError: string, extras?: Record<string, unknown>): Record<string, unknown>;
  export function channelStoppedPatch(extras?: Record<string, unknown>): Record<string, unknown>;
}

declare module "openclaw/plugin-sdk/channel-pairing" {
  export function createChannelPairingController(params: { core: unknown; channel: string; accountId: string }): {
    issueChallenge(params: {
      senderId: string;
      senderIdLine: string;
      sendPairingReply: (text: string) => Promise<void>;
      onCreated?: () => void;
      onReplyError?: (error: unknown) => void;
    }): Promise<void>;
  };
}
