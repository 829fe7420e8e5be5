import koffi from 'koffi';
import type { InjectionToken } from '../di.js';
import { SyscallError } from '../errors.js';
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, P_PIDFD, WEXITED, WNOHANG } from './constants.js';
import { syscallNumber, type SyscallName } from './syscalls.js';

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
  /** waitid(P_PIDFD, WNOHANG): the exit of a child, or undefined while it runs. Reaps it. */
  waitPidfd(pidfd: number): ProcessExit | undefined;
  memfdCreate(name: string, flags: number): number;
  write(fd: number, data: Uint8Array): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** ioctl(2) with an integer argument, or a buffer the kernel reads or fills (termios, winsize). */
  ioctl(fd: number, request: number, arg: number | Uint8Array): number;
  close(fd: number): void;
}

export const LIBC: InjectionToken<Libc> = Symbol.for('attachkit.libc');

/** The real libc, through koffi. Loaded once per process. */
export class KoffiLibc implements Libc {
  private readonly lib = koffi.load('libc.so.6');
  private readonly rawSyscall = this.lib.func('long syscall(long number, ...)');
  private readonly rawWaitid = this.lib.func('int waitid(int idtype, uint32_t id, _Out_ uint8_t *infop, int options)');
  private readonly rawMemfd = this.lib.func('int memfd_create(const char *name, unsigned int flags)');
  private readonly rawWrite = this.lib.func('long write(int fd, const uint8_t *buf, size_t count)');
  private readonly rawFcntl = this.lib.func('int fcntl(int fd, int cmd, ...)');
  private readonly rawIoctl = this.lib.func('int ioctl(int fd, unsigned long request, ...)');
  private readonly rawClose = this.lib.func('int close(int fd)');

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

  waitPidfd(pidfd: number): ProcessExit | undefined {
    // siginfo_t is 128 bytes; si_code at 8, si_pid at 16, si_status at 24.
    const info = Buffer.alloc(128);
    if (this.rawWaitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG) < 0) {
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
}

let shared: KoffiLibc | undefined;
/** The process-wide real libc. */
export function realLibc(): Libc {
  return (shared ??= new KoffiLibc());
}
