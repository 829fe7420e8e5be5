import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { CLONE_NEWUTS, createPipeline, executorPath, imm, realLibc, type Stage } from '@attachkit/core';
import { DEFAULT_LXCPATH, LxcMonitor } from '@attachkit/lxc-plugin';
import { parseMountinfo } from '@attachkit/cgroup-plugin';
import { activeLsm, defaultLsmOptions } from '@attachkit/lsm-plugin';
import { kernelHasPidfdSetns } from '@attachkit/ns-plugin';

/** One finding of `attachkit doctor`. */
export interface Check {
  readonly name: string;
  /** ok: works; warn: works with a limitation; fail: attaching will not work. */
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/**
 * What this host offers an attach, each checked for real: pidfds, setns by
 * pidfd (through the executor, as an attach does it), the cgroup layout,
 * active LSMs, user namespaces, seccomp, and LXC.
 */
export async function runChecks(lxcpath = DEFAULT_LXCPATH): Promise<Check[]> {
  const checks: Check[] = [];
  const libc = realLibc();

  checks.push({ name: 'kernel', status: 'ok', detail: `Linux ${release()}, ${process.arch}` });
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    checks.push({
      name: 'privileges', status: 'warn',
      detail: `not root (uid ${uid}): attaching needs root, except to your own processes in a user namespace you made ` +
        '(unprivileged containers you run), entering only cgroups you may write',
    });
  }

  try {
    libc.close(libc.pidfdOpen(process.pid));
    checks.push({ name: 'pidfd', status: 'ok', detail: 'pidfd_open(2) works: targets are held by pidfd' });
  } catch (err) {
    checks.push({ name: 'pidfd', status: 'fail', detail: `pidfd_open(2): ${(err as Error).message} (Linux 5.3 or later is needed)` });
  }

  checks.push(await executorCheck());

  const hierarchies = parseMountinfo(read('/proc/self/mountinfo') ?? '');
  const unified = hierarchies.find((h) => h.unified);
  const v1 = hierarchies.filter((h) => !h.unified);
  const layout = unified && v1.length ? 'hybrid' : unified ? 'unified (cgroup v2)' : v1.length ? 'legacy (cgroup v1)' : 'none';
  checks.push({
    name: 'cgroups', status: hierarchies.length ? 'ok' : 'warn',
    detail: `${layout}${unified ? `; cgroup2 at ${unified.mountPoint}` : ''}${v1.length ? `; v1: ${v1.map((h) => h.id).join(' ')}` : ''}`,
  });

  const lsm = activeLsm(defaultLsmOptions);
  const lsms = read('/sys/kernel/security/lsm');
  checks.push({ name: 'LSM', status: 'ok', detail: `${lsm ? `${lsm} labels are applied` : 'neither AppArmor nor SELinux is active: apply-lsm steps aside'}${lsms ? ` (active: ${lsms})` : ''}` });

  const maxUserns = Number(read('/proc/sys/user/max_user_namespaces') ?? '0');
  checks.push({
    name: 'user namespaces', status: maxUserns > 0 ? 'ok' : 'warn',
    detail: maxUserns > 0 ? `enabled (max_user_namespaces ${maxUserns}): unprivileged containers can be attached` : 'disabled: unprivileged containers cannot exist here',
  });

  const actions = read('/proc/sys/kernel/seccomp/actions_avail');
  checks.push({ name: 'seccomp', status: actions ? 'ok' : 'warn', detail: actions ? `filters available (${actions})` : 'no seccomp filter support: profiles cannot be loaded' });

  checks.push(lxcCheck(lxcpath));
  return checks;
}

/** Start the executor for real and setns by pidfd into our own UTS namespace: what every attach needs. */
async function executorCheck(): Promise<Check> {
  const name = 'executor';
  if (!existsSync(executorPath())) return { name, status: 'fail', detail: `not built (${executorPath()}): run scripts/setup.sh` };
  const probe: Stage = {
    id: 'doctor-probe', description: 'setns by pidfd into our own UTS namespace', after: ['resolve-target'], before: ['exec'],
    plan(ctx) {
      ctx.program.syscall('namespaces', 'setns', [imm(ctx.program.passFd(ctx.target.pidfd)), imm(CLONE_NEWUTS)], { operation: 'setns(pidfd, CLONE_NEWUTS) on ourselves' });
    },
  };
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    // setns into a namespace of our own user namespace needs CAP_SYS_ADMIN there: start the executor without it.
    try {
      const { exitCode } = await createPipeline().attach({ target: { pid: process.pid }, command: ['/bin/true'], stdio: ['ignore', 'ignore', 'ignore'] });
      return { name, status: exitCode === 0 ? 'ok' : 'fail', detail: `starts from a sealed memfd; setns by pidfd not checked: it needs root (uid ${uid})` };
    } catch (err) {
      return { name, status: 'fail', detail: (err as Error).message };
    }
  }
  try {
    const { exitCode } = await createPipeline().add(probe).attach({ target: { pid: process.pid }, command: ['/bin/true'], stdio: ['ignore', 'ignore', 'ignore'] });
    const how = kernelHasPidfdSetns() ? 'one setns(pidfd, flags)' : 'per-namespace fds (kernel before 5.8)';
    return { name, status: exitCode === 0 ? 'ok' : 'fail', detail: `starts from a sealed memfd; namespaces are joined with ${how}` };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message };
  }
}

function lxcCheck(lxcpath: string): Check {
  const name = 'LXC';
  const tools = ['/usr/bin/lxc-start', '/usr/local/bin/lxc-start'].some((p) => existsSync(p));
  if (!existsSync(lxcpath)) {
    return { name, status: 'warn', detail: `no lxcpath ${lxcpath}${tools ? '' : ' and no LXC tools'}: only --pid targets` };
  }
  let entries: string[];
  try {
    entries = readdirSync(lxcpath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return { name, status: 'warn', detail: `cannot read ${lxcpath}: permission denied (its containers need root: run doctor as root)` };
    }
    return { name, status: 'warn', detail: `cannot read ${lxcpath}: ${(err as Error).message}` };
  }
  const containers = entries.filter((c) => existsSync(`${lxcpath}/${c}/config`));
  const running = containers.filter((c) => {
    try {
      return new LxcMonitor(realLibc(), lxcpath, c).state() === 'RUNNING';
    } catch {
      return false;
    }
  });
  return { name, status: 'ok', detail: `${containers.length} container(s) in ${lxcpath}, ${running.length} running${running.length ? `: ${running.join(' ')}` : ''}` };
}
