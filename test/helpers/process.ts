import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { AttachedProcess } from '@attachkit/core';

export async function collect(proc: AttachedProcess): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const read = (s: NodeJS.ReadableStream | null) => new Promise<string>((resolve) => {
    if (!s) return resolve('');
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
  });
  const [stdout, stderr, result] = await Promise.all([read(proc.stdout), read(proc.stderr), proc.exited]);
  return { exitCode: result.exitCode, stdout, stderr };
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** This process's children that are zombies. */
export function zombies(): number[] {
  return readdirSync('/proc/self/task')
    .flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      } catch {
        return false;
      }
    });
}

export function nsLink(pid: number | 'self', ns: string): string {
  return readlinkSync(`/proc/${pid}/ns/${ns}`);
}
