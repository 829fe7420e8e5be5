import { AttachError, ErrorCodes } from '../errors.js';
import {
  F_DUPFD_CLOEXEC, F_SETFD, O_CLOEXEC, KEYCTL_JOIN_SESSION_KEYRING, MADV_DONTFORK, MAP_SHARED, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL,
  PR_SET_DUMPABLE, PR_SET_PDEATHSIG, PROT_READ, PROT_WRITE, SIGKILL,
} from '../libc/constants.js';
import { syscallNumber, SyscallTable, type SyscallName } from '../libc/syscalls.js';
import { bytes, cstring, cstrings, imm, resultOf, type Arg, type OpHandle, type OpInfo, type ScratchBlock } from './args.js';
import { CORE_PHASES, INTERMEDIATE_PHASES, PHASES, type Phase } from './phases.js';

/**
 * The pre-exec program: what the child side must do, as data. Stages emit
 * operations into phases (phases.ts); the program serialises them in phase
 * order for the C executor (native/executor.c). The wire layout here and
 * there must agree: a 16-byte header (magic, op count, data length,
 * relocation count), 112-byte ops, 16-byte relocations, then a data blob.
 */

export const OpCode = { SYSCALL: 1, SYNC: 2, FORK: 3, CLOSE_FDS: 4, EXEC: 5, RECV_FD: 6 } as const;
const ArgKind = { IMM: 0, DATA: 1, RESULT: 2 } as const;
const F_OPTIONAL = 1;
const F_INTO_CGROUP = 2;
const F_INTO_TARGET = 4;
/** EXEC: execveat(args[5], "", AT_EMPTY_PATH) instead of a path search (ProgramEmitter.execFd). */
const F_EXEC_FD = 8;
/** The page the intermediate maps for the attached pid (the kernel stores it there at the fork). */
export const REPORT_PAGE_SIZE = 4096;
const MAGIC = 0x31584b41; // "AKX1"
const HEADER_SIZE = 16;
const OP_SIZE = 112;
const MAX_ARGS = 6;

/** The executor's fd layout once its fds have arrived: 0-2 stdio, passed fds from 3 (the sync socket is above them all). */
export const FIRST_PASSED_FD = 3;
/** The executor moves its sync socket to this fd or above (native/executor.c), so fds the command keeps fit below it. */
const SYNC_FD_FLOOR = 256;
/** The command's first kept fd (runc's --preserve-fds numbering): 0-2 are its stdio. */
const FIRST_KEPT_FD = 3;

interface PlannedOp extends OpHandle {
  readonly code: number;
  readonly nr: number;
  /** Not readonly for RECV_FD alone: its socket is known only once the launcher sets the channels. */
  args: readonly Arg[];
  readonly optional: boolean;
  /** FORK: the child is born in the cgroup2 directory args[0] (clone3 CLONE_INTO_CGROUP). */
  readonly intoCgroup?: boolean;
  /** FORK: the fork into the target (args: report pipe, pid address). */
  readonly intoTarget?: boolean;
  /** EXEC: the file is the fd in args[5] (execFd). */
  readonly fromFd?: boolean;
}

/** What to execute instead of the command's file (ProgramEmitter.execFd). */
export interface ExecFdOptions {
  /** What the fd holds, for errors: `the sealed copy of /usr/bin/ls`. */
  readonly operation: string;
  /** The argv to pass instead of the command's (a loader's options before the program), from the command's. */
  readonly argv?: (argv: readonly string[]) => readonly string[];
}

export interface PassFdOptions {
  /**
   * The attached process needs this fd itself (a pty slave, a file it writes).
   * By default a passed fd serves the intermediate only (a namespace fd, a
   * cgroup file) and is closed before the attached process is forked into the
   * target: no fd of the host exists in the target's pid namespace but those
   * the command needs, since root there may ptrace the attached process
   * before its exec (pidfd_getfd) when it holds CAP_SYS_PTRACE.
   */
  readonly attached?: boolean;
}

/**
 * An fd the attached process receives from the parent once it exists (its
 * pid known), in `phase`: what only the attached process itself may use and
 * only the parent may open, such as its own LSM attr file on the host's
 * procfs. `open` returns an fd the parent owns and closes afterwards.
 */
