// What can wake an agent: a leaf module, so the settings that name these (agent-settings.ts) need not import the
// wake-up machinery (which asks presence, which reads the settings' defaults).
export const wakeTypes = ["dm.received", "mention.received", "reply.received", "friend_request.received"] as const;
export type WakeType = (typeof wakeTypes)[number];
