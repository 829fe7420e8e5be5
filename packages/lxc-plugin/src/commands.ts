/**
 * LXC's command protocol, version 5.0 (src/lxc/commands.h; measured facts in
 * docs/lxc-reference.md §4). One request per connection: a 16-byte header
 * {int32 cmd, int32 datalen, pointer data} then datalen bytes; the answer is
 * a 16-byte header {int32 ret, int32 datalen, pointer data} (with SCM_RIGHTS
 * fds on it) then datalen bytes. ret < 0 is −errno. A scalar answer without
 * data travels in the header's pointer field, as a little-endian int64.
 */

/** lxc_cmd_t: the commands attachkit uses. */
export const LxcCommand = {
  GET_STATE: 3,
  GET_INIT_PID: 4,
  GET_CLONE_FLAGS: 5,
  GET_CGROUP: 6,
  GET_CONFIG_ITEM: 7,
  GET_INIT_PIDFD: 18,
  GET_DEVPTS_FD: 21,
  GET_CGROUP_CTX: 23,
} as const;
export type LxcCommandName = keyof typeof LxcCommand;

/** lxc_state_t, by number. */
export const LXC_STATES = ['STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'ABORTING', 'FREEZING', 'FROZEN', 'THAWED'] as const;
export type LxcState = (typeof LXC_STATES)[number];

export const RECORD_SIZE = 16;
/** LXC_CMD_DATA_MAX: the server drops a request with more data than this. */
export const MAX_DATA = 8192;
/** struct cgroup_ctx { s32 layout; u32 utilities; u32 fd_len; s32 fd[20]; } aligned(8). */
export const CGROUP_CTX_SIZE = 96;
export const CGROUP_CTX_MAX_FDS = 20;

export function encodeRequest(cmd: number, data: Uint8Array | undefined): Buffer {
  const header = Buffer.alloc(RECORD_SIZE);
  header.writeInt32LE(cmd, 0);
  header.writeInt32LE(data?.length ?? 0, 4);
  return header;
}

/** A string argument: NUL-terminated, the NUL counted in datalen (the server checks it). */
export function cstringData(value: string): Buffer {
  return Buffer.from(`${value}\0`);
}

export interface ResponseHeader {
  readonly ret: number;
  readonly datalen: number;
  /** The pointer field: the scalar answer when datalen is 0, else a server address. */
  readonly value: bigint;
}

export function decodeResponse(header: Uint8Array): ResponseHeader {
  const view = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  return { ret: view.readInt32LE(0), datalen: view.readInt32LE(4), value: view.readBigInt64LE(8) };
}

/** A NUL-terminated string answer. */
export function decodeCString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return Buffer.from(data.subarray(0, end < 0 ? data.length : end)).toString();
}
