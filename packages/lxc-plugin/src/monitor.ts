import { AF_UNIX, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_NOSIGNAL, SCM_CREDENTIALS, SCM_RIGHTS, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, SO_PEERCRED, SO_RCVTIMEO, SO_SNDTIMEO, SyscallError, controlMessage, describeErrno, type Libc } from '@attachkit/core';
import {
  CGROUP_CTX_MAX_FDS, CGROUP_CTX_SIZE, cstringData, decodeCString, decodeResponse, encodeRequest, LXC_STATES, LxcCommand,
  MAX_DATA, RECORD_SIZE, type LxcCommandName, type LxcState,
} from './commands.js';
import { abstractSockaddr, commandSocketName } from './socket-name.js';

/** How long one command may take; a hung monitor must not hang the attach. */
export const MONITOR_TIMEOUT_MS = 5000;

const EAGAIN = 11;

/** One answer of the monitor. Its fds are the caller's to close. */
export interface MonitorResponse {
  /** 0, or −errno. */
  readonly ret: number;
  /** The scalar answer (pid, state, flags) when there is no data. */
  readonly value: bigint;
  readonly data: Buffer;
  readonly fds: readonly number[];
}

/**
 * Why a command failed: the monitor answered −errno (`refused`), closed the
 * connection without an answer (`closed`: LXC does that for a command it does
 * not know), did not answer in time, broke the protocol, or is not to be trusted.
 */
export type LxcCommandFailure = 'refused' | 'closed' | 'timeout' | 'protocol' | 'untrusted';

/** A command the monitor refused, failed, or did not answer. */
export class LxcCommandError extends Error {
  constructor(
    readonly command: LxcCommandName,
    readonly failure: LxcCommandFailure,
    message: string,
    /** The errno the monitor answered with (−ret), when it answered. */
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'LxcCommandError';
  }

  /** The monitor does not do this command (or not for this container): worth a fallback. */
  get unsupported(): boolean {
    return this.failure === 'refused' || this.failure === 'closed';
  }
}

/**
 * A command sent to the monitor whose answer is read later: commands sent
 * together are answered in one wait rather than one wait each.
 */
export interface SentCommand {
  readonly command: LxcCommandName;
  /** Read the answer (once). Its fds are the caller's to close. */
  answer(): MonitorResponse;
  /** Not wanted after all: close the connection (a no-op once answered). */
  cancel(): void;
}

/**
 * A client of a running container's monitor (`[lxc monitor] LXCPATH NAME`,
 * the lxc-start process that serves the command socket). Every call is one
 * connection, blocking with a timeout: the socket is abstract, which Node's
 * `net` cannot address (libuv pads the address to sizeof(sun_path)), and fds
 * come back by SCM_RIGHTS, which `net` cannot receive.
 *
 * The server is trusted only if it runs as root or as us: an abstract name is
 * not protected by file permissions, so while a container is stopped any
 * local user could bind its name and answer with a pidfd of their choosing.
 */
export class LxcMonitor {
  /** The socket's abstract name, without its leading NUL. */
  readonly socketName: string;

  constructor(
    private readonly libc: Libc,
    readonly lxcpath: string,
    readonly name: string,
    private readonly timeoutMs = MONITOR_TIMEOUT_MS,
  ) {
    this.socketName = commandSocketName(lxcpath, name);
  }

  /** `@/var/lib/lxc/c1/command`, as /proc/net/unix shows it. */
  get address(): string {
    return `@${this.socketName}`;
  }

  /** The init process, as a pidfd (GET_INIT_PIDFD). */
  initPidfd(sent = this.sendInitPidfd()): number {
    return this.expectFd('GET_INIT_PIDFD', sent.answer());
  }

  sendInitPidfd(): SentCommand {
    return this.send('GET_INIT_PIDFD', undefined, 1);
  }

  /** The init's pid in the monitor's pid namespace (GET_INIT_PID). */
  initPid(): number {
    return Number(this.scalar('GET_INIT_PID'));
  }

  state(sent = this.sendState()): LxcState {
    const n = Number(this.scalar('GET_STATE', sent));
    const state = LXC_STATES[n];
    if (!state) throw new LxcCommandError('GET_STATE', 'protocol', `GET_STATE: the monitor at ${this.address} answered an unknown state ${n}`);
    return state;
  }

  /** The CLONE_NEW* flags the container was started with. */
  cloneFlags(): number {
    return Number(this.scalar('GET_CLONE_FLAGS'));
  }

  /** A directory fd of the container's own devpts (GET_DEVPTS_FD), for a pty of the container's. */
  devptsFd(): number {
    return this.expectFd('GET_DEVPTS_FD', this.request('GET_DEVPTS_FD', undefined, 1));
  }

