import { readFileSync } from 'node:fs';

/** One line of /proc/<pid>/uid_map or gid_map: ids [inside, inside+count) are host ids [outside, ...). */
export interface IdRange {
  readonly inside: number;
  readonly outside: number;
  readonly count: number;
}

export function parseIdMap(text: string): IdRange[] {
  return text.split('\n').flatMap((line) => {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    return inside === undefined || outside === undefined || count === undefined || Number.isNaN(count) ? [] : [{ inside, outside, count }];
  });
}

export function isMapped(map: readonly IdRange[], id: number): boolean {
  return map.some((r) => id >= r.inside && id < r.inside + r.count);
}

/** The id inside the namespace that host id `host` maps to, if any. */
export function insideId(map: readonly IdRange[], host: number): number | undefined {
  const r = map.find((m) => host >= m.outside && host < m.outside + m.count);
  return r === undefined ? undefined : host - r.outside + r.inside;
}

export function describeMap(map: readonly IdRange[]): string {
  return map.map((r) => `${r.inside} ${r.outside} ${r.count}`).join(', ') || 'empty';
}

/**
 * The host uid and gid of the root of `pid`'s user namespace, when that
 * namespace maps root elsewhere than host root (an unprivileged container);
 * undefined otherwise. Files made for the container on its behalf (a cgroup
 * leaf, a pty) are given to it, as LXC makes them from inside.
 */
export function namespaceRootOwner(pid: number, procRoot = '/proc'): { uid: number; gid: number } | undefined {
  const rootOf = (file: string) => parseIdMap(readFileSync(`${procRoot}/${pid}/${file}`, 'utf8')).find((r) => r.inside === 0)?.outside;
  const uid = rootOf('uid_map');
  const gid = rootOf('gid_map');
  return uid === undefined || gid === undefined || (uid === 0 && gid === 0) ? undefined : { uid, gid };
}
