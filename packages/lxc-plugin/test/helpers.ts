import type { AttachedProcess, ContainerConfig, Stage, StageContext } from '@attachkit/core';

/** The command's status and piped output (AttachedProcess.output(), without the signal name). */
export async function collect(proc: AttachedProcess): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { exitCode, stdout, stderr } = await proc.output();
  return { exitCode, stdout, stderr };
}

/** A stage built from a plan function, for tests. */
export function stage(id: string, plan: (ctx: StageContext) => void, extra: Partial<Stage> = {}): Stage {
  return { id, description: `test stage ${id}`, plan, ...extra };
}

export function config(entries: Record<string, readonly string[]>): ContainerConfig {
  const getAll = (key: string) => entries[key] ?? [];
  return { getAll, get: (key) => getAll(key).at(-1) };
}