export interface FdDelivery {
  readonly stage: string;
  readonly operation: string;
  readonly open: (attached: { readonly pid: number; readonly pidfd: number }) => number;
}

export interface SyscallOptions {
  /** Human description with its target, used in errors. */
  readonly operation: string;
  /** Failure is tolerated: the result becomes -errno and the program goes on. */
  readonly optional?: boolean;
}

export interface ExecSpec {
  readonly file: string;
  readonly argv: readonly string[];
  /** `NAME=value` entries; PATH among them is used for the command search. */
  readonly env: readonly string[];
}

/** The view of the program a stage gets: everything it emits is stamped with its id. */
export interface ProgramEmitter {
  /** A raw syscall by name: the core's table (SyscallName) or one the stage declares in Stage.syscalls. */
  syscall(phase: Phase, name: SyscallName | (string & {}), args: readonly Arg[], options: SyscallOptions): OpHandle;
  /**
   * Hand a parent fd to the executor; returns its number there. The parent
   * keeps its own copy. It is the intermediate's only (closed before the fork
   * into the target) unless `attached` says the attached process needs it.
   */
  passFd(fd: number, options?: PassFdOptions): number;
  /**
   * The command's std fd `n` is the parent's `fd` instead of the caller's
   * (a pty slave): the caller's own never reaches the executor.
   */
  setStdio(n: 0 | 1 | 2, fd: number): void;
  /**
   * Receive, in `phase` of the attached process, an fd that the parent opens
   * with `open` once that process exists. The result of the returned op is the fd.
   */
  receiveFd(phase: Phase, operation: string, open: FdDelivery['open']): OpHandle;
  /**
   * Hand a parent fd to the command itself: it is fd 3, 4, … (in call order)
   * when the command starts, and the fd sweep spares it. Returns that number.
   */
  keepFd(fd: number): number;
  /**
   * Go on in a child born in the cgroup2 directory `dirFd` (a parent fd,
   * passed for you): clone3(CLONE_PARENT | CLONE_INTO_CGROUP) in the
   * `cgroups` phase, the intermediate reports the child and exits, as at the
   * core's own fork. Being born there takes none of the global lock that
   * moving a process by pid does (cgroup.procs: an RCU grace period).
   */
  forkIntoCgroup(dirFd: number, operation: string): OpHandle;
  /** Set what to execute. Exactly one stage does this (core's `exec`). */
  exec(spec: ExecSpec): void;
  /**
   * Execute the executable open at the parent's `fd` (a sealed memfd copy of
   * a host program) with execveat(fd, "", AT_EMPTY_PATH), instead of looking
   * the command's file up inside; argv and environment stay the exec's. The
   * fd crosses into the attached process only, close-on-exec: the command
   * never holds it. At most one stage does this.
   */
  execFd(fd: number, options: ExecFdOptions): void;
}

export interface SerializedProgram {
  readonly bytes: Buffer;
  /** ops[i] describes the op the executor reports as index i. */
  readonly ops: readonly OpInfo[];
  /** Parent fds to place at FIRST_PASSED_FD + i in the executor. */
  readonly fds: readonly number[];
  /** The stage that passed fds[i] first (`core` for the core's own), for errors. */
  readonly fdOwners: readonly string[];
  /** Parent fds that replace the caller's std fds (setStdio). */
  readonly stdio: readonly (number | undefined)[];
  /** What the parent sends on the inbox once the attached process exists, in order. */
  readonly deliveries: readonly FdDelivery[];
  /** Whether the fork into the target reports through the channels (setChannels): the only way the launcher runs. */
  readonly reported: boolean;
}

/** The parent's ends of the attach's channels, as the program hands them to the executor (setChannels). */
export interface ProgramChannels {
  /** A memfd of REPORT_PAGE_SIZE bytes: the intermediate maps it, the kernel stores the attached pid in it. */
  readonly page: number;
  /** The write end of the pipe on which the attached process reports (closed at its exec). */
  readonly report: number;
  /** A socket end on which the attached process receives fds (receiveFd), when any. */
  readonly inbox?: number;
}

