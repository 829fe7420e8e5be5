import { closeSync, openSync, readlinkSync } from 'node:fs';
import { Socket as PipeSocket } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { AttachError, coreCall, ErrorCodes, SyscallError } from '../errors.js';
import { F_GETFD, F_GETFL, F_SETFL, O_NONBLOCK, SIGKILL } from '../libc/constants.js';
import { describeErrno, errnoName } from '../libc/errno.js';
import type { Libc, ProcessExit } from '../libc/libc.js';
import { stageError } from '../pipeline/context.js';
import type { OpInfo } from '../program/args.js';
import { FIRST_PASSED_FD, type PreExecProgram, type SerializedProgram } from '../program/program.js';
import type { Phase } from '../program/phases.js';
import { EXECUTOR_IMAGE_NAME, executorImage, executorImagePath } from './image.js';
import { reaperFor } from './reaper.js';
import {
  MSG_ERROR, MSG_EXEC, MSG_PID, MSG_READY, OP_NONE, openChannels, readMessages, readReportedPid, SCM_MAX_FD, sendFd, sendFds,
} from './wire.js';

/** Phases whose ops run before the fork into the target: never reported on the attached process's pipe. */
const BEFORE_FORK: ReadonlySet<Phase> = new Set(['sync', 'harden', 'cgroups', 'namespaces']);

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
  /** Whether the program waits at a sync point (a stage has atSyncPoint work). */
  readonly sync: boolean;
  /** Parent-side work at the sync point (stages' atSyncPoint). A throw aborts the attach. */
  readonly atSync: (intermediate: IntermediateProcess) => Promise<void>;
  /**
   * Gives up the start: until the command has been exec'd, an abort kills
   * every process of the attach, reaps them, and fails with the reason (an
   * AttachError, or one made from it).
   */
  readonly signal?: AbortSignal;
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
  run(program: PreExecProgram, options: LaunchOptions): Promise<Launched>;
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
  const [image, ours, theirs] = coreCall(ErrorCodes.EXECUTOR, "preparing the executor's image and sync socket",
    () => [executorImage(libc), ...libc.socketpair()] as const);
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

/** A process of the attach we hold by pidfd until it is reaped. */
interface Held {
  readonly pid: number;
  readonly pidfd: number;
  /** Settles when reaped; never rejects (a failed wait reads as an unknown exit). */
  readonly exit: Promise<ProcessExit>;
  reaped: boolean;
}

