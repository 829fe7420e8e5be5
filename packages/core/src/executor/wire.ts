import { ftruncateSync, readSync } from 'node:fs';
import type { Socket as PipeSocket } from 'node:net';
import { MFD_CLOEXEC, MSG_NOSIGNAL, SCM_RIGHTS, SOL_SOCKET } from '../libc/constants.js';
import { controlMessage, type Libc } from '../libc/libc.js';
import { REPORT_PAGE_SIZE } from '../program/program.js';

/**
 * The wire between attachkit and the executor (native/executor.c must
 * agree): the fd hand-over, the 16-byte messages, and the attach's channels
 * (the report page and pipe, the inbox).
 */

/** Messages from the executor: 16 bytes, {type, op index, value, reserved}. */
const MSG_SIZE = 16;
export const MSG_READY = 1;
export const MSG_PID = 2;
export const MSG_ERROR = 3;
export const MSG_EXEC = 4;
export const OP_NONE = 0xffffffff;

/** The most fds one SCM_RIGHTS message carries (SCM_MAX_FD). */
export const SCM_MAX_FD = 253;

/** The attach's channels (ProgramChannels): our ends, and the executor's, which we close once sent. */
export function openChannels(libc: Libc, inbox: boolean) {
  const opened: number[] = [];
  let page: number, reportRead: number, reportWrite: number, inboxOurs: number | undefined, inboxTheirs: number | undefined;
  try {
    opened.push(page = libc.memfdCreate('attachkit-report', MFD_CLOEXEC));
    ftruncateSync(page, REPORT_PAGE_SIZE);
    opened.push(...([reportRead, reportWrite] = libc.pipe()));
    if (inbox) opened.push(...([inboxOurs, inboxTheirs] = libc.socketpair()));
  } catch (err) {
    for (const fd of opened) libc.close(fd); // out of fds: leave none behind
    throw err;
  }
  return {
    page, reportRead, inboxOurs,
    theirs: { page, report: reportWrite, ...(inboxTheirs === undefined ? {} : { inbox: inboxTheirs }) },
    /** Close what only the executor needed. */
    handedOver() {
      libc.close(reportWrite);
      if (inboxTheirs !== undefined) libc.close(inboxTheirs);
    },
  };
}

/** 16-byte messages {type, op index, value, reserved} from a stream. */
export function readMessages(stream: PipeSocket, onMessage: (type: number, index: number, value: number) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= MSG_SIZE) {
      onMessage(pending.readUInt32LE(0), pending.readUInt32LE(4), pending.readInt32LE(8));
      pending = pending.subarray(MSG_SIZE);
    }
  });
}

/** The pid the kernel stored at the fork into the target (0: there was none). */
export function readReportedPid(page: number): number {
  const word = Buffer.alloc(4);
  readSync(page, word, 0, 4, 0);
  return word.readInt32LE(0);
}

/**
 * The fds of the attach, each with its number in the executor: one
 * message, {count, numbers[count]} with the fds as SCM_RIGHTS.
 */
export function sendFds(libc: Libc, sock: number, fds: ReadonlyArray<readonly [fd: number, at: number]>): void {
  const header = Buffer.alloc(4 * (fds.length + 1));
  header.writeUInt32LE(fds.length, 0);
  fds.forEach(([, at], i) => header.writeInt32LE(at, 4 * (i + 1)));
  const rights = Buffer.from(Int32Array.from(fds, ([fd]) => fd).buffer);
  libc.sendmsg(sock, [header], fds.length ? controlMessage(SOL_SOCKET, SCM_RIGHTS, rights) : undefined, MSG_NOSIGNAL);
}

/** One fd on the inbox, with one byte, as the executor's RECV_FD op reads it. */
export function sendFd(libc: Libc, sock: number, fd: number): void {
  libc.sendmsg(sock, [Buffer.alloc(1)], controlMessage(SOL_SOCKET, SCM_RIGHTS, Buffer.from(Int32Array.of(fd).buffer)), MSG_NOSIGNAL);
}
