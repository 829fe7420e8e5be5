import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Launched } from '../executor/launch.js';
import { reaperFor } from '../executor/reaper.js';
import type { Libc } from '../libc/libc.js';
import type { ContextKey } from './context.js';

/** How the command ended, as a shell reports it. */
export interface AttachResult {
  /** The command's exit status; 128+N when signal N killed it. */
  readonly exitCode: number;
  /** The signal that killed it, if one did. */
  readonly signal: NodeJS.Signals | null;
}

/** The result and the whole piped output of a command. */
export interface AttachOutput extends AttachResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** A command running inside the target. */
export class AttachedProcess {
  /** Its pid in the caller's pid namespace. */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Settles when the command has exited and been reaped. */
  readonly exited: Promise<AttachResult>;
  private done = false;

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
      if (this.done) return new Promise<AttachResult>(() => {}); // released
      this.done = true;
      libc.close(launched.pidfd);
      if (exit.signal !== null) return { exitCode: 128 + exit.signal, signal: signalName(exit.signal) };
      return { exitCode: exit.code ?? 0, signal: null };
    });
  }

  /** A value a stage published for the caller (StageContext.publish): the pty master, for one. */
  get<T>(key: ContextKey<T>): T | undefined {
    return this.published.get(key.name) as T | undefined;
  }

  /** Wait for the command and read all of its piped stdout and stderr (empty for what was not piped). */
  async output(): Promise<AttachOutput> {
    const [stdout, stderr, result] = await Promise.all([readAll(this.stdout), readAll(this.stderr), this.exited]);
    return { ...result, stdout, stderr };
  }

  /**
   * Let the command run on without waiting for it (attachkit -d): its pidfd
   * is closed and `exited` never settles. It stays this process's child
   * until this process exits; then it is reparented, as any orphan.
   */
  release(): void {
    if (this.done) return;
    this.done = true;
    reaperFor(this.libc).forget(this.launched.pidfd);
    this.libc.close(this.launched.pidfd);
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

async function readAll(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  let out = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) out += chunk as string;
  return out;
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}
