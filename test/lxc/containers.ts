import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LXCPATH } from '@attachkit/core';

export { DEFAULT_LXCPATH };

/** The fixture script (in the source tree: tsc does not copy it). */
export const MAKE_CONTAINER = fileURLToPath(new URL('../../lxc/make-container.sh', import.meta.url));

export interface ContainerSpec {
  readonly name: string;
  readonly unpriv?: boolean;
  /** Defined but not running. */
  readonly stopped?: boolean;
  readonly lxcpath?: string;
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
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-container.sh ${args.slice(1).join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
}

/** Stop a container (kill its init), and destroy it too when asked. */
export function stopContainer(spec: ContainerSpec, destroy = false): void {
  const p = ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name];
  spawnSync('lxc-stop', [...p, '-k'], { stdio: 'ignore' });
  if (destroy) spawnSync('lxc-destroy', [...p, '-f'], { stdio: 'ignore' });
}

/** The init's pid as lxc-info reports it. */
export function initPid(spec: ContainerSpec): number {
  const r = spawnSync('lxc-info', ['-P', spec.lxcpath ?? DEFAULT_LXCPATH, '-n', spec.name, '-pH'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}
