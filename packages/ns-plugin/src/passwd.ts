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

/** One line of passwd(5); `undefined` for a comment, a short line or a non-numeric id. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.split(':');
  if (f.length < 7 || line.startsWith('#')) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0]!, uid, gid, home: f[5]!, shell: f[6]! };
}

/** One line of group(5); `undefined` for a comment, a short line or a non-numeric gid. */
export function parseGroupLine(line: string): GroupEntry | undefined {
  const f = line.split(':');
  if (f.length < 3 || line.startsWith('#')) return undefined;
  const gid = Number(f[2]);
  return Number.isInteger(gid) ? { name: f[0]!, gid } : undefined;
}

/** The entries of `lines`, parsed one line at a time (a stream of lines from readLinesInRoot, or a split text). */
export function parseLines<T>(lines: Iterable<string>, parseLine: (line: string) => T | undefined): T[] {
  const entries: T[] = [];
  for (const line of lines) {
    const entry = parseLine(line);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return parseLines(text.split('\n'), parsePasswdLine);
}

export function parseGroup(text: string): GroupEntry[] {
  return parseLines(text.split('\n'), parseGroupLine);
}
