import { readdirSync, readFileSync } from 'node:fs';
import type { AttachedProcess, ContainerConfig, Stage, StageContext } from '@attachkit/core';

/** Collect a piped attached process's output and its result. */
/** The command's status and piped output (AttachedProcess.output(), without the signal name). */
export async function collect(proc: AttachedProcess): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { exitCode, stdout, stderr } = await proc.output();
  return { exitCode, stdout, stderr };
}

/** A stage built from a plan function, for tests. */
export function stage(id: string, plan: (ctx: StageContext) => void, extra: Partial<Stage> = {}): Stage {
  return { id, description: `test stage ${id}`, plan, ...extra };
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Children of this process (all threads), with their state letter. */
export function children(): Array<{ pid: number; state: string }> {
  const pids = readdirSync('/proc/self/task').flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
  return pids.map((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return { pid, state: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]! };
    } catch {
      return { pid, state: 'gone' };
    }
  });
}

/** A container config from key → values, as a resolver by name would provide it. */
export function config(entries: Record<string, readonly string[]>): ContainerConfig {
  const getAll = (key: string) => entries[key] ?? [];
  return { getAll, get: (key) => getAll(key).at(-1) };
}
