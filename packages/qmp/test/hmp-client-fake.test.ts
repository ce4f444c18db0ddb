import { describe, expect, it } from 'vitest';
import { HmpClient } from '../src/index.js';
import { duplexPair } from './helpers/duplex.js';

const BANNER = "QEMU 2.8.1 monitor - type 'help' for more information";

/** A readline monitor that answers each line with the chunks the test gives, pushed in one tick. */
async function fakeMonitor(answer: (line: string) => string[]) {
  const { clientSide, serverSide } = duplexPair();
  let typed = '';
  serverSide.on('data', (chunk: Buffer) => {
    typed += chunk.toString();
    for (let nl = typed.indexOf('\n'); nl !== -1; nl = typed.indexOf('\n')) {
      const line = typed.slice(0, nl);
      typed = typed.slice(nl + 1);
      for (const piece of [`${line}\x1b[K\r\n`, ...answer(line)]) serverSide.write(piece);
    }
  });
  serverSide.write(`${BANNER}\r\n(qemu) `);
  const client = await HmpClient.connect({ socket: clientSide, name: 'fake-readline' });
  return client;
}

describe('HmpClient prompt detection', () => {
  it('does not end a command at "(qemu) " when more output follows in the same turn', async () => {
    const client = await fakeMonitor((line) =>
      line === 'ringbuf_read rb 100' ? ['guest\r\n(qemu) ', 'says hi\r\n(qemu) '] : ['(qemu) '],
    );
    expect(client.banner).toBe(BANNER);
    expect(await client.run('ringbuf_read rb 100')).toBe('guest\r\n(qemu) says hi\r\n');
    expect(await client.run('info name')).toBe('');
    await client.close();
  });
});
