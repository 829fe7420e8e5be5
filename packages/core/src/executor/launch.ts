import { closeSync, openSync } from 'node:fs';
import { Socket as PipeSocket } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { F_GETFL, F_SETFL, MSG_NOSIGNAL, O_NONBLOCK, SCM_RIGHTS, SIGKILL, SOL_SOCKET } from '../libc/constants.js';
import { errnoName } from '../libc/errno.js';
import { controlMessage, type Libc, type ProcessExit } from '../libc/libc.js';
import { FIRST_PASSED_FD, type OpInfo, type SerializedProgram } from '../program/program.js';
import { executorImage, executorImagePath } from './image.js';
import { reaperFor } from './reaper.js';

/** Messages from the executor: 16 bytes, {type, op index, value, reserved}. */
const MSG_SIZE = 16;
const MSG_READY = 1;
const MSG_PID = 2;
const MSG_ERROR = 3;
const OP_NONE = 0xffffffff;
/** The most fds one SCM_RIGHTS message carries (SCM_MAX_FD). */
const SCM_MAX_FD = 253;

export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

/** The executor process while it waits at the sync point, still in the caller's namespaces. */
export interface IntermediateProcess {
  readonly pid: number;
  /** False once the process has been reaped. Check it synchronously right before using the pid:
   * until it is reaped, no other process can have this pid. */
  isAlive(): boolean;
}

export interface LaunchOptions {
  readonly stdio: readonly [StdioOption, StdioOption, StdioOption];
  /** Parent-side work at the sync point (stages' atSyncPoint). A throw aborts the attach. */
  readonly atSync: (intermediate: IntermediateProcess) => Promise<void>;
}