export class PreExecProgram {
  private readonly planned: PlannedOp[] = [];
  private readonly fds: number[] = [];
  private readonly fdOwners: string[] = [];
  /** Executor fds the attached process needs (PassFdOptions.attached); the rest are closed before the fork into the target. */
  private readonly attachedFds = new Set<number>();
  private readonly stdio: Array<number | undefined> = [undefined, undefined, undefined];
  private readonly deliveries: Array<FdDelivery & { handle: PlannedOp }> = [];
  private channels: { page: number; report: number; inbox?: number } | undefined;
  /** Executor fds of the fds the command keeps, in order: they become 3, 4, … */
  private readonly kept: Array<{ fd: number; from: number }> = [];
  private lifeline: number | undefined;
  private execOp: PlannedOp | undefined;
  private execFrom: { stage: string; fd: number; options: ExecFdOptions } | undefined;
  private execArgv: readonly string[] = [];
  private seq = 0;

  /** `syscalls`: the names its stages may emit (the pipeline's table; the core's alone by default). */
  constructor(private readonly syscalls: SyscallTable = new SyscallTable()) {}

  emitter(stage: string): ProgramEmitter {
    return {
      syscall: (phase, name, args, options) => this.addSyscall(stage, phase, name, args, options),
      passFd: (fd, options) => this.passFd(fd, options, stage),
      setStdio: (n, fd) => this.setStdio(stage, n, fd),
      receiveFd: (phase, operation, open) => this.addReceiveFd(stage, phase, operation, open),
      keepFd: (fd) => this.keepFd(stage, fd),
      forkIntoCgroup: (dirFd, operation) => this.addForkIntoCgroup(stage, dirFd, operation),
      exec: (spec) => this.setExec(stage, spec),
      execFd: (fd, options) => this.setExecFd(stage, fd, options),
    };
  }

  /**
   * The write end of a pipe whose only reader is the parent: the attached
   * process writes a byte to it after arming PR_SET_PDEATHSIG and again
   * just before exec, and dies of EPIPE/SIGPIPE if the parent is gone, so an
   * attach whose parent was killed never starts the command. (The pipeline
   * sets it; docs/architecture.md, "When attachkit is killed".)
   */
  setLifeline(parentFd: number): void {
    this.lifeline = this.passFd(parentFd, { attached: true });
  }

  /** Whether a stage asked for an fd delivered to the attached process (the launcher then makes an inbox). */
  get needsInbox(): boolean {
    return this.deliveries.length > 0;
  }

  /** Hand the executor the attach's channels (the launcher makes them): see ProgramChannels. */
  setChannels(channels: ProgramChannels): void {
    this.channels = {
      page: this.passFd(channels.page),
      report: this.passFd(channels.report, { attached: true }),
      ...(channels.inbox === undefined ? {} : { inbox: this.passFd(channels.inbox, { attached: true }) }),
    };
  }

