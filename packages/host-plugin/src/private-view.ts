import {
  AT_FDCWD, bytes, CLONE_NEWNS, cstring, imm, MS_REC, MS_SLAVE, O_CLOEXEC, O_DIRECTORY, O_PATH, O_WRONLY, openHow, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, resultOf,
  type Arg, type OpHandle, type ProgramEmitter,
} from '@attachkit/core';
import {
  AT_EMPTY_PATH, AT_RECURSIVE, AT_SYMLINK_NOFOLLOW, FSCONFIG_CMD_CREATE, FSCONFIG_SET_STRING, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOUNT_ATTR_SIZE, mountAttr, MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, O_CREAT, O_EXCL,
  OPEN_TREE_CLONE,
} from './constants.js';
import type { ReplicaGroup, ViewMount, ViewPlan, ViewSource } from './view-plan.js';

type Emit = (name: Parameters<ProgramEmitter['syscall']>[1], args: readonly Arg[], operation: string, optional?: boolean) => OpHandle;

/** A source taken on the host: the detached clone(s) the attached process moves into place. */
type Taken =
  | { readonly kind: 'tree'; readonly clone: OpHandle; readonly label: string }
  | { readonly kind: 'files'; readonly source: Extract<ViewSource, { kind: 'files' }>; readonly box: OpHandle; readonly clones: readonly OpHandle[] };

/**
 * Emit the private view. In the intermediate, before anything is joined
 * (host root, in the host's user namespace: what it makes belongs to the
 * ids planned, whatever the container maps): every source is cloned from
 * the host's mount namespace (open_tree OPEN_TREE_CLONE, detached: nothing
 * of the host's mount table comes with it) and made read-only, nosuid and
 * nodev (mount_setattr) unless writable; each replica is made as a detached
 * tmpfs with a placeholder per entry of its ancestor and the missing
 * targets. In the attached process: a mount namespace of its own (unshare,
 * nothing propagating back: MS_SLAVE), each replica put over its ancestor
 * with every entry bound back from the original (symlinks recreated; a
 * replica of / is entered by chroot), each source moved into place
 * (move_mount), the replicas made read-only. The container's filesystem is
 * never written; the view ends with the command's last process.
 */
export function emitView(program: ProgramEmitter, plan: ViewPlan): void {
  const at = (phase: 'harden' | 'remount'): Emit => (name, args, operation, optional = false) =>
    program.syscall(phase, name, args, { operation, optional });
  const host = at('harden');
  const taken = new Map<ViewMount, Taken>();
  for (const mount of [...plan.groups.flatMap((g) => g.mounts.map((m) => m.mount)), ...plan.existing]) {
    taken.set(mount, take(program, host, mount.source));
  }
  const replicas = plan.groups.map((group) => prepareReplica(host, group));

  const view = at('remount');
  view('unshare', [imm(CLONE_NEWNS)], 'unshare(CLONE_NEWNS) for the private view');
  // Nothing mounted in the private view propagates back to the container.
  view('mount', [imm(0), cstring('/'), imm(0), imm(MS_REC | MS_SLAVE), imm(0)], 'mount(/, MS_REC|MS_SLAVE) of the private view');
  plan.groups.forEach((group, i) => enterReplica(view, group, replicas[i]!, taken));
  for (const mount of plan.existing) {
    const root = openRoot(view);
    const how = openHow(O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    const target = view('openat2', [resultOf(root), cstring(mount.target), bytes(how), imm(how.length)], `openat2("${mount.target}", RESOLVE_IN_ROOT) of the mount's target`);
    place(view, taken.get(mount)!, target, '', mount.target);
    view('close', [resultOf(target)], `close(${mount.target})`);
    view('close', [resultOf(root)], 'close(/)');
  }
}

function take(program: ProgramEmitter, host: Emit, source: ViewSource): Taken {
  const clone = (fd: number, label: string, recursive: boolean, writable: boolean): OpHandle => {
    const passed = program.passFd(fd);
    const op = host('open_tree', [imm(passed), cstring(''), imm(OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0))],
      `open_tree(${label}, OPEN_TREE_CLONE${recursive ? '|AT_RECURSIVE' : ''}) on the host`);
    const attr = mountAttr(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (writable ? 0 : MOUNT_ATTR_RDONLY));
    host('mount_setattr', [resultOf(op), cstring(''), imm(AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0)), bytes(attr), imm(MOUNT_ATTR_SIZE)],
      `mount_setattr(${label}, ${writable ? '' : 'MOUNT_ATTR_RDONLY|'}MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV)`);
    return op;
  };
  if (source.kind === 'tree') return { kind: 'tree', clone: clone(source.fd, source.label, true, source.writable), label: source.label };
  const box = tmpfs(host, source.label, 0o755);
  for (const d of source.dirs) host('mkdirat', [resultOf(box), cstring(d), imm(0o755)], `mkdirat(${source.label}, ${d})`);
  for (const f of source.files) makeFile(host, box, f.path, source.label);
  return { kind: 'files', source, box, clones: source.files.map((f) => clone(f.fd, `${source.label}: ${f.path}`, false, false)) };
}