/** The attached process, running its command. */
export interface Launched {
  readonly pid: number;
  readonly pidfd: number;
  readonly exit: Promise<ProcessExit>;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

/** The executor, started and waiting for its program. */
export interface Executor {
  /**
   * Send the program with its fds, serve the sync point, and resolve once
   * the command has been exec'd (or reject with the first failure, naming
   * its stage, operation and errno). Nothing is left behind on failure: the
   * intermediates and the attached process are reaped.
   */
  run(program: SerializedProgram, options: LaunchOptions): Promise<Launched>;
  /** The attach stops before run(): kill the executor and reap it. */
  cancel(): Promise<void>;
}

/**
 * Start the executor from its sealed memfd. It is started before the stages
 * plan, so that its exec overlaps their work; it waits for its program and
 * fds on the sync socket (its fd 0, moved above every fd of the command)
 * and exits at end-of-file, should attachkit go away first.
 */
export function startExecutor(libc: Libc): Executor {
  const image = executorImage(libc);
  const [ours, theirs] = libc.socketpair();
  let pid: number;
  let pidfd: number;
  try {
    // posix_spawn, not child_process: it does not copy the Node process (a
    // fork of a large heap costs milliseconds), and we reap the executor
    // ourselves, as we reap the command.
    pid = libc.spawn(executorImagePath(image), ['attachkit-executor'], [theirs]);
    pidfd = libc.pidfdOpen(pid); // our unreaped child: its pid cannot be reused meanwhile
  } catch (cause) {
    libc.close(ours);
    throw new AttachError(ErrorCodes.EXECUTOR, `cannot start the executor: ${(cause as Error).message}`, { cause });
  } finally {
    libc.close(theirs);
  }
  let claimed = false;
  return {
    run: (program, options) => {
      claimed = true;
      return run(libc, pid, pidfd, ours, program, options);
    },
    cancel: async () => {
      if (claimed) return;
      claimed = true;
      libc.close(ours); // end-of-file: it exits by itself, and the kill makes sure
      try { libc.pidfdSendSignal(pidfd, SIGKILL); } catch { /* already gone */ }
      await reaperFor(libc).wait(pidfd).catch(() => undefined);
      libc.close(pidfd);
    },
  };
}

function run(libc: Libc, pid: number, pidfd: number, ours: number, program: SerializedProgram, options: LaunchOptions): Promise<Launched> {
  // 'pipe' stdio: a pipe whose far end the executor (then the command) gets,
  // ours as a stream that lives as long as the command, not the executor.
  const pipes = options.stdio.map((opt, i) => (opt === 'pipe' ? ownPipe(libc, i) : undefined));
  const devnull = options.stdio.includes('ignore') ? openSync('/dev/null', 'r+') : undefined;
  const sources = options.stdio.map((opt, i) => pipes[i]?.childEnd ?? (opt === 'inherit' ? i : opt === 'ignore' ? devnull! : opt as number));
  const [stdin, stdout, stderr] = pipes.map((p) => p?.stream ?? null) as [Writable | null, Readable | null, Readable | null];
  // The command's stdio must block, as a terminal's or a pipe's normally
  // does; Node makes its own non-blocking, and the open file description is
  // shared. child_process (libuv) clears it for a child the same way.
  for (const fd of new Set(sources)) blocking(libc, fd);
  let handover: unknown;
  try {
    if (FIRST_PASSED_FD + program.fds.length > SCM_MAX_FD) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `too many fds passed to the executor (${program.fds.length})`);
    }
    sendFds(libc, ours, [...sources.map((fd, i) => [fd, i] as const), ...program.fds.map((fd, i) => [fd, FIRST_PASSED_FD + i] as const)]);
  } catch (err) {
    // EPIPE when the executor died early: its exit tells why, below.
    handover = err instanceof SyscallError && errnoName(err.errno) === 'EPIPE' ? undefined : err;
  } finally {
    for (const p of pipes) if (p) libc.close(p.childEnd);
    if (devnull !== undefined) closeSync(devnull);
  }
  return new Promise<Launched>((resolve, reject) => {
    const sync = new PipeSocket({ fd: ours, readable: true, writable: true });
    let pending: Buffer = Buffer.alloc(0);
    // Every FORK reports its child, in which the program goes on: the child
    // of the last fork op is the attached process, any other an intermediate
    // that exits once it has forked (the cgroup2 fork, forkIntoCgroup).
    // Reports of two forks may arrive in either order: a child can report
    // its own fork before its parent has reported it.
    const forked: Array<{ index: number; pid: number; pidfd: number; exit: Promise<ProcessExit> }> = [];
    let reported: { index: number; errno: number } | undefined;
    let failure: unknown = handover;
    let socketClosed = false;
    let intermediate: ProcessExit | undefined;

    const abort = (err: unknown) => {
      failure ??= err;
      if (!intermediate) {
        try { libc.pidfdSendSignal(pidfd, SIGKILL); } catch { /* already gone */ }
      }
      for (const child of forked) {
        try { libc.pidfdSendSignal(child.pidfd, SIGKILL); } catch { /* already gone */ }
      }
    };

    const finish = async () => {
      if (!socketClosed || !intermediate) return;
      // The intermediates between the executor and the attached process have
      // exited or will at once (each exits after its fork): reap them first.
      forked.sort((a, b) => a.index - b.index);
      const attached = forked.at(-1);
      for (const child of forked.slice(0, -1)) {
        const exit = await child.exit.catch(() => undefined);
        libc.close(child.pidfd);
        if (!failure && !reported && (!exit || exit.code !== 0)) {
          failure = new AttachError(ErrorCodes.EXECUTOR, `an intermediate process ended (${exit ? describeExit(exit) : 'unknown'}) before starting the command`);
        }
      }
      const error = failure ?? (reported ? opError(program.ops, reported.index, reported.errno)
        : attached ? undefined
        : new AttachError(ErrorCodes.EXECUTOR, `the executor ended (${describeExit(intermediate)}) before starting the command`));
      if (!error && attached) {
        resolve({ ...attached, stdin, stdout, stderr });
        return;
      }
      if (attached) {
        // The attached process failed before exec and has exited: reap it, drop its pidfd.
        await attached.exit.catch(() => undefined);
        libc.close(attached.pidfd);
      }
      for (const stream of [stdin, stdout, stderr]) stream?.destroy();
      reject(error);
    };

    const onMessage = (type: number, index: number, value: number) => {
      if (type === MSG_READY) {
        options.atSync({ pid, isAlive: () => intermediate === undefined }).then(
          () => { if (!failure) sync.write('g'); },
          (err) => abort(err),
        );
      } else if (type === MSG_PID) {
        try {
          const pidfd = libc.pidfdOpen(value);
          forked.push({ index, pid: value, pidfd, exit: reaperFor(libc).wait(pidfd) });
        } catch (err) {
          abort(new AttachError(ErrorCodes.EXECUTOR, `cannot hold the process forked by the program (pid ${value}): ${(err as Error).message}`, { cause: err }));
        }
        if (failure) abort(failure); // reported after an abort: it must not go on
      } else if (type === MSG_ERROR) {
        reported ??= { index, errno: value };
      } else {
        abort(new AttachError(ErrorCodes.EXECUTOR, `the executor sent an unknown message (${type})`));
      }
    };

    sync.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= MSG_SIZE) {
        onMessage(pending.readUInt32LE(0), pending.readUInt32LE(4), pending.readInt32LE(8));
        pending = pending.subarray(MSG_SIZE);
      }
    });
    sync.on('error', () => { /* EPIPE when the executor dies early: its exit tells why */ });
    sync.on('close', () => { socketClosed = true; void finish(); });
    reaperFor(libc).wait(pidfd).then(
      (exit) => { intermediate = exit; },
      (err) => { intermediate = { code: null, signal: null }; abort(err); },
    ).finally(() => {
      libc.close(pidfd);
      void finish();
    });
    if (failure) abort(failure);
    else sync.write(program.bytes);
  });
}