  passFd(fd: number, options: PassFdOptions = {}, stage = 'core'): number {
    if (!Number.isSafeInteger(fd) || fd < 0) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: passFd(${fd}): not an fd`, { stage: stage === 'core' ? undefined : stage });
    }
    let i = this.fds.indexOf(fd);
    if (i < 0) {
      i = this.fds.push(fd) - 1;
      this.fdOwners.push(stage);
    }
    if (options.attached) this.attachedFds.add(FIRST_PASSED_FD + i);
    return FIRST_PASSED_FD + i;
  }

  private setStdio(stage: string, n: 0 | 1 | 2, fd: number): void {
    if (![0, 1, 2].includes(n) || !Number.isSafeInteger(fd) || fd < 0) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: setStdio(${n}, ${fd}) names no std fd or no fd`, { stage });
    }
    this.stdio[n] = fd;
  }

  private addReceiveFd(stage: string, phase: Phase, operation: string, open: FdDelivery['open']): OpHandle {
    if (CORE_PHASES.has(phase) || INTERMEDIATE_PHASES.has(phase) || !PHASES.includes(phase)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: an fd can be received only in a phase of the attached process, not '${phase}'`, { stage });
    }
    const handle: PlannedOp = {
      seq: this.seq++, stage, phase, syscall: 'recvmsg', operation: `receive ${operation} from attachkit`,
      code: OpCode.RECV_FD, nr: 0, args: [], optional: false,
    };
    this.deliveries.push({ stage, operation, open, handle });
    this.planned.push(handle);
    return handle;
  }

  private keepFd(stage: string, fd: number): number {
    if (FIRST_KEPT_FD + this.kept.length + 1 > SYNC_FD_FLOOR) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: the command can keep at most ${SYNC_FD_FLOOR - FIRST_KEPT_FD} fds`, { stage });
    }
    this.kept.push({ fd: this.passFd(fd, { attached: true }, stage), from: fd });
    return FIRST_KEPT_FD + this.kept.length - 1;
  }

  private addSyscall(stage: string, phase: Phase, name: string, args: readonly Arg[], options: SyscallOptions): OpHandle {
    if (CORE_PHASES.has(phase)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: cannot emit ${name} into phase '${phase}', which the core fills`, { stage });
    }
    if (!PHASES.includes(phase)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: unknown phase '${phase}' (phases: ${PHASES.join(', ')})`, { stage });
    }
    const refuse = (why: string) => new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: ${why}`, { stage });
    const nr = this.syscalls.lookup(name);
    if (typeof nr !== 'number') throw refuse(nr.refused);
    if (args.length > MAX_ARGS) throw refuse(`${name} takes at most ${MAX_ARGS} arguments`);
    args.forEach((arg, k) => {
      if (arg.kind === 'imm' && !isWord(arg.value)) throw refuse(`argument ${k} of ${name} is not a 64-bit integer: ${String(arg.value)}`);
    });
    const op: PlannedOp = {
      seq: this.seq++, stage, phase, syscall: name, operation: options.operation,
      code: OpCode.SYSCALL, nr, args, optional: options.optional ?? false,
    };
    this.planned.push(op);
    return op;
  }

  private addForkIntoCgroup(stage: string, dirFd: number, operation: string): OpHandle {
    const op: PlannedOp = {
      seq: this.seq++, stage, phase: 'cgroups', syscall: 'clone3', operation,
      code: OpCode.FORK, nr: 0, args: [imm(this.passFd(dirFd))], optional: false, intoCgroup: true,
    };
    this.planned.push(op);
    return op;
  }

  private setExec(stage: string, spec: ExecSpec): void {
    if (this.execOp) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: the command to execute was already set by stage '${this.execOp.stage}'`, { stage });
    }
    if (spec.argv.length === 0) throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: empty command`, { stage });
    this.execArgv = [...spec.argv];
    this.execOp = {
      seq: this.seq++, stage, phase: 'exec', syscall: 'execve',
      operation: spec.file.includes('/') ? `execve("${spec.file}")` : `execvp("${spec.file}") searching ${searchPath(spec.env)}`,
      code: OpCode.EXEC, nr: 0, optional: false,
      args: [cstring(spec.file), cstrings(spec.argv, 'argument'), imm(spec.argv.length), cstrings(spec.env, 'environment entry'), imm(spec.env.length)],
    };
  }

  private setExecFd(stage: string, fd: number, options: ExecFdOptions): void {
    if (this.execFrom) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: the executable was already given by stage '${this.execFrom.stage}'`, { stage });
    }
    this.execFrom = { stage, fd: this.passFd(fd, { attached: true }, stage), options };
  }

  /**
   * Lay the ops out in phase order, with the core's own ops, and encode them.
   * `sync: false` leaves out the sync point, when no stage has work there:
   * the executor goes on without a round trip to the parent.
   */
  serialize({ sync = true }: { readonly sync?: boolean } = {}): SerializedProgram {
    if (!this.execOp) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, 'no stage set the command to execute (is the exec stage missing?)');
    }
    // The core's own ops: the invariants no composition of stages can drop.
    // They run first in their phase.
    const core = (phase: Phase, code: number, syscall: string, operation: string, args: Arg[] = [], optional = false): PlannedOp =>
      ({ seq: -1, stage: 'executor', phase, syscall, operation, code, nr: 0, args, optional });
    const sys = (phase: Phase, name: SyscallName, operation: string, args: Arg[], optional = false): PlannedOp =>
      ({ ...core(phase, OpCode.SYSCALL, name, operation, args, optional), nr: syscallNumber(name) });
    // The parent is alive while the attached process can write to a pipe only it reads (setLifeline).
    const parentAlive = (phase: Phase, why: string): PlannedOp[] => (this.lifeline === undefined ? [] : [
      sys(phase, 'write', `write(lifeline) ${why}: attachkit is still there`, [imm(this.lifeline), bytes(new Uint8Array(1)), imm(1)]),
    ]);
    // The kept fds: first lifted above 3..3+n-1 (F_DUPFD picks a free fd,
    // never one in use), then placed, since an executor fd of one of them
    // may itself lie in that range.
    // An executable fd (execFd) waits just above the kept fds, close-on-exec,
    // and the sweep starts above it: lifted first like them, then placed.
    const { execFrom } = this;
    const execAt = FIRST_KEPT_FD + this.kept.length;
    const firstSwept = execAt + (execFrom ? 1 : 0);
    const liftedExec = execFrom ? [sys('close-fds', 'fcntl', `fcntl(fd ${execFrom.fd}: ${execFrom.options.operation}, F_DUPFD_CLOEXEC, ${firstSwept})`,
      [imm(execFrom.fd), imm(F_DUPFD_CLOEXEC), imm(firstSwept)])] : [];
    const placedExec = liftedExec.map((op) =>
      sys('close-fds', 'dup3', `dup3(${execFrom!.options.operation}, ${execAt}, O_CLOEXEC)`, [resultOf(op), imm(execAt), imm(O_CLOEXEC)]));
    const lifted = this.kept.map(({ fd, from }) =>
      sys('close-fds', 'fcntl', `fcntl(fd ${from} kept, F_DUPFD_CLOEXEC, ${firstSwept})`, [imm(fd), imm(F_DUPFD_CLOEXEC), imm(firstSwept)]));
    const placed = lifted.map((op, i) =>
      sys('close-fds', 'dup3', `dup3(fd ${this.kept[i]!.from} kept, ${FIRST_KEPT_FD + i})`, [resultOf(op), imm(FIRST_KEPT_FD + i), imm(0)]));
    // The fork into the target: the intermediate maps the page the kernel
    // stores the attached pid in (and that the attached process does not
    // inherit: MADV_DONTFORK), closes every fd only it needed, and forks with
    // the sync socket closed. Without channels (a program not run by the
    // launcher: tests, the start-up snapshot) the fork reports on the socket.
    const { channels } = this;
    const intoTarget: PlannedOp[] = [];
    if (channels) {
      const page = sys('fork', 'mmap', 'mmap(the report page)',
        [imm(0), imm(REPORT_PAGE_SIZE), imm(PROT_READ | PROT_WRITE), imm(MAP_SHARED), imm(channels.page), imm(0)]);
      intoTarget.push(page,
        sys('fork', 'madvise', 'madvise(the report page, MADV_DONTFORK)', [resultOf(page), imm(REPORT_PAGE_SIZE), imm(MADV_DONTFORK)]),
        ...this.fds.map((_, i) => FIRST_PASSED_FD + i).filter((fd) => !this.attachedFds.has(fd))
          .map((fd) => sys('fork', 'close', `close(fd ${fd}): the intermediate's only`, [imm(fd)])),
        { ...core('fork', OpCode.FORK, 'clone3', 'clone3(CLONE_PARENT) of the attached process into the target', [imm(channels.report), resultOf(page)]), intoTarget: true });
    } else {
      intoTarget.push(core('fork', OpCode.FORK, 'clone', 'clone(CLONE_PARENT) of the attached process'));
    }
    if (this.deliveries.length && channels?.inbox === undefined) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `stage '${this.deliveries[0]!.stage}' receives an fd, but the program has no inbox (setChannels)`);
    }
    for (const d of this.deliveries) d.handle.args = [imm(channels!.inbox!)];
    const all: PlannedOp[] = [
      ...(sync ? [core('sync', OpCode.SYNC, 'read', 'wait for the parent at the sync point')] : []),
      // Non-dumpable before entering any namespace: nothing inside may ptrace
      // or read /proc/<pid>/mem of the executor (runc CVE-2016-9962).
      sys('harden', 'prctl', 'prctl(PR_SET_DUMPABLE, 0)', [imm(PR_SET_DUMPABLE), imm(0)]),
      // No ambient capabilities ever cross into the container (CVE-2022-29162).
      // Optional: kernels before 4.3 have no ambient set at all.
      sys('harden', 'prctl', 'prctl(PR_CAP_AMBIENT_CLEAR_ALL)', [imm(PR_CAP_AMBIENT), imm(PR_CAP_AMBIENT_CLEAR_ALL), imm(0), imm(0), imm(0)], true),
      // A fresh, anonymous session keyring before entering anything: the
      // caller's session keyring (and the keys in it) never crosses
      // (keyrings(7); runc does the same for every container process).
      sys('harden', 'keyctl', 'keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)', [imm(KEYCTL_JOIN_SESSION_KEYRING), imm(0)]),
      ...intoTarget,
      // In the attached process: until it execs, it dies with the parent
      // (PR_SET_PDEATHSIG); the write proves the parent did not die before
      // the signal was armed. (The kernel disarms it at an id switch: the
      // second write, just before exec, covers the rest.)
      ...(this.lifeline === undefined ? [] : [
        sys('fork', 'prctl', 'prctl(PR_SET_PDEATHSIG, SIGKILL)', [imm(PR_SET_PDEATHSIG), imm(SIGKILL)]),
        ...parentAlive('fork', 'after the fork'),
      ]),
      // A new session: the caller's terminal is never our controlling terminal,
      // so TIOCSTI from inside cannot type into it (CVE-2016-10124).
      sys('session', 'setsid', 'setsid()', []),
      // Node marks its stdio close-on-exec; the command must keep 0, 1, 2.
      ...[0, 1, 2].map((fd) => sys('stdio', 'fcntl', `fcntl(${fd}, F_SETFD, 0)`, [imm(fd), imm(F_SETFD), imm(0)])),
      ...this.planned,
      // Last check that the parent lives; then the command's life is its own
      // (it may outlive attachkit, as lxc-attach's does).
      ...(this.lifeline === undefined ? [] : [
        ...parentAlive('close-fds', 'before exec'),
        sys('close-fds', 'prctl', 'prctl(PR_SET_PDEATHSIG, 0)', [imm(PR_SET_PDEATHSIG), imm(0)]),
      ]),
      ...liftedExec,
      ...lifted,
      ...placed,
      ...placedExec,
      core('close-fds', OpCode.CLOSE_FDS, 'close_range', `close_range(${firstSwept}, ~0)`, [imm(firstSwept)]),
      execFrom ? execFromFdOp(this.execOp, execFrom, execAt, this.execArgv) : this.execOp,
    ];
    const rank = (p: Phase) => PHASES.indexOf(p);
    const ordered = all.map((op, i) => ({ op, i }))
      .sort((a, b) => rank(a.op.phase) - rank(b.op.phase) || a.i - b.i)
      .map(({ op }) => op);
    const index = new Map<OpHandle, number>(ordered.map((op, i) => [op, i]));

    const data: Buffer[] = [];
    /** [where in data, what in data]: the executor stores the address of the second at the first. */
    const relocations: Array<[number, number]> = [];
    let dataLen = 0;
    const addData = (b: Uint8Array): number => {
      const off = dataLen;
      const padded = (b.length + 7) & ~7; // 8-aligned: some syscalls take structs
      const chunk = Buffer.alloc(padded);
      chunk.set(b);
      data.push(chunk);
      dataLen += padded;
      return off;
    };

    // A scratch block is laid out once, where it is first used; the executor
    // sees the same bytes from every op that points into it.
    const blocks = new Map<ScratchBlock, number>();
    const blockAt = (block: ScratchBlock): number => {
      let off = blocks.get(block);
      if (off === undefined) blocks.set(block, (off = addData(new Uint8Array(block.size))));
      return off;
    };

    const opsBuf = Buffer.alloc(OP_SIZE * ordered.length);
    ordered.forEach((op, i) => {
      const base = i * OP_SIZE;
      opsBuf.writeUInt32LE(op.code, base);
      opsBuf.writeUInt32LE((op.optional ? F_OPTIONAL : 0) | (op.intoCgroup ? F_INTO_CGROUP : 0) | (op.intoTarget ? F_INTO_TARGET : 0)
        | (op.fromFd ? F_EXEC_FD : 0), base + 4);
      opsBuf.writeBigInt64LE(BigInt(op.nr), base + 8);
      op.args.forEach((arg, k) => {
        const at = base + 16 + k * 16;
        if (arg.kind === 'imm') {
          opsBuf.writeUInt32LE(ArgKind.IMM, at);
          opsBuf.writeBigInt64LE(BigInt.asIntN(64, BigInt(arg.value)), at + 8);
        } else if (arg.kind === 'data') {
          opsBuf.writeUInt32LE(ArgKind.DATA, at);
          const off = addData(arg.bytes);
          for (const p of arg.pointers ?? []) relocations.push([off + p.at, addData(p.to)]);
          opsBuf.writeBigInt64LE(BigInt(off), at + 8);
        } else if (arg.kind === 'scratch') {
          // Same wire kind as data: the executor only adds the offset to its data's address.
          opsBuf.writeUInt32LE(ArgKind.DATA, at);
          opsBuf.writeBigInt64LE(BigInt(blockAt(arg.block) + arg.offset), at + 8);
        } else {
          const ref = index.get(arg.op as PlannedOp);
          if (ref === undefined || ref >= i) {
            throw new AttachError(ErrorCodes.BAD_REQUEST,
              `${op.stage}: ${op.operation} uses the result of '${arg.op.operation}', which does not run before it`, { stage: op.stage });
          }
          opsBuf.writeUInt32LE(ArgKind.RESULT, at);
          opsBuf.writeBigInt64LE(BigInt(ref), at + 8);
        }
      });
    });

    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(ordered.length, 4);
    header.writeUInt32LE(dataLen, 8);
    header.writeUInt32LE(relocations.length, 12);
    const relocBuf = Buffer.alloc(16 * relocations.length);
    relocations.forEach(([at, to], i) => {
      relocBuf.writeBigUInt64LE(BigInt(at), 16 * i);
      relocBuf.writeBigUInt64LE(BigInt(to), 16 * i + 8);
    });
    const ops: OpInfo[] = ordered.map(({ stage, phase, syscall, operation }) => ({ stage, phase, syscall, operation }));
    return {
      bytes: Buffer.concat([header, opsBuf, relocBuf, ...data]), ops, fds: [...this.fds], fdOwners: [...this.fdOwners], stdio: [...this.stdio],
      // In the order the attached process receives them.
      deliveries: [...this.deliveries].sort((a, b) => index.get(a.handle)! - index.get(b.handle)!)
        .map(({ stage, operation, open }) => ({ stage, operation, open })),
      reported: channels !== undefined,
    };
  }
}

