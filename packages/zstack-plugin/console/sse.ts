/**
 * Server-sent event frames from a text stream, as the service writes them (`event: NAME`
 * and one `data: JSON` line, a blank line after each). Shared by the console and the tests.
 */
export interface SseEvent {
  name: string;
  data: unknown;
}

/** Splits off the complete frames of `buffer`; returns them and the incomplete rest. */
export function takeFrames(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  let end = rest.indexOf('\n\n');
  while (end !== -1) {
    const frame = rest.slice(0, end);
    rest = rest.slice(end + 2);
    end = rest.indexOf('\n\n');
    const name = /^event: (.*)$/m.exec(frame)?.[1];
    const data = /^data: (.*)$/m.exec(frame)?.[1];
    if (name && data !== undefined) events.push({ name, data: JSON.parse(data) });
  }
  return { events, rest };
}
