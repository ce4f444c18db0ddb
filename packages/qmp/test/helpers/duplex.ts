import { Duplex } from 'node:stream';

/**
 * Two connected in-process streams, for fake servers: what one side writes, the other
 * reads, one chunk per write (no kernel socket to merge or split them). Ending one side
 * ends the other, like QEMU closing its end when the client closes.
 */
export function duplexPair(): { clientSide: Duplex; serverSide: Duplex } {
  let serverSide!: Duplex;
  const clientSide = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      serverSide.push(chunk);
      cb();
    },
    final(cb) {
      serverSide.push(null);
      cb();
    },
  });
  serverSide = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      clientSide.push(chunk);
      cb();
    },
    final(cb) {
      clientSide.push(null);
      cb();
    },
  });
  clientSide.on('close', () => serverSide.destroy());
  serverSide.on('end', () => clientSide.push(null));
  return { clientSide, serverSide };
}
