import { readFileSync, readlinkSync, statfsSync, statSync } from 'node:fs';
import { AttachError, CONTAINER_CONFIG, CONTAINER_MODEL, ErrorCodes, SyscallError, describeErrno, type ResolvedTarget, type StageContext } from '@attachkit/core';
import { LxcConfig, LxcConfigError, readLxcConfig } from './config.js';
import { lxcModel } from './model.js';
import { CGROUP2_SUPER_MAGIC, LXC_CONTAINER, type LxcCgroupLayout, type LxcCgroups, type LxcContainer } from './container.js';
import { LxcCommandError, LxcMonitor, MONITOR_TIMEOUT_MS, type SentCommand } from './monitor.js';

/** LXC's lxcpath for root when none is given (`lxc-config lxc.lxcpath`). */
export const DEFAULT_LXCPATH = '/var/lib/lxc';

export interface ContainerTarget {
  readonly name: string;
  readonly lxcpath?: string;
  readonly rcfile?: string;
}

const ECONNREFUSED = 111;
const ENOENT = 2;
const ENOTDIR = 20;
/** States in which the container has an init to attach to: FROZEN would hang the attach, the others have no init yet or any more. */
const ATTACHABLE = new Set(['RUNNING', 'THAWED']);
const LAYOUTS: Record<number, LxcCgroupLayout> = { 0: 'legacy', 1: 'hybrid', 2: 'unified' };

/** `c1` is a name; `..`, `a/b`, `` are paths, and would reach outside the lxcpath. */
export function checkContainerName(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `'${name}' is not a container name`;
  if (name.includes('/')) return `'${name}' contains '/'`;
  if (name.includes('\0')) return 'the name contains a NUL byte';
  return undefined;
}

/**
 * Resolve a container by name, as lxc-attach does: load its config (or the
 * -f rcfile, which replaces it), ask its monitor for the init as a pidfd.
 * Publishes CONTAINER_CONFIG, LXC_CONTAINER and the container's CONTAINER_MODEL.
 */
export function resolveContainer(ctx: StageContext, target: ContainerTarget, timeoutMs = MONITOR_TIMEOUT_MS): ResolvedTarget {
  const { name, lxcpath = DEFAULT_LXCPATH, rcfile } = target;
  const fail = (message: string, details: { errno?: number; syscall?: string; operation?: string; cause?: unknown } = {}) =>
    new AttachError(ErrorCodes.TARGET, `${ctx.stage}: ${message}`, { stage: ctx.stage, ...details });
  const invalid = checkContainerName(name);
  if (invalid) throw new AttachError(ErrorCodes.BAD_REQUEST, `${ctx.stage}: invalid container name: ${invalid}`, { stage: ctx.stage });

  // lxc-attach loads the config before it talks to the monitor (lxc_container_new,
  // then load_config of the rcfile): a broken config fails first. LXC calls a
  // container defined when its config file exists (lxcapi_is_defined).
  const configFile = rcfile ?? `${lxcpath}/${name}/config`;
  const missing = rcfile === undefined ? configMissing(configFile) : undefined;
  if (missing && missing.errno !== ENOENT && missing.errno !== ENOTDIR) {
    throw fail(`cannot read the config of container '${name}': stat ${configFile} failed: ${describeErrno(missing.errno)}`,
      { errno: missing.errno, syscall: 'stat', operation: `stat ${configFile}`, cause: missing.cause });
  }
  const defined = missing === undefined;
  let config = LxcConfig.empty();
  if (defined) {
    try {
      config = readLxcConfig(configFile);
    } catch (err) {
      if (err instanceof LxcConfigError) {
        throw fail(`the config of container '${name}': ${err.message}`,
          { ...(err.errno ? { errno: err.errno, syscall: 'open' } : {}), operation: `read ${err.file}`, cause: err });
      }
      throw ctx.error(`reading the config ${configFile} of container '${name}'`, err);
    }
  }

  const monitor = new LxcMonitor(ctx.libc, lxcpath, name, timeoutMs);
  const ask = <T>(what: () => T): T => {
    try {
      return what();
    } catch (err) {
      if (err instanceof SyscallError && err.syscall === 'connect' && (err.errno === ECONNREFUSED || err.errno === ENOENT)) {
        // Each error carries the errno its message names: the refused connect, or the missing config.
        throw missing === undefined
          ? fail(`container '${name}' is not running (no monitor at ${monitor.address}: ${describeErrno(err.errno)})`,
            { errno: err.errno, syscall: 'connect', operation: `connect to the monitor at ${monitor.address}`, cause: err })
          : fail(`container '${name}' is not defined in ${lxcpath} (no ${configFile})`,
            { errno: missing.errno, syscall: 'stat', operation: `stat ${configFile}`, cause: missing.cause });
      }
      if (err instanceof LxcCommandError) {
        throw fail(`container '${name}': ${err.message}`, { errno: err.errno, operation: `${err.command} to the monitor at ${monitor.address}`, cause: err });
      }
      throw ctx.error(`asking the monitor of container '${name}' at ${monitor.address}`, err);
    }
  };

  // Sent together, answered in one wait rather than three: the state, the
  // init, and the cgroups that enter-cgroup asks for (read only if it does).
  const sent: SentCommand[] = [];
  ctx.defer(() => { for (const command of sent) command.cancel(); });
  const send = (what: () => SentCommand): SentCommand => {
    const command = ask(what);
    sent.push(command);
    return command;
  };
  const stateSent = send(() => monitor.sendState());
  const initSent = send(() => monitor.sendInitPidfd());
  const cgroupsSent = send(() => monitor.sendCgroupContext());
  const state = ask(() => monitor.state(stateSent));
  if (!ATTACHABLE.has(state)) throw fail(`container '${name}' is ${state}, not RUNNING`);
  const { pid, pidfd } = ask(() => initProcess(ctx, monitor, initSent));
  ctx.defer(() => ctx.libc.close(pidfd));

  // The lazy ones throw LxcCommandError or SyscallError to the stage that asks, which names itself in the error.
  let cgroups: LxcCgroups | undefined | null = null;
  let cloneFlags: number | undefined;
  const container: LxcContainer = {
    name,
    lxcpath,
    configFile: defined ? configFile : undefined,
    socket: monitor.address,
    initPid: pid,
    // Asked for on first read: no stage needs it to attach (join-namespaces joins what differs from ours).
    get cloneFlags() {
      return (cloneFlags ??= ask(() => monitor.cloneFlags()));
    },
    monitor,
    cgroups: () => {
      if (cgroups === null) cgroups = cgroupsOf(ctx, monitor, cgroupsSent);
      return cgroups;
    },
    runningConfig: (key) => monitor.configItem(key),
    cgroupPath: (controller) => monitor.cgroupPath(controller),
  };
  ctx.set(CONTAINER_CONFIG, config);
  ctx.set(LXC_CONTAINER, container);
  ctx.set(CONTAINER_MODEL, lxcModel(config, container));
  return { pid, pidfd, description: `container ${name} (init pid ${pid})` };
}

