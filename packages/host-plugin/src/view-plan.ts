import { closeSync, fstatSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { O_CLOEXEC, O_PATH, openInRoot, SyscallError, type Libc, type ResolvedTarget } from '@attachkit/core';

/** What is mounted at a target of the private view. */
export type ViewSource =
  /** A host file or directory (an O_PATH fd of the parent), bound recursively. */
  | { readonly kind: 'tree'; readonly fd: number; readonly directory: boolean; readonly writable: boolean; readonly label: string }
  /** A read-only tmpfs of directories and host files bound in (the loader's libraries), made in the private view. */
  | { readonly kind: 'files'; readonly dirs: readonly string[]; readonly files: readonly { readonly path: string; readonly fd: number }[]; readonly label: string };

export interface ViewMount {
  readonly target: string;
  readonly source: ViewSource;
}

/** An entry of a directory replicated in the private view. */
export interface ReplicaEntry {
  readonly name: string;
  readonly type: 'dir' | 'symlink' | 'other';
  /** A symlink's target, recreated as it is. */
  readonly link?: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A directory of the container (the nearest existing ancestor of targets
 * that do not exist) that the private view covers with a tmpfs replicating
 * it: every entry bound back from the original, the missing targets made.
 */
export interface ReplicaGroup {
  readonly ancestor: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly entries: readonly ReplicaEntry[];
  /** The mounts made in it, with their target relative to the ancestor. */
  readonly mounts: readonly { readonly mount: ViewMount; readonly relative: string }[];
}

export interface ViewPlan {
  /** Shallowest first: a replica of / is in place before one below it is made. */
  readonly groups: readonly ReplicaGroup[];
  /** Mounts on targets that exist. */
  readonly existing: readonly ViewMount[];
}

/** At most this many entries are replicated in one directory (five ops each). */
export const MAX_REPLICA_ENTRIES = 400;

export class ViewPlanError extends Error {}

type Root = Pick<ResolvedTarget, 'pid' | 'pidfd'> | 'self';

/**
 * Look at each target in the container's root (through /proc/<init>/root,
 * RESOLVE_IN_ROOT, no magic link): an existing one must be of the source's
 * kind (directory or not); for a missing one, the nearest existing ancestor
 * is listed for replication, with its owners as host ids: the replica is
 * made by host root, before the container's user namespace is joined.
 */
export function planView(libc: Libc, root: Root, mounts: readonly ViewMount[]): ViewPlan {
  const existing: ViewMount[] = [];
  const groups = new Map<string, { ancestor: string; mode: number; uid: number; gid: number; entries: ReplicaEntry[]; mounts: { mount: ViewMount; relative: string }[] }>();
  for (const mount of mounts) {
    const parts = mount.target.split('/').filter(Boolean);
    const wantsDir = mount.source.kind === 'files' || mount.source.directory;
    for (let i = parts.length; i >= 0; i--) {
      const prefix = `/${parts.slice(0, i).join('/')}`;
      const fd = tryOpen(libc, root, prefix);
      if (fd === undefined) continue;
      try {
        const st = fstatSync(fd);
        if (i === parts.length) {
          if (st.isDirectory() !== wantsDir) {
            throw new ViewPlanError(`${mount.target} is ${st.isDirectory() ? 'a directory' : 'not a directory'} in the container, and ${mount.source.label} is ${wantsDir ? 'one' : 'not'}`);
          }
          existing.push(mount);
        } else {
          if (!st.isDirectory()) throw new ViewPlanError(`${prefix} is not a directory in the container: ${mount.target} cannot be made below it`);
          let group = groups.get(prefix);
          if (!group) {
            group = { ancestor: prefix, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, entries: listEntries(fd, prefix), mounts: [] };
            groups.set(prefix, group);
          }
          const first = group.entries.find((e) => e.name === parts[i]);
          if (first) throw new ViewPlanError(`${posix.join(prefix, first.name)} is a dangling symlink in the container: ${mount.target} cannot be made through it`);
          group.mounts.push({ mount, relative: parts.slice(i).join('/') });
        }
      } finally {
        closeSync(fd);
      }
      break;
    }
  }
  const depth = (p: string) => p.split('/').filter(Boolean).length;
  return { groups: [...groups.values()].sort((a, b) => depth(a.ancestor) - depth(b.ancestor)), existing };
}

function tryOpen(libc: Libc, root: Root, path: string): number | undefined {
  try {
    return openInRoot(libc, root, path === '/' ? '.' : path, O_PATH | O_CLOEXEC);
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 2 || err.errno === 20)) return undefined; // ENOENT, ENOTDIR
    throw err;
  }
}

/** The entries of the directory open at `fd` (O_PATH), read through our own fd, never a path of the container. */
function listEntries(fd: number, where: string): Array<Omit<ReplicaEntry, 'uid' | 'gid'> & { uid: number; gid: number }> {
  const dir = `/proc/self/fd/${fd}`;
  const names = readdirSync(dir);
  if (names.length > MAX_REPLICA_ENTRIES) {
    throw new ViewPlanError(`${where} has ${names.length} entries, more than the ${MAX_REPLICA_ENTRIES} a private view replicates: make the target below a smaller directory`);
  }
  return names.flatMap((name) => {
    try {
      const st = lstatSync(posix.join(dir, name));
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      return [{ name, type, ...(type === 'symlink' ? { link: readlinkSync(posix.join(dir, name)) } : {}), uid: st.uid, gid: st.gid } as const];
    } catch {
      return []; // gone since it was listed
    }
  });
}
