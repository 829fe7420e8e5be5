import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lchownSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the fixture keeps its bundles (and the rootfs Docker and Podman import). */
export const OCI_DIR = '/var/lib/attachkit-test/oci';
/** Every fixture container's cgroup is `/attachkit-test/<id>` in each hierarchy. */
export const CGROUP_PARENT = '/attachkit-test';
/** The host's static busybox (busybox-static). */
export const BUSYBOX = '/bin/busybox';
/** `runc spec`'s PATH. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** User-namespaced bundles map container ids 0..65535 to host ids from here. */
export const SUBID_BASE = 100000;
export const SUBID_RANGE = 65536;

export type CapabilitySet = 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient';

export interface Rlimit {
  readonly type: string;
  readonly soft: number;
  readonly hard: number;
}

/**
 * What a fixture container's config.json says. Everything left out stays as
 * `runc spec` writes it (uid 0, PATH + TERM, cwd /, bounding = effective =
 * permitted = ambient = AUDIT_WRITE KILL NET_BIND_SERVICE, nofile 1024,
 * noNewPrivileges, a read-only root, pid/net/ipc/uts/mount namespaces).
 */
export interface OciSpec {
  /** The container's id, its bundle's directory name and its cgroup leaf. */
  readonly id: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly additionalGids?: readonly number[];
  /** Replaces the whole environment (include DEFAULT_PATH if the command needs PATH). */
  readonly env?: readonly string[];
  readonly cwd?: string;
  /** Each set given replaces runc spec's for it; `inheritable` is absent unless given. */
  readonly capabilities?: Partial<Record<CapabilitySet, readonly string[]>>;
  readonly noNewPrivileges?: boolean;
  /** linux.seccomp, as written (OCI format: defaultAction, architectures, syscalls...). */
  readonly seccomp?: unknown;
  /** Replaces runc spec's rlimits. Keep them under the host's hard limits (nofile 20000 here). */
  readonly rlimits?: readonly Rlimit[];
  readonly oomScoreAdj?: number;
  /** A user namespace mapping 0..65535 to SUBID_BASE.. (the rootfs is chowned to match). */
  readonly userns?: boolean;
  /** A cgroup namespace. */
  readonly cgroupns?: boolean;
  /** root.readonly (runc spec's default: true). */
  readonly readonlyRoot?: boolean;
  readonly hostname?: string;
  /** process.args; default `sleep 1000`. */
  readonly args?: readonly string[];
}

export interface Bundle {
  readonly dir: string;
  readonly rootfs: string;
  readonly config: string;
  /** True when the bundle was (re)written by this call, false when it was already what the spec says. */
  readonly changed: boolean;
}

