import { existsSync, readFileSync } from 'node:fs';
import type { LsmOptions } from './options.js';

export type LsmName = 'apparmor' | 'selinux';

/** How each LSM labels a process, as LXC does it (src/lxc/lsm/apparmor.c, selinux.c). */
export interface LsmKind {
  readonly name: LsmName;
  readonly title: string;
  /** The attr file that holds a process's label, relative to /proc/<pid>/attr. */
  readonly current: string;
  /** The attr file the attached process writes, relative to its own attr directory. */
  readonly target: string;
  /** What is written there to take the label. */
  payload(label: string): string;
}

const attr = (procRoot: string, pid: number, file: string) => `${procRoot}/${pid}/attr/${file}`;

/**
 * AppArmor: the label is the profile name (attr/current shows
 * `profile (enforce)`); `changeprofile <profile>` written to attr/current
 * switches at once (LXC writes it so; AppArmor has no on-exec form it uses).
 * Linux 5.8+ has a per-LSM attr/apparmor/ directory, preferred by LXC.
 */
export function apparmor(procRoot: string, pid: number): LsmKind {
  const file = existsSync(attr(procRoot, pid, 'apparmor')) ? 'apparmor/current' : 'current';
  return { name: 'apparmor', title: 'AppArmor', current: file, target: file, payload: (label) => `changeprofile ${label}` };
}

/**
 * SELinux: the label is the context in attr/current; written to attr/exec it
 * takes effect at exec (lxc-attach's default LXC_ATTACH_LSM_EXEC), so every
 * op before the exec still runs with the caller's context.
 */
export function selinux(): LsmKind {
  return { name: 'selinux', title: 'SELinux', current: 'current', target: 'exec', payload: (label) => label };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The LSM that labels processes on this host, with AppArmor first as LXC
 * picks it (lsm.c, lsm_init_static). securityfs's `lsm` lists the active
 * ones; without it (securityfs not mounted, or older kernels), LXC's own
 * checks: AppArmor's `enabled` module parameter or its securityfs directory,
 * and a mounted selinuxfs for SELinux (libselinux's is_selinux_enabled).
 */
export function activeLsm(options: LsmOptions): LsmName | undefined {
  const listed = read(`${options.securityfsRoot}/lsm`);
  if (listed !== undefined) {
    const names = listed.trim().split(',');
    return (['apparmor', 'selinux'] as const).find((n) => names.includes(n));
  }
  if (existsSync(`${options.securityfsRoot}/apparmor`) || read(`${options.sysfsRoot}/module/apparmor/parameters/enabled`)?.startsWith('Y')) {
    return 'apparmor';
  }
  if (existsSync(`${options.sysfsRoot}/fs/selinux/enforce`)) return 'selinux';
  return undefined;
}

/**
 * A process's label from its attr file, as LXC reads it: up to the first
 * blank, newline or NUL (`profile (enforce)\n` → `profile`). Undefined when
 * the file is missing or empty.
 */
export function readLabel(procRoot: string, pid: number, kind: LsmKind): string | undefined {
  const text = read(attr(procRoot, pid, kind.current));
  const label = text?.split(/[\s\0]/, 1)[0];
  return label || undefined;
}
