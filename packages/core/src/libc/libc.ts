import { createRequire } from 'node:module';
import type { InjectionToken } from '../di.js';
import { SyscallError } from '../errors.js';
import {
  AF_UNIX, CLD_DUMPED, CLD_EXITED, CLD_KILLED, F_DUPFD_CLOEXEC, O_CLOEXEC, P_PIDFD, SOCK_CLOEXEC, SOCK_STREAM, WEXITED, WNOHANG, WNOWAIT,
} from './constants.js';
import { syscallNumber, type SyscallName } from './syscalls.js';

const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/** sigset_t in glibc: 1024 bits. */
const SIGSET_SIZE = 128;

/** How a process ended: `code` for a normal exit, `signal` when a signal killed it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: number | null;
}

/**
 * Every libc call attachkit makes from the Node process goes through this
 * interface: one typed place, injectable (token LIBC) so tests can record
 * calls. Each method throws SyscallError (function, errno name, message).
 */
export interface Libc {
  /** A raw syscall with integer arguments; returns its (non-negative) result. */
  syscall(name: SyscallName, args: readonly number[], detail?: string): number;
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2); signal 0 checks that the process still exists. */
  pidfdSendSignal(pidfd: number, signal: number): void;
  /**
   * waitid(P_PIDFD, WNOHANG): the exit of a child, or undefined while it
   * runs. Reaps it, unless `peek` (WNOWAIT). ECHILD: not our child.
   */
  waitPidfd(pidfd: number, options?: { readonly peek?: boolean }): ProcessExit | undefined;
  memfdCreate(name: string, flags: number): number;
  write(fd: number, data: Uint8Array): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** ioctl(2) with an integer argument, or a buffer the kernel reads or fills (termios, winsize). */
  ioctl(fd: number, request: number, arg: number | Uint8Array): number;
  close(fd: number): void;
  /** pipe2(2) with O_CLOEXEC: [read end, write end]. */
  pipe(): [number, number];
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected ends. */
  socketpair(): [number, number];
  /**
   * posix_spawn(3) of `path` with `argv`, an empty environment, every signal
   * at its default disposition and none blocked, in a process group of its
   * own, and fds[i] at fd i in the child. vfork-fast (the Node process is not copied, as a fork would); the
   * caller reaps the child. Returns its pid.
   */
  spawn(path: string, argv: readonly string[], fds: readonly number[]): number;
  /** openat2(2): open `path` below `dirfd` with RESOLVE_* rules (RESOLVE_IN_ROOT keeps a container's symlinks inside it). */
  openat2(dirfd: number, path: string, flags: number, resolve: number): number;
  /** socket(2). */
  socket(domain: number, type: number, protocol: number): number;
  /** connect(2) to a sockaddr given as bytes; its length is the addrlen (an abstract unix name has no NUL padding). */
  connect(fd: number, address: Uint8Array, detail?: string): void;
  /** sendmsg(2) of `buffers` in order, with ancillary data when `control` is given; returns the bytes sent. */
  sendmsg(fd: number, buffers: readonly Uint8Array[], control: Uint8Array | undefined, flags: number): number;
  /** recvmsg(2) into `buffer`, ancillary data into `control` (e.g. SCM_RIGHTS fds). Retries EINTR. */
  recvmsg(fd: number, buffer: Uint8Array, control: Uint8Array | undefined, flags: number): ReceivedMessage;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): void;
  /** getsockopt(2) into `value`; returns the length the kernel wrote. */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
}

/** What recvmsg(2) filled in. */
export interface ReceivedMessage {
  /** Bytes of data received; 0 at end of stream. */
  readonly bytes: number;
  /** Bytes of ancillary data written to the control buffer. */
  readonly controlLength: number;
  /** msg_flags: MSG_CTRUNC when ancillary data (fds) did not fit and was lost. */
  readonly flags: number;
}

export const LIBC: InjectionToken<Libc> = Symbol.for('attachkit.libc');

interface MsgHdr {
  name: null; namelen: number; iov: Array<{ base: Uint8Array; len: number }>; iovlen: number;
  control: Uint8Array | null; controllen: number; flags: number;
}
const EINTR = 4;

/**
 * koffi, loaded when the first KoffiLibc is made rather than at import: a
 * native addon cannot be part of the CLI's V8 start-up snapshot
 * (docs/startup.md), and commands that never call libc need not load it.
 */
