import { createConnection, type Socket } from 'node:net';

/** Connects, or rejects with the OS error (ECONNREFUSED, ...), for FT and GFT links alike. */
export function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
