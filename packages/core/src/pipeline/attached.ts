import { constants } from 'node:os';
import type { Duplex, Readable, Writable } from 'node:stream';
import { AttachError, ErrorCodes } from '../errors.js';
import type { Launched } from '../executor/launch.js';
import { reaperFor } from '../executor/reaper.js';
import type { Libc } from '../libc/libc.js';
import { contextKey, type ContextKey } from './context.js';

/** How the command ended, as a shell reports it. */
export interface AttachResult {
  /** The command's exit status; 128+N when signal N killed it. */
  readonly exitCode: number;
  /** The signal that killed it, if one did. */
  readonly signal: NodeJS.Signals | null;
}

/** The result and the whole piped output of a command: strings, or Buffers with `encoding: 'buffer'`. */
export interface AttachOutput<T extends string | Buffer = string> extends AttachResult {
  readonly stdout: T;
  readonly stderr: T;
}

/** How output() returns what the command printed. */
export interface OutputOptions {
  /** 'buffer': the bytes as Buffers; else decoded with this encoding (default 'utf8'), after the whole output was read. */
  readonly encoding?: BufferEncoding | 'buffer';
}

/**
 * The caller's side of a terminal a stage gave the command (the request's
 * `tty`): what the command writes is read from it, what is written to it is
 * the command's input, and it ends once the command has exited and its
 * output has been drained. destroy() hangs the terminal up.
 */
export interface AttachedTerminal extends Duplex {
  /** Set the window size (cols, rows: 1–65535); the command's foreground job gets SIGWINCH. A no-op once the terminal is closed. */
  resize(cols: number, rows: number): void;
}

/**
 * What a stage publishes (StageContext.publish) to give the caller the
 * command's terminal: called once, when the command has started, with its
 * AttachedProcess (whose exit ends the stream). It must not throw.
 */
export type OpenTerminal = (proc: AttachedProcess) => AttachedTerminal;
export const TERMINAL = contextKey<OpenTerminal>('terminal');

/** A command running inside the target. */
export class AttachedProcess {
  /** Its pid in the caller's pid namespace. */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The command's terminal, when the request asked for one (`tty`); else null. */
  readonly terminal: AttachedTerminal | null;
  /** Settles when the command has exited and been reaped. */
  readonly exited: Promise<AttachResult>;
  private done = false;
  private released = false;

  constructor(
    private readonly launched: Launched,
    private readonly libc: Libc,
    private readonly published: ReadonlyMap<string, unknown> = new Map(),
  ) {
    this.pid = launched.pid;
    this.stdin = launched.stdin;
    this.stdout = launched.stdout;
    this.stderr = launched.stderr;
    this.exited = launched.exit.then((exit) => {
      libc.close(launched.pidfd);
      if (this.released) return new Promise<AttachResult>(() => {});
      this.done = true;
      if (exit.signal !== null) return { exitCode: 128 + exit.signal, signal: signalName(exit.signal) };
      return { exitCode: exit.code ?? 0, signal: null };
    });
    const openTerminal = published.get(TERMINAL.name) as OpenTerminal | undefined;
    this.terminal = openTerminal ? openTerminal(this) : null;
  }

  /**
   * Set the window size of the command's terminal (`tty`): TIOCSWINSZ on
   * the master, and the kernel sends its foreground job SIGWINCH. Refused
   * (BAD_REQUEST) when the command has no terminal.
   */
  resize(cols: number, rows: number): void {
    if (!this.terminal) throw new AttachError(ErrorCodes.BAD_REQUEST, 'resize(): the command has no terminal (ask for one with tty: { cols, rows })');
    this.terminal.resize(cols, rows);
  }

  /** A value a stage published for the caller (StageContext.publish): the pty master, for one. */
  get<T>(key: ContextKey<T>): T | undefined {
    return this.published.get(key.name) as T | undefined;
  }

  /**
   * Wait for the command and read all of its piped stdout and stderr (empty
   * for what was not piped): UTF-8 strings by default, Buffers with
   * `{ encoding: 'buffer' }`, or strings in another encoding.
   */
  output(options?: { readonly encoding?: BufferEncoding }): Promise<AttachOutput>;
  output(options: { readonly encoding: 'buffer' }): Promise<AttachOutput<Buffer>>;
  output(options?: OutputOptions): Promise<AttachOutput<string | Buffer>>;
  async output(options: OutputOptions = {}): Promise<AttachOutput<string | Buffer>> {
    const encoding = options.encoding ?? 'utf8';
    if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw new TypeError(`output(): unknown encoding ${String(encoding)}`);
    const [out, err, result] = await Promise.all([readAll(this.stdout), readAll(this.stderr), this.exited]);
    const as = (b: Buffer) => (encoding === 'buffer' ? b : b.toString(encoding));
    return { ...result, stdout: as(out), stderr: as(err) };
  }

  /**
   * Let the command run on without waiting for it (attachkit -d): `exited`
   * never settles and kill() no longer reaches it. It is still reaped in the
   * background, without keeping this process alive: when it exits while
   * this process runs, it leaves no zombie (its pidfd is closed then); when
   * this process exits first, it is reparented, as any orphan.
   */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.released = true;
    reaperFor(this.libc).unref(this.launched.pidfd);
  }

  /** Send a signal through the pidfd: never reaches another process, even after the pid is reused. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.done) return false;
    const n = typeof signal === 'number' ? signal : constants.signals[signal];
    try {
      this.libc.pidfdSendSignal(this.launched.pidfd, n);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Send a signal to the command's process group: the command and every
   * process it started that stayed in its group (a shell's children, a
   * pipeline). The command runs in a session of its own, of which it is
   * the leader, so its process group id is its pid. Never reaches another
   * group, even after the pid is reused:
   *
   * - Linux 6.9 and later: pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP)
   *   signals the group whose id is the pidfd's *struct pid*, which the
   *   pidfd pins: a group made later by a process that got the same number
   *   has another struct pid, and a group that has vanished gives ESRCH.
   * - Before: kill(-pid), only while the leader is our child and not yet
   *   reaped (done is false). Its pid, hence the group id, cannot be reused
   *   while we hold its zombie; and no process outside the command's
   *   session can join its group (setpgid stays within a session). The
   *   reaper sets `done` (through `exited`'s promise chain) in the same
   *   turn of the event loop as its waitid: no signal handler runs between.
   *
   * Members that moved to another group (the jobs of a job-control shell)
   * are not reached: with a pty, hanging it up reaches them (docs/terminal.md).
   */
  killGroup(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.done) return false;
    const n = typeof signal === 'number' ? signal : constants.signals[signal];
    try {
      this.libc.syscall('pidfd_send_signal', [this.launched.pidfd, n, 0, PIDFD_SIGNAL_PROCESS_GROUP], `pidfd ${this.launched.pidfd}, ${n}, PIDFD_SIGNAL_PROCESS_GROUP`);
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno !== EINVAL) return false;
    }
    try {
      this.libc.syscall('kill', [-this.pid, n], `-${this.pid}, ${n}`);
      return true;
    } catch {
      return false;
    }
  }
}

/** pidfd_send_signal(2) flag (Linux 6.9): the process group whose id is the pidfd's pid. */
const PIDFD_SIGNAL_PROCESS_GROUP = 4;
const EINVAL = 22;

async function readAll(stream: Readable | null): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer);
  return Buffer.concat(chunks);
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}
