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
