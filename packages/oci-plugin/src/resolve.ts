import { readFileSync } from 'node:fs';
import { AttachError, CONTAINER_MODEL, ErrorCodes, SyscallError, type AttachTarget, type ResolvedTarget, type StageContext, type TargetResolver } from '@attachkit/core';
import { OciSpecError, readSpec } from './spec.js';
import { findContainer, OciStateError, type OciState } from './state.js';

/** An OCI runtime container by id, as `runc exec ID` names it; `root` as `runc --root`. */
export interface OciTarget {
  readonly oci: string;
  readonly root?: string;
}

declare module '@attachkit/core' {
  interface AttachTargets {
    oci: OciTarget;
  }
}

export function isOciTarget(target: AttachTarget): target is OciTarget {
  return typeof (target as { oci?: unknown }).oci === 'string';
}

/** Resolves `{ oci, root? }`: the init from the runtime's state, held by pidfd and checked against its start time; config.json as the container model. */
export const ociTargetResolver: TargetResolver = {
  kind: 'an OCI container by id',
  accepts: isOciTarget,
  resolve: (ctx, target) => resolveOci(ctx, target as OciTarget),
};

export function resolveOci(ctx: StageContext, target: OciTarget): ResolvedTarget {
  const fail = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, cause?: unknown, errno?: number) =>
    new AttachError(code, `${ctx.stage}: ${message}`, { stage: ctx.stage, cause, ...(errno === undefined ? {} : { errno }) });
  let state: OciState;
  try {
    state = findContainer(target.oci, target.root);
  } catch (err) {
    if (err instanceof OciStateError) throw fail(ErrorCodes.TARGET, err.message, err);
    throw err;
  }
  const what = `OCI container ${state.id} (${state.root.owner})`;
  let pidfd: number;
  try {
    pidfd = ctx.libc.pidfdOpen(state.pid);
  } catch (err) {
    const errno = err instanceof SyscallError ? err.errno : undefined;
    throw fail(ErrorCodes.TARGET, `${what} is not running (its init, pid ${state.pid}, is gone)`, err, errno);
  }
  ctx.defer(() => ctx.libc.close(pidfd));
  // The state names a pid; only its start time proves the process is that
  // container's init and not a recycled pid. Read after the pidfd is held,
  // then the pidfd proves the process read is the one held.
  let stat: { started: number; state: string } | undefined;
  try {
    stat = procStat(state.pid);
    ctx.libc.pidfdSendSignal(pidfd, 0);
  } catch {
    stat = undefined;
  }
  if (stat?.started !== state.startTime) {
    throw fail(ErrorCodes.TARGET, `${what} is not running (pid ${state.pid} ${stat === undefined ? 'is gone' : `started at ${stat.started}, its init at ${state.startTime}: a recycled pid`})`);
  }
  // A dead init not yet reaped keeps its pid and start time, but no namespaces to enter.
  if (stat.state === 'Z' || stat.state === 'X') throw fail(ErrorCodes.TARGET, `${what} is not running (its init, pid ${state.pid}, has exited)`);
  try {
    ctx.set(CONTAINER_MODEL, readSpec(state).model);
  } catch (err) {
    if (err instanceof OciSpecError) throw fail(ErrorCodes.BAD_REQUEST, `${what}: ${err.message}`, err);
    throw err;
  }
  return { pid: state.pid, pidfd, description: `${what}, init pid ${state.pid}` };
}

/** Fields 3 (state) and 22 (start time, clock ticks after boot) of /proc/<pid>/stat, read after the command name, which may hold spaces and parentheses. */
function procStat(pid: number): { started: number; state: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, started: Number(fields[19]) };
}
