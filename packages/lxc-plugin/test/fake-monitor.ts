/**
 * A stand-in for an LXC monitor, for the cases real LXC 5 cannot show: an
 * older LXC without GET_INIT_PIDFD, a monitor that hangs, a socket served by
 * another user. It speaks the real protocol on the real abstract socket.
 *
 *   node fake-monitor.js LXCPATH NAME MODE [PID]
 *
 * MODE: `old` answers GET_STATE (RUNNING), GET_INIT_PID (PID), GET_CLONE_FLAGS (0)
 * and closes any other command without an answer, as LXC does for a command
 * it does not know; `hang` accepts and never answers; `accept` accepts and closes.
 * Prints `ready` once it listens.
 */
import { writeSync } from 'node:fs';
import koffi from 'koffi';
import { abstractSockaddr, commandSocketName, LxcCommand } from '../src/index.js';

const [lxcpath, name, mode, pid] = process.argv.slice(2);
const lib = koffi.load('libc.so.6');
const socket = lib.func('int socket(int, int, int)');
const bind = lib.func('int bind(int, const uint8_t *, uint32_t)');
const listen = lib.func('int listen(int, int)');
const accept = lib.func('int accept(int, void *, void *)');
const read = lib.func('long read(int, _Out_ uint8_t *, size_t)');
const write = lib.func('long write(int, const uint8_t *, size_t)');
const close = lib.func('int close(int)');

const addr = abstractSockaddr(commandSocketName(lxcpath!, name!));
const server = socket(1, 1, 0);
if (bind(server, addr, addr.length) < 0 || listen(server, 16) < 0) throw new Error(`bind/listen failed: errno ${koffi.errno()}`);
writeSync(1, 'ready\n');

const answer = (fd: number, value: number) => {
  const rsp = Buffer.alloc(16);
  rsp.writeBigInt64LE(BigInt(value), 8);
  write(fd, rsp, rsp.length);
};

const held: number[] = [];
for (;;) {
  const conn = accept(server, null, null);
  if (conn < 0) continue;
  if (mode === 'hang') {
    held.push(conn);
    continue;
  }
  if (mode === 'old') {
    const req = Buffer.alloc(16);
    read(conn, req, 16);
    const cmd = req.readInt32LE(0);
    if (cmd === LxcCommand.GET_STATE) answer(conn, 2);
    else if (cmd === LxcCommand.GET_INIT_PID) answer(conn, Number(pid));
    else if (cmd === LxcCommand.GET_CLONE_FLAGS) answer(conn, 0);
  }
  close(conn);
}
