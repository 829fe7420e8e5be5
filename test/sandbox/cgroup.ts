import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { parseMountinfo, type Hierarchy } from '@attachkit/cgroup-plugin';

/** Every mounted cgroup hierarchy of this host: v1 controllers and the unified one. */
export function hierarchies(): Hierarchy[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/**
 * Make a cgroup named `name` under the root of every hierarchy, as LXC makes
 * its payload cgroups; returns the directories. cpuset v1 needs its cpus and
 * mems filled in before a process may join.
 */
export function makeCgroups(name: string): string[] {
  return hierarchies().map((h) => {
    const dir = `${h.mountPoint}/${name}`;
    mkdirSync(dir);
    if (h.controllers.includes('cpuset')) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(`${dir}/${file}`, readFileSync(`${h.mountPoint}/${file}`));
    }
    return dir;
  });
}

/** rmdir each directory; false while any is still busy. */
export function removeCgroups(dirs: readonly string[]): boolean {
  let done = true;
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') done = false;
    }
  }
  return done;
}