/** The exec op run from an fd: argv as the stage rewrites it, the fd as args[5]. */
function execFromFdOp(op: PlannedOp, from: { stage: string; options: ExecFdOptions }, at: number, argv: readonly string[]): PlannedOp {
  const given = from.options.argv ? from.options.argv(argv) : argv;
  if (given.length === 0) throw new AttachError(ErrorCodes.BAD_REQUEST, `${from.stage}: empty argv for the executable`, { stage: from.stage });
  const [file, , , env, envc] = op.args;
  return {
    ...op, stage: from.stage, syscall: 'execveat', operation: `execveat(${from.options.operation}, AT_EMPTY_PATH)`, fromFd: true,
    args: [file!, cstrings(given, 'argument'), imm(given.length), env!, envc!, imm(at)],
  };
}

/** A value the executor can take as a 64-bit argument: signed, or unsigned as the kernel reads (uid_t)-1. */
function isWord(value: number | bigint): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'bigint' && value >= -(1n << 63n) && value < (1n << 64n);
}


/** What the executor's PATH search walks (exec_path in native/executor.c): the command's PATH, else the default; named in an exec error. */
function searchPath(env: readonly string[]): string {
  const path = env.findLast((e) => e.startsWith('PATH='));
  return path === undefined ? 'the default PATH (no PATH in the command\'s environment)' : `the command's ${path}`;
}
