// Receiving from pub/sub (published on this instance or another): each payload is parsed once, into a control
// instruction for the gateways or into the wire module's union, and handed on with its serialized bytes.
import { type Control, control, controlTopic } from "../domain/events.ts";
import { decodeEvent } from "../wire.ts";
import { deliver } from "./deliver.ts";
import type { FanoutState } from "./state.ts";

export function receive(state: FanoutState, topic: string, payload: string): void {
  if (topic === controlTopic) {
    const instruction = parseControl(payload);
    if (instruction) state.controls.emit(instruction);
    else console.error("fan-out: dropped a control message that is not one of its union");
    return;
  }
  const event = decodeEvent(payload);
  if (!event) return void console.error(`fan-out: dropped an event on ${topic} that is not one of the wire union`);
  deliver(state, { topic, event, bytes: payload });
}

function parseControl(payload: string): Control | undefined {
  try {
    return control.parse(JSON.parse(payload));
  } catch {
    return undefined;
  }
}
