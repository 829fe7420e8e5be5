import type { Libc, ProcessExit } from '../libc/libc.js';

/**
 * Waits for attached processes without blocking the event loop.
 *
 * The attached process is our child (the executor forks it with
 * CLONE_PARENT) but libuv does not know it, so libuv will never reap it. We
 * listen for SIGCHLD (libuv allows many watchers per signal) and reap with
 * waitid(P_PIDFD, WNOHANG): race-free, and a pid cannot be reused while we
 * hold its zombie. A slow timer keeps the loop alive while anyone waits and
 * doubles as a safety net should a SIGCHLD be coalesced away. The SIGCHLD
 * listener stays once added: a signal listener does not keep Node alive,
 * and adding and removing it costs a few syscalls each time an attach's
 * processes have all been reaped.
 */
export class ChildReaper {
  private readonly waiters = new Map<number, { resolve: (e: ProcessExit) => void; reject: (e: unknown) => void; ref: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private listening = false;
  private readonly onSigchld = (): void => this.poll();

  constructor(private readonly libc: Libc) {}

  /** Resolves when the child behind `pidfd` has exited, and reaps it. */
  wait(pidfd: number): Promise<ProcessExit> {
    return new Promise((resolve, reject) => {
      this.waiters.set(pidfd, { resolve, reject, ref: true });
      if (!this.listening) {
        process.on('SIGCHLD', this.onSigchld);
        this.listening = true;
      }
      this.timer ??= setInterval(() => this.poll(), 1000);
      this.timer.ref();
      this.poll();
    });
  }

  /** Stop waiting for the child behind `pidfd`; its wait() never settles. */
  forget(pidfd: number): void {
    if (this.waiters.has(pidfd)) this.settle(pidfd);
  }

  /**
   * Keep reaping the child behind `pidfd`, but no longer keep Node alive for
   * it (a released command): its wait() still settles when it exits, should
   * this process still run, so that it leaves no zombie.
   */
  unref(pidfd: number): void {
    const waiter = this.waiters.get(pidfd);
    if (!waiter) return;
    waiter.ref = false;
    this.refTimer();
  }

  private refTimer(): void {
    if (!this.timer) return;
    if ([...this.waiters.values()].some((w) => w.ref)) this.timer.ref();
    else this.timer.unref();
  }

  private poll(): void {
    for (const [pidfd, waiter] of this.waiters) {
      let exit: ProcessExit | undefined;
      try {
        exit = this.libc.waitPidfd(pidfd);
      } catch (err) {
        this.settle(pidfd);
        waiter.reject(err);
        continue;
      }
      if (exit) {
        this.settle(pidfd);
        waiter.resolve(exit);
      }
    }
  }

  private settle(pidfd: number): void {
    this.waiters.delete(pidfd);
    if (this.waiters.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    } else {
      this.refTimer();
    }
  }
}

const reapers = new WeakMap<Libc, ChildReaper>();
export function reaperFor(libc: Libc): ChildReaper {
  let r = reapers.get(libc);
  if (!r) reapers.set(libc, (r = new ChildReaper(libc)));
  return r;
}
