import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { AttachedProcess } from '@attachkit/core';

/** The command's status and piped output (AttachedProcess.output(), without the signal name). */
export async function collect(proc: AttachedProcess): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { exitCode, stdout, stderr } = await proc.output();
  return { exitCode, stdout, stderr };
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
