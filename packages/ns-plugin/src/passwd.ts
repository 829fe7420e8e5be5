/** Entries of passwd(5) and group(5) files. */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) return [];
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return [];
    return [{ name: f[0]!, uid, gid, home: f[5]!, shell: f[6]! }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) return [];
    const gid = Number(f[2]);
    return Number.isInteger(gid) ? [{ name: f[0]!, gid }] : [];
  });
}