/**
 * The fds of the attach, each with its number in the executor: one
 * message, {count, numbers[count]} with the fds as SCM_RIGHTS.
 */
function sendFds(libc: Libc, sock: number, fds: ReadonlyArray<readonly [fd: number, at: number]>): void {
  const header = Buffer.alloc(4 * (fds.length + 1));
  header.writeUInt32LE(fds.length, 0);
  fds.forEach(([, at], i) => header.writeInt32LE(at, 4 * (i + 1)));
  const rights = Buffer.from(Int32Array.from(fds, ([fd]) => fd).buffer);
  libc.sendmsg(sock, [header], fds.length ? controlMessage(SOL_SOCKET, SCM_RIGHTS, rights) : undefined, MSG_NOSIGNAL);
}

/**
 * A pipe for std fd `i`: the child's end as a plain fd, ours as a stream.
 * Output goes through a PassThrough: a socket starts reading at once and
 * would emit 'end' for a quiet command before the caller has had a chance
 * to listen; the PassThrough holds it until someone reads.
 */
function ownPipe(libc: Libc, i: number): { childEnd: number; stream: Readable | Writable } {
  const [r, w] = libc.pipe();
  return i === 0
    ? { childEnd: r, stream: new PipeSocket({ fd: w, readable: false, writable: true }) }
    : { childEnd: w, stream: new PipeSocket({ fd: r, readable: true, writable: false }).pipe(new PassThrough()) };
}

function blocking(libc: Libc, fd: number): void {
  try {
    const flags = libc.fcntl(fd, F_GETFL, 0);
    if (flags & O_NONBLOCK) libc.fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  } catch {
    // A closed std fd: the executor's own write will say so.
  }
}

function opError(ops: readonly OpInfo[], index: number, errno: number): AttachError {
  const op = index === OP_NONE ? undefined : ops[index];
  if (!op) {
    return new AttachError(ErrorCodes.EXECUTOR, `the executor rejected the program: ${errnoName(errno)}`, { errno });
  }
  const exec = op.phase === 'exec';
  return AttachError.fromErrno(exec ? ErrorCodes.EXEC_FAILED : ErrorCodes.OP_FAILED, {
    stage: op.stage, operation: op.operation, syscall: op.syscall, errno,
    exitCode: exec ? (errnoName(errno) === 'ENOENT' || errnoName(errno) === 'ENOTDIR' ? 127 : 126) : 1,
  });
}

function describeExit(exit: ProcessExit): string {
  return exit.signal !== null ? `killed by signal ${exit.signal}` : `exit status ${exit.code}`;
}
