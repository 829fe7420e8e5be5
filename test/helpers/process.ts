import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AssertionError } from 'node:assert/strict';
import type { AttachedProcess, AttachError } from '@attachkit/core';

/** The command's status and piped output (AttachedProcess.output(), without the signal name). */
export async function collect(proc: AttachedProcess): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { exitCode, stdout, stderr } = await proc.output();
  return { exitCode, stdout, stderr };
}

/** The error of an attach that must fail; one that started anyway is waited for (never left a zombie) and fails the test. */
export async function refusal(spawning: Promise<AttachedProcess>): Promise<AttachError> {
  let started: AttachedProcess;
  try {
    started = await spawning;
  } catch (err) {
    return err as AttachError;
  }
  throw new AssertionError({ message: `the attach was not refused: ${JSON.stringify(await collect(started))}` });
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Children of process `pid` (all its threads), with their state letter (R, S, T, Z, ...). */
export function children(pid: number | 'self' = 'self'): Array<{ pid: number; state: string }> {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }).map((child) => ({ pid: child, state: stateOf(child) }));
}

/** The state letter of a process (`R`, `S`, `T`, `Z`…), or `gone`. */
export function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

/** This process's children that are zombies. */
export function zombies(): number[] {
  return children().filter((c) => c.state === 'Z').map((c) => c.pid);
}

/** The first child of `parent` seen stopped (state T), waiting up to `ms`. */
export async function stoppedChild(parent: number | 'self' = 'self', ms = 5000): Promise<number> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) {
    const stopped = children(parent).find((c) => c.state === 'T');
    if (stopped) return stopped.pid;
  }
  throw new Error(`no child of ${parent} stopped within ${ms} ms`);
}

/** A process's pid in its own (innermost) pid namespace. */
export function innerPid(pid: number): number {
  return Number(/^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Pids of every process in the pid namespace of `pid` (as the host numbers them), but `pid` itself. */
export function pidNamespaceMembers(pid: number): number[] {
  const ns = readlinkSync(`/proc/${pid}/ns/pid`);
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      return p !== pid && readlinkSync(`/proc/${p}/ns/pid`) === ns;
    } catch {
      return false;
    }
  });
}

export function nsLink(pid: number | 'self', ns: string): string {
  return readlinkSync(`/proc/${pid}/ns/${ns}`);
}
