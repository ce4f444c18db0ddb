/**
 * A QMP server that floods its client with events, for the qmp-events suite: QEMU cannot
 * emit a million events on demand. Plain Node, no dependencies, so its own cost is a
 * memcpy per block and the client is what the suite measures.
 *
 *   node event-flood.mjs <socket-path>
 *
 * Prints `listening` on stdout once it accepts connections. Per connection: a QEMU 7.2
 * style greeting; `qmp_capabilities` is answered; `x-flood {"count": N}` is answered with
 * N events (QEMU's own line format, a mix of kinds) followed by its `return`, written as
 * fast as the client reads; anything else gets CommandNotFound.
 */
import { createServer } from 'node:net';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node event-flood.mjs <socket-path>\n');
  process.exit(2);
}

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "event-flood"}, "capabilities": ["oob"]}}\r\n';

/** One block of events as QEMU 7.2 writes them (timestamp first, `": "` and `", "` separators). */
function eventLine(i) {
  const ts = `"timestamp": {"seconds": ${1700000000 + (i >> 10)}, "microseconds": ${(i * 7919) % 1000000}}`;
  switch (i % 4) {
    case 0:
      return `{${ts}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "job${i % 16}"}}\r\n`;
    case 1:
      return `{${ts}, "event": "BLOCK_JOB_READY", "data": {"device": "drive${i % 8}", "len": ${1048576 * (i % 64)}, "offset": ${4096 * i}, "speed": 0, "type": "mirror"}}\r\n`;
    case 2:
      return `{${ts}, "event": "STOP"}\r\n`;
    default:
      return `{${ts}, "event": "RESUME"}\r\n`;
  }
}

const BLOCK_EVENTS = 1024;
const lines = Array.from({ length: BLOCK_EVENTS }, (_, i) => Buffer.from(eventLine(i)));
const block = Buffer.concat(lines);

async function flood(socket, count) {
  const write = (buf) =>
    socket.write(buf) ? Promise.resolve() : new Promise((resolve) => socket.once('drain', resolve));
  let left = count;
  while (left >= BLOCK_EVENTS && !socket.destroyed) {
    await write(block);
    left -= BLOCK_EVENTS;
  }
  if (left > 0 && !socket.destroyed) await write(Buffer.concat(lines.slice(0, left)));
}

function serve(socket) {
  let pending = '';
  let busy = Promise.resolve();
  socket.on('error', () => {});
  socket.write(GREETING);
  socket.setEncoding('utf8');
  socket.on('data', (text) => {
    pending += text;
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let cmd;
      try {
        cmd = JSON.parse(line);
      } catch {
        socket.write('{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n');
        continue;
      }
      const id = cmd.id === undefined ? '' : `, "id": ${JSON.stringify(cmd.id)}`;
      busy = busy.then(async () => {
        if (cmd.execute === 'qmp_capabilities') socket.write(`{"return": {}${id}}\r\n`);
        else if (cmd.execute === 'x-flood') {
          await flood(socket, Number(cmd.arguments?.count ?? 0));
          socket.write(`{"return": {}${id}}\r\n`);
        } else {
          socket.write(
            `{"error": {"class": "CommandNotFound", "desc": "The command ${cmd.execute} has not been found"}${id}}\r\n`,
          );
        }
      });
    }
  });
}

const server = createServer(serve);
server.listen(path, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
