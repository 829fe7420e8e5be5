/**
 * Where a process's cgroups are on the host, on v1, v2 and hybrid layouts:
 * /proc/<pid>/cgroup names a path per hierarchy; the mount table says where
 * each hierarchy is mounted.
 */

/** A mounted cgroup hierarchy. */
export interface Hierarchy {
  /** `unified` for cgroup2; for v1 its controllers joined by ',' (`cpu,cpuacct`, `name=systemd`). */
  readonly id: string;
  readonly unified: boolean;
  readonly controllers: readonly string[];
  readonly mountPoint: string;
  /** The cgroup path mounted there (`/` unless we are in a cgroup namespace). */
  readonly mountRoot: string;
}

/** One line of /proc/<pid>/cgroup. */
export interface Membership {
  readonly controllers: readonly string[];
  readonly path: string;
}

/** A process's cgroup in one hierarchy, as a host directory. */
export interface CgroupPlacement {
  readonly hierarchy: Hierarchy;
  /** The cgroup path (as /proc/<pid>/cgroup shows it from the host). */
  readonly path: string;
  /** Its directory on the host. */
  readonly dir: string;
}

// v1 super options that are not controllers.
const GENERIC_OPTIONS = new Set(['rw', 'ro', 'xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

/** cgroup and cgroup2 mounts from /proc/<pid>/mountinfo; the first mount of each hierarchy wins. */
export function parseMountinfo(text: string): Hierarchy[] {
  const found = new Map<string, Hierarchy>();
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const mountRoot = unescapeMount(left[3] ?? '/');
    const mountPoint = unescapeMount(left[4] ?? '');
    if (fstype === 'cgroup2') {
      if (!found.has('unified')) found.set('unified', { id: 'unified', unified: true, controllers: [], mountPoint, mountRoot });
    } else if (fstype === 'cgroup') {
      const controllers = superOptions.split(',').filter((o) => !GENERIC_OPTIONS.has(o) && !o.startsWith('release_agent='));
      const id = controllers.join(',');
      if (id && !found.has(id)) found.set(id, { id, unified: false, controllers, mountPoint, mountRoot });
    }
  }
  return [...found.values()];
}

/** The lines of /proc/<pid>/cgroup: `hierarchy-id:controllers:path`. */
export function parseProcCgroup(text: string): Membership[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    const list = line.slice(first + 1, second);
    return { controllers: list ? list.split(',') : [], path: line.slice(second + 1) };
  });
}

/** Each membership's host directory, for the hierarchies that are mounted here. */
export function place(memberships: readonly Membership[], hierarchies: readonly Hierarchy[]): CgroupPlacement[] {
  const placements: CgroupPlacement[] = [];
  for (const m of memberships) {
    const hierarchy = m.controllers.length === 0
      ? hierarchies.find((h) => h.unified)
      : hierarchies.find((h) => !h.unified && m.controllers.every((c) => h.controllers.includes(c)));
    if (!hierarchy) continue;
    const root = hierarchy.mountRoot === '/' ? '' : hierarchy.mountRoot;
    if (root && m.path !== root && !m.path.startsWith(`${root}/`)) continue; // outside what is mounted here
    const rel = m.path.slice(root.length);
    placements.push({ hierarchy, path: m.path, dir: `${hierarchy.mountPoint}${rel === '/' ? '' : rel}` });
  }
  return placements;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