/** What the koffi package exports. */
export type KoffiModule = typeof import('koffi');
let koffi!: KoffiModule;
let koffiLoader = () => createRequire(import.meta.url)('koffi') as KoffiModule;
const loadKoffi = () => (koffi ??= koffiLoader());

/**
 * Load koffi another way, before the first KoffiLibc is made: the CLI's
 * start-up snapshot loads its native module by path, which skips the
 * package resolution and koffi's own loader (~6 ms a start, docs/startup.md).
 */
export function setKoffiLoader(load: () => KoffiModule): void {
  koffiLoader = load;
}

/** The real libc, through koffi. Loaded once per process. */
export class KoffiLibc implements Libc {
  private readonly lib = loadKoffi().load('libc.so.6');
  // struct iovec and struct msghdr (x86_64 and arm64 LP64 layout, see <bits/socket.h>).
  // Their pointer fields take Buffers: koffi passes the Buffer's own memory.
  // Anonymous types: a second copy of this module in the process must not clash on names.
  private readonly iovec = koffi.struct({ base: 'void *', len: 'size_t' });
  private readonly msghdr = koffi.struct({
    name: 'void *', namelen: 'uint32_t', iov: koffi.pointer(this.iovec), iovlen: 'size_t',
    control: 'void *', controllen: 'size_t', flags: 'int',
  });
  private readonly rawSyscall = this.lib.func('long syscall(long number, ...)');
  private readonly rawWaitid = this.lib.func('int waitid(int idtype, uint32_t id, _Out_ uint8_t *infop, int options)');
  private readonly rawMemfd = this.lib.func('int memfd_create(const char *name, unsigned int flags)');
  private readonly rawWrite = this.lib.func('long write(int fd, const uint8_t *buf, size_t count)');
  private readonly rawFcntl = this.lib.func('int fcntl(int fd, int cmd, ...)');
  private readonly rawIoctl = this.lib.func('int ioctl(int fd, unsigned long request, ...)');
  private readonly rawClose = this.lib.func('int close(int fd)');
  private readonly rawPipe2 = this.lib.func('int pipe2(_Out_ int *fds, int flags)');
  private readonly rawSocketpair = this.lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *fds)');
  private readonly rawSpawn = this.lib.func('int posix_spawn(_Out_ int *pid, const char *path, const uint8_t *actions, const uint8_t *attr, const char **argv, const char **envp)');
  private readonly rawActionsInit = this.lib.func('int posix_spawn_file_actions_init(uint8_t *actions)');
  private readonly rawActionsDup2 = this.lib.func('int posix_spawn_file_actions_adddup2(uint8_t *actions, int fd, int newfd)');
  private readonly rawActionsDestroy = this.lib.func('int posix_spawn_file_actions_destroy(uint8_t *actions)');
  private readonly rawAttrInit = this.lib.func('int posix_spawnattr_init(uint8_t *attr)');
  private readonly rawAttrFlags = this.lib.func('int posix_spawnattr_setflags(uint8_t *attr, short flags)');
  private readonly rawAttrPgroup = this.lib.func('int posix_spawnattr_setpgroup(uint8_t *attr, int pgroup)');
  private readonly rawAttrMask = this.lib.func('int posix_spawnattr_setsigmask(uint8_t *attr, const uint8_t *set)');
  private readonly rawAttrDefault = this.lib.func('int posix_spawnattr_setsigdefault(uint8_t *attr, const uint8_t *set)');
  private readonly rawAttrDestroy = this.lib.func('int posix_spawnattr_destroy(uint8_t *attr)');
  private readonly rawSocket = this.lib.func('int socket(int domain, int type, int protocol)');
  private readonly rawConnect = this.lib.func('int connect(int fd, const uint8_t *addr, uint32_t addrlen)');
  private readonly rawSendmsg = this.lib.func('sendmsg', 'long', ['int', koffi.pointer(this.msghdr), 'int']);
  private readonly rawRecvmsg = this.lib.func('recvmsg', 'long', ['int', koffi.inout(koffi.pointer(this.msghdr)), 'int']);
  private readonly rawSetsockopt = this.lib.func('int setsockopt(int fd, int level, int name, const uint8_t *value, uint32_t len)');
  private readonly rawGetsockopt = this.lib.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)');

  syscall(name: SyscallName, args: readonly number[], detail?: string): number {
    const variadic: unknown[] = [];
    for (const a of args) variadic.push('long', a);
    const r = Number(this.rawSyscall(syscallNumber(name), ...variadic));
    if (r < 0) throw new SyscallError(name, koffi.errno(), detail ?? args.join(', '));
    return r;
  }

  pidfdOpen(pid: number): number {
    return this.syscall('pidfd_open', [pid, 0], `pid ${pid}`);
  }

  pidfdSendSignal(pidfd: number, signal: number): void {
    this.syscall('pidfd_send_signal', [pidfd, signal, 0, 0], `pidfd ${pidfd}, ${signal}`);
  }

  waitPidfd(pidfd: number, options: { readonly peek?: boolean } = {}): ProcessExit | undefined {
    // siginfo_t is 128 bytes; si_code at 8, si_pid at 16, si_status at 24.
    const info = Buffer.alloc(128);
    if (this.rawWaitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG | (options.peek ? WNOWAIT : 0)) < 0) {
      throw new SyscallError('waitid', koffi.errno(), `P_PIDFD, ${pidfd}`);
    }
    if (info.readInt32LE(16) === 0) return undefined;
    const code = info.readInt32LE(8);
    const status = info.readInt32LE(24);
    if (code === CLD_EXITED) return { code: status, signal: null };
    if (code === CLD_KILLED || code === CLD_DUMPED) return { code: null, signal: status };
    return undefined;
  }

  memfdCreate(name: string, flags: number): number {
    const fd = this.rawMemfd(name, flags);
    if (fd < 0) throw new SyscallError('memfd_create', koffi.errno(), name);
    return fd;
  }

  write(fd: number, data: Uint8Array): number {
    const n = Number(this.rawWrite(fd, data, data.length));
    if (n < 0) throw new SyscallError('write', koffi.errno(), `fd ${fd}`);
    return n;
  }

  fcntl(fd: number, cmd: number, arg: number): number {
    const r = this.rawFcntl(fd, cmd, 'int', arg);
    if (r < 0) throw new SyscallError('fcntl', koffi.errno(), `fd ${fd}, ${cmd}`);
    return r;
  }

  ioctl(fd: number, request: number, arg: number | Uint8Array): number {
    const r = typeof arg === 'number' ? this.rawIoctl(fd, request, 'long', arg) : this.rawIoctl(fd, request, 'uint8_t *', arg);
    if (r < 0) throw new SyscallError('ioctl', koffi.errno(), `fd ${fd}, 0x${request.toString(16)}`);
    return r;
  }

  close(fd: number): void {
    if (this.rawClose(fd) < 0) throw new SyscallError('close', koffi.errno(), `fd ${fd}`);
  }

  socket(domain: number, type: number, protocol: number): number {
    const fd = this.rawSocket(domain, type, protocol);
    if (fd < 0) throw new SyscallError('socket', koffi.errno(), `${domain}, ${type}, ${protocol}`);
    return fd;
  }

  connect(fd: number, address: Uint8Array, detail?: string): void {
    for (;;) {
      if (this.rawConnect(fd, address, address.length) === 0) return;
      const errno = koffi.errno();
      if (errno !== EINTR) throw new SyscallError('connect', errno, detail ?? `fd ${fd}`);
    }
  }

  sendmsg(fd: number, buffers: readonly Uint8Array[], control: Uint8Array | undefined, flags: number): number {
    const msg = msghdr(buffers, control);
    for (;;) {
      const n = Number(this.rawSendmsg(fd, msg, flags));
      if (n >= 0) return n;
      const errno = koffi.errno();
      if (errno !== EINTR) throw new SyscallError('sendmsg', errno, `fd ${fd}`);
    }
  }

  recvmsg(fd: number, buffer: Uint8Array, control: Uint8Array | undefined, flags: number): ReceivedMessage {
    for (;;) {
      const msg = msghdr([buffer], control);
      const n = Number(this.rawRecvmsg(fd, msg, flags));
      if (n >= 0) return { bytes: n, controlLength: Number(msg.controllen), flags: msg.flags };
      const errno = koffi.errno();
      if (errno !== EINTR) throw new SyscallError('recvmsg', errno, `fd ${fd}`);
    }
  }

  setsockopt(fd: number, level: number, name: number, value: Uint8Array): void {
    if (this.rawSetsockopt(fd, level, name, value, value.length) < 0) {
      throw new SyscallError('setsockopt', koffi.errno(), `fd ${fd}, ${level}, ${name}`);
    }
  }

  getsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
    const len = new Uint32Array([value.length]);
    if (this.rawGetsockopt(fd, level, name, value, len) < 0) {
      throw new SyscallError('getsockopt', koffi.errno(), `fd ${fd}, ${level}, ${name}`);
    }
    return len[0]!;
  }

  pipe(): [number, number] {
    const fds = [0, 0];
    if (this.rawPipe2(fds, O_CLOEXEC) < 0) throw new SyscallError('pipe2', koffi.errno(), 'O_CLOEXEC');
    return [fds[0]!, fds[1]!];
  }

  socketpair(): [number, number] {
    const fds = [0, 0];
    if (this.rawSocketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) throw new SyscallError('socketpair', koffi.errno(), 'AF_UNIX');
    return [fds[0]!, fds[1]!];
  }

  spawn(path: string, argv: readonly string[], fds: readonly number[]): number {
    // Move every source above the target numbers first, so that no dup2 in
    // the child can overwrite a source a later one still needs.
    const sources: number[] = [];
    // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336; room to spare.
    const actions = Buffer.alloc(256);
    const attr = Buffer.alloc(512);
    this.rawActionsInit(actions);
    this.rawAttrInit(attr);
    try {
      for (const fd of fds) sources.push(this.fcntl(fd, F_DUPFD_CLOEXEC, fds.length));
      sources.forEach((fd, i) => this.check('posix_spawn_file_actions_adddup2', this.rawActionsDup2(actions, fd, i)));
      // Its own process group: the keys of the caller's terminal (Ctrl-C, Ctrl-Z)
      // signal the caller's foreground group, and must not kill or stop an
      // attach half made; attachkit decides what they do to it.
      this.check('posix_spawnattr_setflags', this.rawAttrFlags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
      this.check('posix_spawnattr_setpgroup', this.rawAttrPgroup(attr, 0));
      this.check('posix_spawnattr_setsigmask', this.rawAttrMask(attr, Buffer.alloc(SIGSET_SIZE)));
      // Node ignores SIGPIPE; ignored signals would survive the exec.
      this.check('posix_spawnattr_setsigdefault', this.rawAttrDefault(attr, Buffer.alloc(SIGSET_SIZE, 0xff)));
      const pid = [0];
      this.check('posix_spawn', this.rawSpawn(pid, path, actions, attr, [...argv, null], [null]), path);
      return pid[0]!;
    } finally {
      this.rawActionsDestroy(actions);
      this.rawAttrDestroy(attr);
      for (const fd of sources) this.close(fd);
    }
  }

  /** posix_spawn(3) and its helpers return an errno instead of setting errno. */
  private check(fn: string, err: number, detail?: string): void {
    if (err !== 0) throw new SyscallError(fn, err, detail);
  }

  openat2(dirfd: number, path: string, flags: number, resolve: number): number {
    const how = openHow(flags, resolve);
    const fd = Number(this.rawSyscall(syscallNumber('openat2'), 'int', dirfd, 'const char *', path, 'uint8_t *', how, 'size_t', how.length));
    if (fd < 0) throw new SyscallError('openat2', koffi.errno(), path);
    return fd;
  }

}

function msghdr(buffers: readonly Uint8Array[], control: Uint8Array | undefined): MsgHdr {
  return {
    name: null, namelen: 0,
    iov: buffers.map((b) => ({ base: b, len: b.length })), iovlen: buffers.length,
    control: control ?? null, controllen: control?.length ?? 0, flags: 0,
  };

}

/**
 * One ancillary message for sendmsg(2): struct cmsghdr (LP64: u64 len, s32
 * level, s32 type), then the data, padded to 8 bytes (CMSG_SPACE).
 */
export function controlMessage(level: number, type: number, data: Uint8Array): Buffer {
  const len = 16 + data.length;
  const cmsg = Buffer.alloc((len + 7) & ~7);
  cmsg.writeBigUInt64LE(BigInt(len), 0);
  cmsg.writeInt32LE(level, 8);
  cmsg.writeInt32LE(type, 12);
  cmsg.set(data, 16);
  return cmsg;
}

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
export function openHow(flags: number, resolve: number): Buffer {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return how;
}

let shared: KoffiLibc | undefined;
/** The process-wide real libc. */
export function realLibc(): Libc {
  return (shared ??= new KoffiLibc());
}
