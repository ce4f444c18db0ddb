/**
 * The block server of the blk-server build (4b17b51, kvm_blk.c) and its clients, over real
 * TCP: what a client of Cuju can see of them, not the block I/O itself (no disk is
 * served; requests are read and dropped).
 *
 * - Server (`-blk-server-listen [IP]:PORT`, vl.c@4b17b51:4540-4547): kvm_blk_server_init,
 *   then `block server init` whatever it returned, then exit(-1) when it could not listen;
 *   otherwise only the main loop runs (no monitor). Each accepted client prints
 *   `accepted blk client FD.` (kvm_blk.c@4b17b51:237); a client that goes away is
 *   `perror("blk-server-> recv header")` and its session closed (kvm_blk.c@4b17b51:80-82,
 *   kvm_blk_serv_handle_close): the server runs on and takes the next client.
 * - Client (`-blk-server IP:PORT`): a VM that is not `-incoming` connects after
 *   `VM init finished`, sends its 4-byte write request id and prints `client_ret:N`,
 *   exit(-1) when N < 0 (vl.c@4b17b51:4754-4759). A backup connects only when it takes
 *   over, in cuju_ft_trans_close before `cuju_ft_trans_close vm_started.`, and exit(-1)s
 *   there when it cannot (cuju-ft-trans-file.c@4b17b51:799-805). When the server goes
 *   away, the client's read handler prints the same perror and removes itself (a client
 *   session has no close handler): the VM runs on, its disk requests unanswered. No
 *   build exits on a lost block server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { MARKERS, report, say } from './stdout.js';
import { connectTcp } from './tcp.js';

/** The block server's first client fd: stdin/out/err, the listener and QEMU's own fds come before (a stand-in). */
const FIRST_CLIENT_FD = 20;

/**
 * perror's line when a peer closed: recv() returned 0 and set no errno, so the text is
 * whatever errno held (inferred); the simulator prints glibc's text for 0. A client
 * should match the prefix only.
 */
function recvHeaderLost(): void {
  process.stderr.write('blk-server-> recv header: Success\n');
}

/** Calls `lost` once when the peer closes or resets the connection (not when this side destroys it). */
function onPeerLost(socket: Socket, lost: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    lost();
  };
  socket.on('end', once);
  socket.on('error', once);
}

/** `[IP]:PORT` as -blk-server-listen and -blk-server take it (argv.ts checked the form). */
function splitHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

/** A listening block server, or undefined (after `block server init`) when it could not listen. */
export async function startBlockServer(listen: string): Promise<Server | undefined> {
  const { host, port } = splitHostPort(listen);
  let accepted = 0;
  const server = createServer((socket) => {
    socket.on('data', () => {}); // block requests: not simulated
    onPeerLost(socket, recvHeaderLost);
    say(MARKERS.blkClientAccepted(FIRST_CLIENT_FD + accepted++));
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', (err) => {
      report(`Failed to bind socket: ${describeOsError(err)}`);
      resolve(false);
    });
    server.listen(port, host === '' || host === '0' ? '0.0.0.0' : host, () => resolve(true));
  });
  say(MARKERS.blockServerInit);
  return ok ? server : undefined;
}

/**
 * kvm_blk_client_init: connect, send the write request id. Resolves with the socket, or
 * undefined after error_report_err's line when the connection failed.
 */
export async function connectBlockClient(ipPort: string): Promise<Socket | undefined> {
  const { host, port } = splitHostPort(ipPort);
  try {
    const socket = await connectTcp(host, port);
    socket.on('data', () => {}); // answers to block requests: none are sent
    socket.write(Buffer.alloc(4));
    // The server went away: the read handler's perror, then nothing (no close handler).
    onPeerLost(socket, recvHeaderLost);
    return socket;
  } catch (err) {
    report(`Failed to connect socket: ${describeOsError(err)}`);
    return undefined;
  }
}

export function describeOsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'Address already in use';
  if (code === 'EACCES') return 'Permission denied';
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'ECONNREFUSED') return 'Connection refused';
  return (err as Error).message;
}
