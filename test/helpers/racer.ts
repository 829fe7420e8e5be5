/** One fd the racer (test/security/racer.c) took from a process of the container. */
export interface Stolen {
  readonly pid: number;
  readonly fd: number;
  /** st_dev, major:minor. */
  readonly dev: string;
  /** Its /proc/self/fd link, as the racer sees it. */
  readonly what: string;
  /** For a directory: the inode that climbing ../../.. from it reached. */
  readonly top?: number;
  readonly line: string;
}

export interface RacerReport {
  readonly caught: number;
  readonly stolen: readonly Stolen[];
  /** The pids still attachkit's executor once robbed: all they held was taken before the exec. */
  readonly beforeExec: ReadonlySet<number>;
}

export function parseRacer(out: string): RacerReport {
  const lines = out.split('\n').map((l) => l.split(' '));
  const tops = new Map(lines.filter(([k]) => k === 'climbed').map(([, pid, fd, ino]) => [`${pid} ${fd}`, Number(ino)]));
  return {
    caught: lines.filter(([k]) => k === 'caught').length,
    stolen: lines.filter(([k]) => k === 'stolen').map((l) => {
      const [, pid, fd, dev, ...what] = l;
      return { pid: Number(pid), fd: Number(fd), dev: dev!, what: what.join(' '), top: tops.get(`${pid} ${fd}`), line: l.join(' ') };
    }),
    beforeExec: new Set(lines.filter(([k, , exe]) => k === 'exe' && exe?.includes('attachkit-executor')).map(([, pid]) => Number(pid))),
  };
}

/**
 * The stolen fds beyond `allowed` (0-2, the caller's redirections, are the
 * command's own). A directory is allowed when climbing from it ends at the
 * container's root (`rootIno`, its rootfs's inode): the attached process's
 * own root and working directory, opened inside, lead nowhere the racer was
 * not already. Any other directory is one of the host.
 */
export function beyond(stolen: readonly Stolen[], allowed: RegExp, rootIno: number): string[] {
  return stolen.filter((s) => s.fd > 2 && (s.top === undefined ? !allowed.test(s.what) : s.top !== rootIno)).map((s) => s.line);
}