function openRoot(view: Emit): OpHandle {
  const how = openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
  return view('openat2', [imm(AT_FDCWD), cstring('/'), bytes(how), imm(how.length)], 'openat2("/") of the private view');
}

/** A fresh tmpfs, detached: its fd. */
function tmpfs(emit: Emit, what: string, mode: number, uid?: number, gid?: number): OpHandle {
  const fs = emit('fsopen', [cstring('tmpfs'), imm(FSOPEN_CLOEXEC)], `fsopen(tmpfs) for ${what}`);
  const set = (key: string, value: string) =>
    emit('fsconfig', [resultOf(fs), imm(FSCONFIG_SET_STRING), cstring(key), cstring(value), imm(0)], `fsconfig(tmpfs for ${what}, ${key}=${value})`);
  set('mode', mode.toString(8).padStart(4, '0'));
  if (uid !== undefined) set('uid', String(uid));
  if (gid !== undefined) set('gid', String(gid));
  emit('fsconfig', [resultOf(fs), imm(FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0)], `fsconfig(tmpfs for ${what}, FSCONFIG_CMD_CREATE)`);
  const mnt = emit('fsmount', [resultOf(fs), imm(FSMOUNT_CLOEXEC), imm(0)], `fsmount(tmpfs for ${what})`);
  emit('close', [resultOf(fs)], 'close(fsopen fd)');
  return mnt;
}

function makeFile(emit: Emit, dir: OpHandle, path: string, what: string): void {
  const fd = emit('openat', [resultOf(dir), cstring(path), imm(O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC), imm(0o644)], `openat(${what}, O_CREAT) of a placeholder for ${path}`);
  emit('close', [resultOf(fd)], `close(placeholder ${path})`);
}

/** The replica of a group's ancestor, detached: a placeholder per entry (symlinks made as they are), and the missing targets. */
function prepareReplica(host: Emit, group: ReplicaGroup): OpHandle {
  const where = `the replica of ${group.ancestor}`;
  const t = tmpfs(host, where, group.mode, group.uid, group.gid);
  for (const e of group.entries) {
    if (e.type === 'dir') host('mkdirat', [resultOf(t), cstring(e.name), imm(0o755)], `mkdirat(${where}, ${e.name})`);
    else if (e.type === 'other') makeFile(host, t, e.name, where);
    else {
      host('symlinkat', [cstring(e.link!), resultOf(t), cstring(e.name)], `symlinkat(${e.link}, ${where}, ${e.name})`);
      host('fchownat', [resultOf(t), cstring(e.name), imm(e.uid), imm(e.gid), imm(AT_SYMLINK_NOFOLLOW)], `fchownat(${where}, ${e.name})`);
    }
  }
  const made = new Set<string>();
  for (const { mount, relative } of group.mounts) {
    const parts = relative.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (made.has(dir)) continue;
      made.add(dir);
      host('mkdirat', [resultOf(t), cstring(dir), imm(0o755)], `mkdirat(${where}, ${dir})`);
    }
    const source = mount.source;
    if (source.kind === 'files' || source.directory) host('mkdirat', [resultOf(t), cstring(relative), imm(0o755)], `mkdirat(${where}, ${relative})`);
    else makeFile(host, t, relative, where);
  }
  return t;
}

