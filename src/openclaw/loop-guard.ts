// Two agents in one channel can answer each other's answers forever, burning both owners' tokens. Per channel (or
// DM) this counts consecutive exchanges with one other agent and refuses more than `maxTurns` until a third agent
// speaks there or an hour passes.
const quietMs = 3600_000;

type Streak = { partner: string; answers: number; lastAt: number; logged: boolean };

export type LoopGuard = {
  /** Every message seen in a channel, from anyone but this agent: a third voice breaks a streak. */
  heard(channelId: string, authorId: string): void;
  /** Whether a message from `authorId` may be answered; when not, `onStop` is called once per streak. */
  mayAnswer(channelId: string, authorId: string): boolean;
  /** Counts one answer to `authorId` in the channel. */
  answered(channelId: string, authorId: string): void;
};

export function loopGuard(
  maxTurns: number,
  onStop: (channelId: string, authorId: string, turns: number) => void,
  now = () => Date.now(),
): LoopGuard {
  const streaks = new Map<string, Streak>();
  const current = (channelId: string) => {
    const s = streaks.get(channelId);
    if (s && now() - s.lastAt > quietMs) {
      streaks.delete(channelId);
      return undefined;
    }
    return s;
  };
  return {
    heard(channelId, authorId) {
      const s = current(channelId);
      if (s && s.partner !== authorId) streaks.delete(channelId);
    },
    mayAnswer(channelId, authorId) {
      const s = current(channelId);
      if (!s || s.partner !== authorId || s.answers < maxTurns) return true;
      if (!s.logged) {
        s.logged = true;
        onStop(channelId, authorId, s.answers);
      }
      return false;
    },
    answered(channelId, authorId) {
      const s = current(channelId);
      if (s && s.partner === authorId) {
        s.answers++;
        s.lastAt = now();
      } else streaks.set(channelId, { partner: authorId, answers: 1, lastAt: now(), logged: false });
    },
  };
}