  /** A key of the running container's config; undefined when unset or unknown (the monitor does not say which). */
  configItem(key: string): string | undefined {
    const r = this.request('GET_CONFIG_ITEM', cstringData(key));
    return r.ret < 0 ? undefined : decodeCString(r.data);
  }

  /**
   * The container's cgroup path in the hierarchy of `controller`
   * (`memory`, `name=systemd`; the cgroup2 hierarchy answers to one of its
   * controllers); undefined when the monitor has none.
   */
  cgroupPath(controller: string): string | undefined {
    const r = this.request('GET_CGROUP', cstringData(controller));
    return r.ret < 0 || r.data.length === 0 ? undefined : decodeCString(r.data);
  }

  /**
   * The container's cgroup directories, one fd per writable hierarchy, and
   * the host's cgroup layout (GET_CGROUP_CTX; −1 unknown, 0 legacy, 1 hybrid, 2 unified).
   */
  cgroupContext(sent = this.sendCgroupContext()): { layout: number; fds: number[] } {
    const r = sent.answer();
    if (r.ret < 0 || r.data.length < 12 || r.data.readUInt32LE(8) !== r.fds.length) {
      this.closeAll(r.fds);
      throw r.ret < 0 ? this.refused('GET_CGROUP_CTX', r.ret)
        : new LxcCommandError('GET_CGROUP_CTX', 'protocol', `GET_CGROUP_CTX: the monitor at ${this.address} sent ${r.fds.length} fds for a context that lists ${r.data.length < 12 ? 'none' : r.data.readUInt32LE(8)}`);
    }
    return { layout: r.data.readInt32LE(0), fds: [...r.fds] };
  }

  sendState(): SentCommand {
    return this.send('GET_STATE');
  }

  sendCgroupContext(): SentCommand {
    return this.send('GET_CGROUP_CTX', Buffer.alloc(CGROUP_CTX_SIZE), CGROUP_CTX_MAX_FDS);
  }

  /** One command: connect, send, read the answer with its fds, close. */
  request(command: LxcCommandName, data?: Uint8Array, maxFds = 0): MonitorResponse {
    return this.send(command, data, maxFds).answer();
  }

  /** Connect and send a command; read its answer later. */
  send(command: LxcCommandName, data?: Uint8Array, maxFds = 0): SentCommand {
    if (data && data.length > MAX_DATA) throw new LxcCommandError(command, 'protocol', `${command}: request too long (${data.length} > ${MAX_DATA} bytes)`);
    const sock = this.connect(command);
    try {
      const request = encodeRequest(LxcCommand[command], data);
      this.libc.sendmsg(sock, data?.length ? [request, data] : [request], credentials(), MSG_NOSIGNAL);
    } catch (err) {
      this.libc.close(sock);
      throw err;
    }
    let open = true;
    const close = () => {
      if (open) this.libc.close(sock);
      open = false;
    };
    return {
      command,
      answer: () => {
        if (!open) throw new LxcCommandError(command, 'protocol', `${command}: its answer was read or given up already`);
        try {
          return this.receiveAnswer(command, sock, maxFds);
        } finally {
          close();
        }
      },
      cancel: close,
    };
  }

  private receiveAnswer(command: LxcCommandName, sock: number, maxFds: number): MonitorResponse {
    let fds: number[] = [];
    try {
      const header = Buffer.alloc(RECORD_SIZE);
      // CMSG_SPACE(4 * maxFds), and room for anything else the kernel attaches.
      const control = Buffer.alloc(16 + 8 * Math.ceil((4 * Math.max(maxFds, 1)) / 8) + 64);
      const first = this.receive(command, sock, header, control, MSG_CMSG_CLOEXEC);
      fds = parseRights(control, first.controlLength);
      if (first.flags & MSG_CTRUNC) {
        throw new LxcCommandError(command, 'protocol', `${command}: the monitor at ${this.address} sent more fds than expected (${maxFds})`);
      }
      if (first.bytes === 0) {
        throw new LxcCommandError(command, 'closed', `${command}: the monitor at ${this.address} closed the connection without an answer`);
      }
      this.fill(command, sock, header, first.bytes);
      const { ret, datalen, value } = decodeResponse(header);
      if (datalen < 0 || datalen > MAX_DATA) {
        throw new LxcCommandError(command, 'protocol', `${command}: the monitor at ${this.address} announced ${datalen} bytes of data`);
      }
      const body = Buffer.alloc(datalen);
      this.fill(command, sock, body, 0);
      if (fds.length > maxFds) throw new LxcCommandError(command, 'protocol', `${command}: the monitor at ${this.address} sent ${fds.length} fds, expected at most ${maxFds}`);
      return { ret, value, data: body, fds };
    } catch (err) {
      this.closeAll(fds);
      throw err;
    }
  }

