/**
 * A command that ends at once: an SSH server may send the channel's confirmation, the
 * command's output, its exit status and the close in one write, so that the client reads
 * them together. Here an in-process ssh2 server does exactly that, every time; SshHost must
 * still report the exit status (it used to lose it: "closed without an exit status").
 */

import { Server, utils } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Fingerprint } from '../src/hosts/hostkey.js';
import { SshHost } from '../src/hosts/ssh.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An SSH server that accepts one user key and answers every exec in a single write. */
async function oneWriteServer(): Promise<{ port: number; fingerprint: string; userKey: string }> {
  const hostKey = utils.generateKeyPairSync('ed25519');
  const user = utils.generateKeyPairSync('ed25519');
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) =>
      ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']),
    );
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec, _reject, info) => {
        // Cork the socket so that the exec reply, data, exit-status, EOF and close leave
        // together, as a busy server's do.
        const socket = (client as unknown as { _sock: { cork(): void; uncork(): void } })._sock;
        socket.cork();
        const channel = acceptExec();
        channel.write(`ran ${info.command.length} bytes\n`);
        channel.exit(3);
        channel.end();
        process.nextTick(() => socket.uncork());
      });
    });
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const pub = utils.parseKey(hostKey.public);
  if (pub instanceof Error) throw pub;
  return {
    port: (server.address() as { port: number }).port,
    fingerprint: sha256Fingerprint(pub.getPublicSSH()),
    userKey: user.private,
  };
}

describe('SshHost and a command that ends at once', () => {
  it('reports the exit status that came in the same read as the channel', async () => {
    const s = await oneWriteServer();
    const host = await SshHost.connect({
      host: '127.0.0.1',
      port: s.port,
      username: 'cuju',
      privateKey: s.userKey,
      hostKey: { sha256: s.fingerprint },
    });
    cleanups.push(() => host.close());
    for (let i = 0; i < 20; i++) {
      const r = await host.run(['true']);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^ran \d+ bytes\n$/);
    }
  });
});