/** Why the config file is not there (its stat's errno), or undefined when it is: LXC's lxcapi_is_defined. */
function configMissing(file: string): { errno: number; cause: unknown } | undefined {
  try {
    statSync(file);
    return undefined;
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    return { errno: typeof errno === 'number' ? Math.abs(errno) : ENOENT, cause: err };
  }
}

/**
 * The init, held by a pidfd from the first moment. GET_INIT_PIDFD hands one
 * over; a monitor without it (ret −EBADF when it has none, older LXC) gives
 * the pid, which we open and then confirm: if the monitor still names the
 * same pid once we hold it, the pidfd is its init and not a recycled pid.
 */
function initProcess(ctx: StageContext, monitor: LxcMonitor, sent: SentCommand): { pid: number; pidfd: number } {
  let pidfd: number | undefined;
  try {
    pidfd = monitor.initPidfd(sent);
  } catch (err) {
    if (!(err instanceof LxcCommandError) || !err.unsupported) throw err;
  }
  if (pidfd !== undefined) {
    const pid = pidOfPidfd(pidfd);
    if (pid > 0) return { pid, pidfd };
    ctx.libc.close(pidfd);
    throw new LxcCommandError('GET_INIT_PIDFD', 'protocol', pid === 0
      ? `its init is not in our pid namespace (GET_INIT_PIDFD from ${monitor.address})`
      : `its init exited (GET_INIT_PIDFD from ${monitor.address} gave a pidfd of a dead process)`);
  }
  const pid = monitor.initPid();
  const opened = ctx.libc.pidfdOpen(pid);
  try {
    if (monitor.initPid() !== pid) throw new LxcCommandError('GET_INIT_PID', 'protocol', `its init changed while we opened it (pid ${pid})`);
  } catch (err) {
    ctx.libc.close(opened);
    throw err;
  }
  return { pid, pidfd: opened };
}

/** The pid a pidfd refers to, from its fdinfo (proc(5)): −1 once the process has exited, 0 outside our pid namespace. */
function pidOfPidfd(pidfd: number): number {
  const match = /^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8'));
  if (!match) throw new LxcCommandError('GET_INIT_PIDFD', 'protocol', 'the monitor sent an fd that is not a pidfd');
  return Number(match[1]);
}

function cgroupsOf(ctx: StageContext, monitor: LxcMonitor, sent: SentCommand): LxcCgroups | undefined {
  let answer: { layout: number; fds: number[] };
  try {
    answer = monitor.cgroupContext(sent);
  } catch (err) {
    // lxc-attach too takes any failure as "not supported" and falls back (cgfsng.c, __cgroup_attach_many).
    if (err instanceof LxcCommandError && err.unsupported) return undefined;
    throw err;
  }
  for (const fd of answer.fds) ctx.defer(() => ctx.libc.close(fd));
  const dirs = answer.fds.map((fd) => {
    const link = `/proc/self/fd/${fd}`;
    const fsType = statfsSync(link).type;
    return { fd, dir: readlinkSync(link), fsType, unified: fsType === CGROUP2_SUPER_MAGIC };
  });
  return { layout: LAYOUTS[answer.layout] ?? 'unknown', dirs };
}