function run(libc: Libc, pid: number, pidfd: number, ours: number, plan: PreExecProgram, options: LaunchOptions): Promise<Launched> {
  const channels = coreCall(ErrorCodes.EXECUTOR, "opening the attach's report page and pipes", () => openChannels(libc, plan.needsInbox));
  plan.setChannels(channels.theirs);
  let program: SerializedProgram;
  try {
    program = plan.serialize({ sync: options.sync });
  } catch (err) {
    channels.handedOver();
    for (const fd of [channels.page, channels.reportRead, channels.inboxOurs]) if (fd !== undefined) libc.close(fd);
    throw err;
  }
  // 'pipe' stdio: a pipe whose far end the executor (then the command) gets,
  // ours as a stream that lives as long as the command, not the executor.
  // A stage's std fd (a pty slave) replaces the caller's, which then never
  // reaches the executor.
  const pipes = options.stdio.map((opt, i) => (program.stdio[i] === undefined && opt === 'pipe' ? ownPipe(libc, i) : undefined));
  const devnull = options.stdio.some((opt, i) => program.stdio[i] === undefined && opt === 'ignore') ? openSync('/dev/null', 'r+') : undefined;
  const sources = options.stdio.map((opt, i) =>
    program.stdio[i] ?? pipes[i]?.childEnd ?? (opt === 'inherit' ? i : opt === 'ignore' ? devnull! : opt as number));
  const [stdin, stdout, stderr] = pipes.map((p) => p?.stream ?? null) as [Writable | null, Readable | null, Readable | null];
  // The command's stdio must block, as a terminal's or a pipe's normally
  // does; Node makes its own non-blocking, and the open file description is
  // shared. child_process (libuv) clears it for a child the same way.
  for (const fd of new Set(sources)) blocking(libc, fd);
  let handover: unknown;
  try {
    // An fd a stage passed that is not open would fail the whole hand-over
    // with a bare EBADF: name the stage instead.
    program.fds.forEach((fd, i) => {
      try {
        libc.fcntl(fd, F_GETFD, 0);
      } catch (err) {
        const stage = program.fdOwners[i] ?? 'core';
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: fd ${fd}, passed to the executor (passFd), is not open: ${describeErrno((err as SyscallError).errno)}`,
          { ...(stage === 'core' ? {} : { stage }), operation: `passFd(${fd})`, syscall: 'fcntl', errno: (err as SyscallError).errno, cause: err });
      }
    });
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
    channels.handedOver();
  }
  const reaper = reaperFor(libc);
  const hold = (child: number, fd: number): Held => {
    const held: Held = {
      pid: child, pidfd: fd, reaped: false,
      exit: reaper.wait(fd).catch((): ProcessExit => ({ code: null, signal: null })).finally(() => { held.reaped = true; }),
    };
    return held;
  };

  return new Promise<Launched>((resolve, reject) => {
    const sync = new PipeSocket({ fd: ours, readable: true, writable: true });
    const report = new PipeSocket({ fd: channels.reportRead, readable: true, writable: false });
    // The executor, then each intermediate it forks into a cgroup: all in
    // our pid namespace, never in the target's. The last of them forks the
    // attached process, whose pid the kernel stores in the report page.
    const intermediates: Held[] = [hold(pid, pidfd)];
    let attached: Held | undefined;
    let opFailure: { index: number; errno: number } | undefined;
    let failure: unknown = handover;
    let execReached = false;
    let syncClosed = false;
    let reportClosed = false;
    let settled = false;

    // Its report pipe closed without its exec: it has died, or (traced from
    // inside) goes on without us; either way it is not our command.
    const exitOrKill = async (held: Held) => {
      const exit = await Promise.race([held.exit, new Promise<undefined>((done) => setTimeout(() => done(undefined), 1000).unref())]);
      if (exit) return exit;
      kill(held);
      return held.exit;
    };
    const kill = (held: Held | undefined) => {
      if (!held || held.reaped) return;
      try { libc.pidfdSendSignal(held.pidfd, SIGKILL); } catch { /* already gone */ }
    };
    const abort = (err: unknown) => {
      if (settled) return;
      failure ??= err;
      intermediates.forEach(kill);
      kill(attached);
    };
    // A give-up concerns a command not yet started: one that has been exec'd
    // (its report still on its way to us) is left alone, and its caller
    // then has a running command (the CLI passes the signal on to it). Ready
    // input is read first; then /proc says whether the executor still runs
    // there, which no report from inside can fake.
    const onAbort = () => setImmediate(() => {
      if (settled) return;
      // The kernel stored the attached pid at the fork, before we may have reaped the intermediates.
      const pid = attached?.pid ?? readReportedPid(channels.page);
      if (pid > 0 && commandStarted(pid, execReached)) return;
      abort(abortReason(options.signal!.reason));
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const cleanup = () => {
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      sync.destroy();
      report.destroy();
      libc.close(channels.page);
      if (channels.inboxOurs !== undefined) libc.close(channels.inboxOurs);
    };

    // Every intermediate has exited: the page holds the attached pid, if
    // the fork into the target happened. Hold it by pidfd, prove it is our
    // own child, and hand it the fds it waits for.
    const intermediatesDone = async () => {
      for (const held of intermediates) {
        const exit = await held.exit;
        libc.close(held.pidfd);
        if (!failure && !opFailure && held !== intermediates[0] && exit.code !== 0) {
          failure = new AttachError(ErrorCodes.EXECUTOR, `an intermediate process ended (${describeExit(exit)}) before starting the command`);
        }
      }
      const child = readReportedPid(channels.page);
      if (child > 0) {
        try {
          attached = hold(child, ownChild(libc, child));
        } catch (err) {
          abort(err);
        }
        if (failure) abort(failure); // it must not go on
        else deliver();
      }
      finish();
    };

    const deliver = () => {
      for (const d of program.deliveries) {
        let fd: number;
        try {
          fd = d.open({ pid: attached!.pid, pidfd: attached!.pidfd });
        } catch (err) {
          abort(stageError(d.stage, d.operation, err));
          return;
        }
        try {
          sendFd(libc, channels.inboxOurs!, fd);
        } catch {
          // The attached process is gone: its exit tells why.
        } finally {
          libc.close(fd);
        }
      }
    };

    let intermediatesSettled = false;
    const finish = async () => {
      if (settled || !syncClosed || !reportClosed || !intermediatesSettled) return;
      settled = true;
      const error = failure
        ?? (opFailure ? opError(program.ops, opFailure.index, opFailure.errno)
        : !attached ? new AttachError(ErrorCodes.EXECUTOR, `the executor ended (${describeExit(intermediateExit!)}) before starting the command`)
        : !execReached ? diedBeforeExec(await exitOrKill(attached))
        : undefined);
      cleanup();
      if (!error && attached) {
        resolve({ pid: attached.pid, pidfd: attached.pidfd, exit: attached.exit, stdin, stdout, stderr });
        return;
      }
      if (attached) {
        // It failed or was killed before exec: reap it, drop its pidfd.
        kill(attached);
        await attached.exit;
        libc.close(attached.pidfd);
      }
      for (const stream of [stdin, stdout, stderr]) stream?.destroy();
      reject(error);
    };

    let intermediateExit: ProcessExit | undefined;
    void intermediates[0]!.exit.then((exit) => { intermediateExit = exit; });

    readMessages(sync, (type, index, value) => {
      if (type === MSG_READY) {
        options.atSync({ pid, isAlive: () => !intermediates[0]!.reaped }).then(
          () => { if (!failure) sync.write('g'); },
          (err) => abort(err),
        );
      } else if (type === MSG_PID) {
        // A cgroup fork: the child goes on as the intermediate, still in our
        // pid namespace. Accepted only from our own child (the socket never
        // reaches the target's pid namespace), and proven ours again here.
        try {
          intermediates.push(hold(value, ownChild(libc, value)));
        } catch (err) {
          abort(err);
        }
        if (failure) abort(failure);
      } else if (type === MSG_ERROR) {
        opFailure ??= { index, errno: value };
      } else {
        abort(new AttachError(ErrorCodes.EXECUTOR, `the executor sent an unknown message (${type})`));
      }
    });
    // The attached process's own reports: it can be traced by root inside
    // before its exec, so anything here may be forged; nothing here names a
    // process or is trusted beyond the failure it reports.
    readMessages(report, (type, index, value) => {
      if (type === MSG_ERROR) {
        // Only an op the attached process (or the fork) runs can fail here.
        const phase = program.ops[index]?.phase;
        if (index === OP_NONE || (phase !== undefined && !BEFORE_FORK.has(phase))) opFailure ??= { index, errno: value };
        else failure ??= new AttachError(ErrorCodes.EXECUTOR, `the attached process reported a failure of op ${index}, which it does not run: a forged report (is it traced from inside the container?)`);
      } else if (type === MSG_EXEC) {
        execReached = true;
      }
    });
    sync.on('error', () => { /* EPIPE when the executor dies early: its exit tells why */ });
    sync.on('close', () => { syncClosed = true; void finish(); });
    report.on('error', () => undefined);
    report.on('close', () => { reportClosed = true; void finish(); });
    // The intermediates are reaped once the last has forked (or failed):
    // wait for the executor, then for each child it reported.
    void (async () => {
      await intermediates[0]!.exit;
      // Reports of forks arrive before the socket closes; the last intermediate closes it.
      await new Promise<void>((done) => (syncClosed ? done() : sync.once('close', () => done())));
      await intermediatesDone();
      intermediatesSettled = true;
      void finish();
    })();
    if (failure) abort(failure);
    else if (options.signal?.aborted) onAbort();
    else sync.write(program.bytes);
  });
}

/**
 * Whether our unreaped child `pid` has exec'd its command: /proc shows its
 * exe is no longer the executor's memfd. Once it has exited, its report of
 * reaching exec says.
 */
function commandStarted(pid: number, execReached: boolean): boolean {
  try {
    return !readlinkSync(`/proc/${pid}/exe`).startsWith(`/memfd:${EXECUTOR_IMAGE_NAME}`);
  } catch {
    return execReached;
  }
}

/**
 * A pidfd on `pid`, proven to be our own unreaped child: only then can we be
 * sure it is the process we mean (a child's pid is not reused before we reap
 * it), and never signal a process of someone else's choosing.
 */
function ownChild(libc: Libc, pid: number): number {
  let fd: number;
  try {
    fd = libc.pidfdOpen(pid);
  } catch (err) {
    throw new AttachError(ErrorCodes.EXECUTOR, `cannot hold the process forked by the program (pid ${pid}): ${(err as Error).message}`, { cause: err });
  }
  try {
    libc.waitPidfd(fd, { peek: true });
    return fd;
  } catch (err) {
    libc.close(fd);
    throw new AttachError(ErrorCodes.EXECUTOR, `the executor reported pid ${pid}, which is not a process of this attach: refused`, { cause: err });
  }
}

/** The error an aborted start fails with: the reason itself when it is an AttachError. */
export function abortReason(reason: unknown): AttachError {
  if (reason instanceof AttachError) return reason;
  const detail = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new AttachError(ErrorCodes.ABORTED, `the attach was aborted before the command started: ${detail}`, { cause: reason });
}

function diedBeforeExec(exit: ProcessExit): AttachError {
  return new AttachError(ErrorCodes.EXECUTOR, `the attached process ended (${describeExit(exit)}) before it could exec the command`);
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
