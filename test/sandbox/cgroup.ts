import { readFileSync } from 'node:fs';

/** Where the unified (cgroup2) hierarchy is mounted: /sys/fs/cgroup on v2 hosts, /sys/fs/cgroup/unified on hybrid ones. */
export function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4];
  }
  return undefined;
}