/** The busybox applets, once. */
let applets: string[] | undefined;
function busyboxApplets(): string[] {
  if (!applets) {
    const r = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${BUSYBOX} --list failed (${r.status ?? r.error?.message}): is busybox-static installed?`);
    applets = r.stdout.split('\n').filter((a) => a && a !== 'busybox');
  }
  return applets;
}

export interface RootfsUsers {
  readonly uid?: number;
  readonly gid?: number;
  readonly additionalGids?: readonly number[];
}

/**
 * A busybox root filesystem at `dir`: bin/busybox and one symlink per applet,
 * the usual mount points, /tmp (1777), /etc/passwd and /etc/group with root,
 * nobody, and the user and groups named (`u<uid>`, `g<gid>`; the user is a
 * member of its additional groups), a home for that user.
 */
export function makeRootfs(dir: string, users: RootfsUsers = {}): void {
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc', 'root', 'home', 'tmp', 'var', 'run']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of busyboxApplets()) symlinkSync('busybox', join(dir, 'bin', a));

  const uid = users.uid ?? 0;
  const gid = users.gid ?? 0;
  const passwd = ['root:x:0:0:root:/root:/bin/sh'];
  const groupMembers = new Map<number, string[]>([[0, []]]);
  if (uid !== 0 && uid !== 65534) {
    passwd.push(`u${uid}:x:${uid}:${gid}:u${uid}:/home/u${uid}:/bin/sh`);
    mkdirSync(join(dir, 'home', `u${uid}`));
    lchownSync(join(dir, 'home', `u${uid}`), uid, gid);
  }
  passwd.push('nobody:x:65534:65534:nobody:/nonexistent:/bin/false');
  if (!groupMembers.has(gid)) groupMembers.set(gid, []);
  for (const g of users.additionalGids ?? []) {
    const members = groupMembers.get(g) ?? [];
    if (uid !== 0) members.push(`u${uid}`);
    groupMembers.set(g, members);
  }
  groupMembers.set(65534, groupMembers.get(65534) ?? []);
  const group = [...groupMembers].sort(([a], [b]) => a - b).map(([g, members]) =>
    `${g === 0 ? 'root' : g === 65534 ? 'nogroup' : `g${g}`}:x:${g}:${members.join(',')}`);
  writeFileSync(join(dir, 'etc', 'passwd'), `${passwd.join('\n')}\n`);
  writeFileSync(join(dir, 'etc', 'group'), `${group.join('\n')}\n`);
  writeFileSync(join(dir, 'etc', 'hostname'), 'attachkit\n');
}

/** Add `by` to the owner and group of every file under `dir` (a user-namespaced rootfs). */
export function shiftOwnership(dir: string, by: number): void {
  const r = spawnSync('find', [dir, '-xdev', '-printf', '%U %G %m %y %p\\0'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`find ${dir} failed: ${r.stderr}`);
  for (const entry of r.stdout.split('\0')) {
    if (!entry) continue;
    const [u, g, m, type, ...rest] = entry.split(' ');
    const path = rest.join(' ');
    lchownSync(path, Number(u) + by, Number(g) + by);
    if (type !== 'l') chmodSync(path, parseInt(m!, 8)); // chown drops setuid/setgid
  }
}

/** `runc spec`'s config.json, once. */
let baseSpec: string | undefined;
export function runcSpec(): Record<string, any> {
  if (!baseSpec) {
    const dir = join(OCI_DIR, '.runc-spec');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('runc', ['spec', '--bundle', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`runc spec failed (${r.status ?? r.error?.message}): ${r.stderr}`);
    baseSpec = readFileSync(join(dir, 'config.json'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
  }
  return JSON.parse(baseSpec) as Record<string, any>;
}

/** config.json for a spec: `runc spec`'s, edited. */
export function makeConfig(spec: OciSpec): Record<string, any> {
  const config = runcSpec();
  const p = config.process;
  p.terminal = false;
  p.args = [...(spec.args ?? ['sleep', '1000'])];
  p.user = { uid: spec.uid ?? 0, gid: spec.gid ?? 0 };
  if (spec.additionalGids) p.user.additionalGids = [...spec.additionalGids];
  if (spec.env) p.env = [...spec.env];
  if (spec.cwd) p.cwd = spec.cwd;
  for (const [set, caps] of Object.entries(spec.capabilities ?? {})) p.capabilities[set] = [...caps];
  if (spec.noNewPrivileges !== undefined) p.noNewPrivileges = spec.noNewPrivileges;
  if (spec.rlimits) p.rlimits = spec.rlimits.map((r) => ({ ...r }));
  if (spec.oomScoreAdj !== undefined) p.oomScoreAdj = spec.oomScoreAdj;
  if (spec.readonlyRoot !== undefined) config.root.readonly = spec.readonlyRoot;
  config.hostname = spec.hostname ?? spec.id;
  const linux = config.linux;
  linux.cgroupsPath = `${CGROUP_PARENT}/${spec.id}`;
  if (spec.seccomp !== undefined) linux.seccomp = structuredClone(spec.seccomp);
  if (spec.userns) {
    linux.namespaces.push({ type: 'user' });
    linux.uidMappings = [{ containerID: 0, hostID: SUBID_BASE, size: SUBID_RANGE }];
    linux.gidMappings = [{ containerID: 0, hostID: SUBID_BASE, size: SUBID_RANGE }];
  }
  if (spec.cgroupns) linux.namespaces.push({ type: 'cgroup' });
  return config;
}

function bundlePaths(id: string): { dir: string; rootfs: string; config: string; stamp: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`bad container id ${JSON.stringify(id)}`);
  const dir = join(OCI_DIR, id);
  return { dir, rootfs: join(dir, 'rootfs'), config: join(dir, 'config.json'), stamp: join(dir, 'attachkit-spec.json') };
}

/** The bundle directory of a container id. */
export function bundleDir(id: string): string {
  return bundlePaths(id).dir;
}

/** Whether OCI_DIR/<id> was made from exactly this spec (and is complete). */
export function bundleIsCurrent(spec: OciSpec): boolean {
  const { rootfs, config, stamp } = bundlePaths(spec.id);
  try {
    return existsSync(config) && existsSync(join(rootfs, 'bin', 'busybox')) && readFileSync(stamp, 'utf8') === JSON.stringify(spec);
  } catch {
    return false;
  }
}

/**
 * The bundle of a spec under OCI_DIR/<id>: rootfs and config.json. Kept as
 * it is when it was made from the same spec (the spec is stored beside it),
 * rebuilt otherwise.
 */
export function makeBundle(spec: OciSpec): Bundle {
  const { dir, rootfs, config, stamp } = bundlePaths(spec.id);
  if (bundleIsCurrent(spec)) return { dir, rootfs, config, changed: false };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  makeRootfs(rootfs, spec);
  if (spec.userns) shiftOwnership(rootfs, SUBID_BASE);
  writeFileSync(`${config}.tmp`, `${JSON.stringify(makeConfig(spec), null, '\t')}\n`);
  renameSync(`${config}.tmp`, config);
  writeFileSync(stamp, JSON.stringify(spec));
  return { dir, rootfs, config, changed: true };
}

/** Remove a bundle's directory. */
export function removeBundle(id: string): void {
  rmSync(bundlePaths(id).dir, { recursive: true, force: true });
}
