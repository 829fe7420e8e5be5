import { writeSync } from 'node:fs';

/** How long to wait before retrying a write the pty refused as full. */
const RETRY_MS = 5;
/** Queued bytes above which the source is asked to pause. */
const HIGH_WATER = 64 * 1024;

/**
 * Writes the caller's keystrokes into the pty master, in order, without
 * blocking the event loop. The master is non-blocking; when the command does
 * not read its input the pty fills up (EAGAIN), the rest waits here and is
 * retried on a timer — meanwhile the loop keeps reading the command's output,
 * so a command blocked on output can never deadlock against us.
 * (libuv's own tty handle busy-loops on a non-blocking pty master instead.)
 */
export class MasterWriter {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private paused = false;

  /** `pressure(true)` asks the source to pause, `pressure(false)` to resume. */
  constructor(private readonly fd: number, private readonly pressure: (high: boolean) => void) {}

  write(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.queue.push(data);
    this.queued += data.length;
    if (!this.timer) this.flush();
    if (this.queued > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.pressure(true);
    }
  }

  /** Drop what is still queued: the command is gone. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private flush(): void {
    this.timer = undefined;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let n: number;
      try {
        n = writeSync(this.fd, head);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.timer = setTimeout(() => this.flush(), RETRY_MS);
          return;
        }
        this.close(); // EIO: nobody holds the slave any more; the input has no reader
        return;
      }
      this.queued -= n;
      if (n < head.length) this.queue[0] = head.subarray(n);
      else this.queue.shift();
    }
    if (this.paused) {
      this.paused = false;
      this.pressure(false);
    }
  }
}
