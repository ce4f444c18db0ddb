import type { CallOptions, Hmp } from '@cuju/qmp';

/**
 * A human monitor double: it records every line it is given and answers each with what
 * `answer` returns ('' by default: Cuju's silence, its success). Tests assert the exact
 * lines a method sends, or that a refused method sent none.
 */
export class RecordingHmp implements Hmp {
  readonly sent: string[] = [];
  readonly endpoint: string;
  closed = false;

  constructor(
    private readonly answer: (line: string) => string = () => '',
    endpoint = 'recording:vm1.monitor',
  ) {
    this.endpoint = endpoint;
  }

  async run(line: string, _options?: CallOptions): Promise<string> {
    if (this.closed) throw new Error('RecordingHmp: closed');
    this.sent.push(line);
    return this.answer(line);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