  private connect(command: LxcCommandName): number {
    const sock = this.libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    try {
      const timeval = Buffer.alloc(16);
      timeval.writeBigInt64LE(BigInt(Math.floor(this.timeoutMs / 1000)), 0);
      timeval.writeBigInt64LE(BigInt((this.timeoutMs % 1000) * 1000), 8);
      // SO_SNDTIMEO bounds connect() too, when the listen backlog is full (unix(7)).
      this.libc.setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, timeval);
      this.libc.setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, timeval);
      try {
        this.libc.connect(sock, abstractSockaddr(this.socketName), this.address);
      } catch (err) {
        throw this.timedOut(command, err);
      }
      this.checkPeer(command, sock);
      return sock;
    } catch (err) {
      this.libc.close(sock);
      throw err;
    }
  }

  /** struct ucred { pid, uid, gid } of the listener. */
  private checkPeer(command: LxcCommandName, sock: number): void {
    const cred = Buffer.alloc(12);
    this.libc.getsockopt(sock, SOL_SOCKET, SO_PEERCRED, cred);
    const uid = cred.readUInt32LE(4);
    const euid = process.geteuid?.() ?? 0;
    if (uid !== 0 && uid !== euid) {
      throw new LxcCommandError(command, 'untrusted',
        `${this.address} is served by pid ${cred.readInt32LE(0)} running as uid ${uid}, neither root nor us: it is not an LXC monitor to trust`);
    }
  }

  private receive(command: LxcCommandName, sock: number, into: Uint8Array, control: Uint8Array | undefined, flags: number) {
    try {
      return this.libc.recvmsg(sock, into, control, flags);
    } catch (err) {
      throw this.timedOut(command, err);
    }
  }

  /** A call cut short by SO_RCVTIMEO / SO_SNDTIMEO fails with EAGAIN (socket(7)). */
  private timedOut(command: LxcCommandName, err: unknown): unknown {
    if (!(err instanceof SyscallError) || err.errno !== EAGAIN) return err;
    return new LxcCommandError(command, 'timeout', `${command}: the monitor at ${this.address} did not answer within ${this.timeoutMs} ms`);
  }

  /** Read until `buf` is full (a stream may deliver a record in pieces). */
  private fill(command: LxcCommandName, sock: number, buf: Buffer, have: number): void {
    while (have < buf.length) {
      const { bytes } = this.receive(command, sock, buf.subarray(have), undefined, 0);
      if (bytes === 0) throw new LxcCommandError(command, 'protocol', `${command}: the monitor at ${this.address} closed the connection in the middle of its answer`);
      have += bytes;
    }
  }

  private scalar(command: LxcCommandName, sent = this.send(command)): bigint {
    const r = sent.answer();
    if (r.ret < 0) throw this.refused(command, r.ret);
    return r.value;
  }

  private expectFd(command: LxcCommandName, r: MonitorResponse): number {
    if (r.ret < 0 || r.fds.length !== 1) {
      this.closeAll(r.fds);
      throw r.ret < 0 ? this.refused(command, r.ret)
        : new LxcCommandError(command, 'protocol', `${command}: the monitor at ${this.address} answered with ${r.fds.length} fds, expected 1`);
    }
    return r.fds[0]!;
  }

  private refused(command: LxcCommandName, ret: number): LxcCommandError {
    return new LxcCommandError(command, 'refused', `${command}: the monitor at ${this.address} answered ${describeErrno(-ret)}`, -ret);
  }

  private closeAll(fds: readonly number[]): void {
    for (const fd of fds) this.libc.close(fd);
  }
}

/**
 * SCM_CREDENTIALS with our own pid, uid and gid, as LXC's client sends them.
 * Not optional: the monitor turns SO_PASSCRED on only after accept(), and a
 * request queued before that carries no credentials, which the kernel then
 * reports as the overflow uid, and the monitor refuses with EPERM (seen here
 * with requests in quick succession).
 */
function credentials(): Buffer {
  const ucred = Buffer.alloc(12);
  ucred.writeInt32LE(process.pid, 0);
  ucred.writeUInt32LE(process.getuid?.() ?? 0, 4);
  ucred.writeUInt32LE(process.getgid?.() ?? 0, 8);
  return controlMessage(SOL_SOCKET, SCM_CREDENTIALS, ucred);
}

/** The fds of every SCM_RIGHTS message in a control buffer (struct cmsghdr: u64 len, s32 level, s32 type, data; 8-aligned). */
export function parseRights(control: Buffer, length: number): number[] {
  const fds: number[] = [];
  for (let off = 0; off + 16 <= length;) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16 || off + len > length) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    }
    off += (len + 7) & ~7;
  }
  return fds;
}
