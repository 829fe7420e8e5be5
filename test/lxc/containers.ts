import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LXCPATH } from '@attachkit/lxc-plugin';

export { DEFAULT_LXCPATH };

/** The fixture script (in the source tree: tsc does not copy it). */
export const MAKE_CONTAINER = fileURLToPath(new URL('../../lxc/make-container.sh', import.meta.url));

export interface ContainerSpec {
  readonly name: string;
  readonly unpriv?: boolean;
  /** Defined but not running. */
  readonly stopped?: boolean;
  readonly lxcpath?: string;
  /** Config lines (`key = value`) added to the template's. */
  readonly conf?: readonly string[];
}

/**
 * Make sure a real busybox LXC container exists, in the state asked, with
 * test/lxc/make-container.sh (which installs lxc and busybox-static on a
 * fresh machine). Idempotent; a second call on a running container is a no-op.
 */
export function ensureContainer(spec: ContainerSpec): void {
  const args = [MAKE_CONTAINER, spec.name];
  if (spec.unpriv) args.push('--unpriv');
  if (spec.stopped) args.push('--stopped');
  if (spec.lxcpath) args.push('--lxcpath', spec.lxcpath);
  for (const line of spec.conf ?? []) args.push('--conf', line);
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-container.sh ${args.slice(1).join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
}

/** Stop a container (kill its init), and destroy it too when asked. */
export function stopContainer(spec: ContainerSpec, destroy = false): void {
  const p = ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name];
  spawnSync('lxc-stop', [...p, '-k'], { stdio: 'ignore' });
  if (destroy) spawnSync('lxc-destroy', [...p, '-f'], { stdio: 'ignore' });
}

/**
 * Stop and start a running container again, without attaching
 * (make-container.sh checks the start with lxc-attach): what an attach
 * makes lazily, LXC's `.lxc` cgroup leaf, is not there yet.
 */
export function restartContainer(spec: ContainerSpec): void {
  const p = ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name];
  for (const [tool, ...args] of [['lxc-stop', ...p, '-k'], ['lxc-start', ...p], ['lxc-wait', ...p, '-s', 'RUNNING', '-t', '10']] as const) {
    const r = spawnSync(tool, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  }
}

/** The init's pid as lxc-info reports it. */
export function initPid(spec: ContainerSpec): number {
  const r = spawnSync('lxc-info', ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name, '-pH'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/** lxc-attach's (and attachkit's) arguments that name the container. */
export function targetArgs(spec: ContainerSpec): string[] {
  return ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name];
}

/** The container's root filesystem on the host. */
export function rootfs(spec: ContainerSpec): string {
  return `${spec.lxcpath ?? DEFAULT_LXCPATH}/${spec.name}/rootfs`;
}

/** Compile a test program from test/lxc/ with `cc -static` into the container's root (busybox has no libc to link against). */
export function installProgram(spec: ContainerSpec, source: string, inside: string): void {
  const src = fileURLToPath(new URL(`../../lxc/${source}`, import.meta.url));
  const r = spawnSync('cc', ['-static', '-O2', '-Wall', '-Werror', '-o', `${rootfs(spec)}${inside}`, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc -static ${source} failed (${r.status ?? r.error?.message}): ${r.stderr.trim()}`);
}

/**
 * The host pid of the process that has pid `nsPid` in the pid namespace of
 * `init` (what `echo $!` printed inside), from the NSpid lines of /proc.
 */
export function hostPid(init: number, nsPid: number): number {
  const pidNs = readlinkSync(`/proc/${init}/ns/pid`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]?.split(/\s+/);
      if (Number(nspid?.at(-1)) === nsPid && readlinkSync(`/proc/${entry}/ns/pid`) === pidNs) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no process with pid ${nsPid} in the pid namespace of ${init}`);
}