/**
 * Put the replica over its ancestor, bind every entry back from the
 * original (cloned before it is covered; an entry gone since it was listed
 * is left out: optional ops), move the sources in, and make the replica
 * read-only: a file created in the ancestor would exist in this view only.
 */
function enterReplica(view: Emit, group: ReplicaGroup, t: OpHandle, taken: Map<ViewMount, Taken>): void {
  const where = group.ancestor;
  const root = openRoot(view);
  const how = openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  const ancestor = view('openat2', [resultOf(root), cstring(where === '/' ? '.' : where), bytes(how), imm(how.length)], `openat2("${where}", RESOLVE_IN_ROOT)`);
  const clones = group.entries.filter((e) => e.type !== 'symlink').map((e) => ({
    entry: e,
    clone: view('open_tree', [resultOf(ancestor), cstring(e.name), imm(OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW)],
      `open_tree(${posixJoin(where, e.name)}, OPEN_TREE_CLONE|AT_RECURSIVE)`, true),
  }));
  view('move_mount', [resultOf(t), cstring(''), resultOf(ancestor), cstring(''), imm(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)],
    `move_mount(the replica of ${where} onto ${where})`);
  for (const { entry, clone } of clones) {
    view('move_mount', [resultOf(clone), cstring(''), resultOf(t), cstring(entry.name), imm(MOVE_MOUNT_F_EMPTY_PATH)],
      `move_mount(${posixJoin(where, entry.name)} back onto its replica)`, true);
    view('close', [resultOf(clone)], `close(clone of ${posixJoin(where, entry.name)})`, true);
  }
  for (const { mount, relative } of group.mounts) place(view, taken.get(mount)!, t, relative, mount.target);
  view('mount_setattr', [resultOf(t), cstring(''), imm(AT_EMPTY_PATH), bytes(mountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)), imm(MOUNT_ATTR_SIZE)],
    `mount_setattr(the replica of ${where}, MOUNT_ATTR_RDONLY)`);
  if (where === '/') {
    // A mount on top of / is entered by chroot, as switch_root does: the process's root is still the one below.
    view('fchdir', [resultOf(t)], 'fchdir(the replica of /)');
    view('chroot', [cstring('.')], 'chroot(the replica of /)');
  }
  for (const fd of [t, ancestor, root]) view('close', [resultOf(fd)], 'close()');
}

/** Move a taken source onto `relative` below the directory fd `dir` ('' : dir itself). */
function place(view: Emit, taken: Taken, dir: OpHandle, relative: string, target: string): void {
  const flags = MOVE_MOUNT_F_EMPTY_PATH | (relative === '' ? MOVE_MOUNT_T_EMPTY_PATH : 0);
  if (taken.kind === 'tree') {
    view('move_mount', [resultOf(taken.clone), cstring(''), resultOf(dir), cstring(relative), imm(flags)], `move_mount(${taken.label} onto ${target})`);
    view('close', [resultOf(taken.clone)], `close(clone of ${taken.label})`);
    return;
  }
  const { source, box, clones } = taken;
  view('move_mount', [resultOf(box), cstring(''), resultOf(dir), cstring(relative), imm(flags)], `move_mount(${source.label} onto ${target})`);
  source.files.forEach((f, i) => {
    view('move_mount', [resultOf(clones[i]!), cstring(''), resultOf(box), cstring(f.path), imm(MOVE_MOUNT_F_EMPTY_PATH)], `move_mount(${f.path} into ${source.label})`);
    view('close', [resultOf(clones[i]!)], `close(clone of ${f.path})`);
  });
  view('mount_setattr', [resultOf(box), cstring(''), imm(AT_EMPTY_PATH), bytes(mountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)), imm(MOUNT_ATTR_SIZE)],
    `mount_setattr(${source.label}, MOUNT_ATTR_RDONLY)`);
  view('close', [resultOf(box)], `close(${source.label})`);
}

function posixJoin(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
