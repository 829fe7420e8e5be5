import type { InjectionToken } from '../di.js';
import type { IntermediateProcess } from '../executor/launch.js';
import type { SyscallDefinitions } from '../libc/syscalls.js';
import type { StageContext } from './context.js';
import type { AttachRequest } from './request.js';

/**
 * A reference to another stage in an ordering constraint. A plain id must be
 * in the pipeline (else the pipeline refuses to build); `{ id, optional: true }`
 * orders against a stage only when it is present, for stages of other plugins.
 */
export type StageRef = string | { readonly id: string; readonly optional: true };

/** Whether a stage takes part in an attach, and why: `attachkit stages` prints both. */
export interface StageToggle {
  readonly enabled: boolean;
  readonly reason: string;
}

/**
 * An attach stage. Stages run in the Node parent, in the order their
 * constraints give; each does its parent-side work (open fds, read /proc and
 * config) and emits the child-side effects into the pre-exec program.
 *
 * Register one under the STAGE multi-injection token, usually through a plugin:
 *   container.register(STAGE, { useClass: MyStage })
 */
export interface Stage {
  /** Unique, kebab-case, named for what it does: `join-namespaces`. */
  readonly id: string;
  /** One line for `attachkit stages`. */
  readonly description: string;
  /** Stages this one must be planned after. */
  readonly after?: readonly StageRef[];
  /** Stages this one must be planned before. */
  readonly before?: readonly StageRef[];
  /**
   * Syscalls the core's table lacks that this stage emits by name, with
   * their numbers per architecture: `{ getcpu: { x64: 309, arm64: 168 } }`.
   * A number that disagrees with the core's or another stage's is refused
   * when the pipeline is ordered (AK_SYSCALL_TABLE).
   */
  readonly syscalls?: SyscallDefinitions;
  /** On or off for this request (the -e / -s toggles), decided from the request alone. Default: on. */
  toggle?(request: AttachRequest): StageToggle;
  /** Parent-side work; emits child-side effects through ctx.program. */
  plan(ctx: StageContext): void | Promise<void>;
  /**
   * Parent-side work while the intermediate waits at the sync point, before
   * it joins anything. Without any, the program has no sync point: leave it
   * undefined rather than empty.
   */
  atSyncPoint?(ctx: StageContext, intermediate: IntermediateProcess): void | Promise<void>;
}

/** The multi-injection token every stage is registered under. */
export const STAGE: InjectionToken<Stage> = Symbol.for('attachkit.stage');

export const enabledByDefault: StageToggle = { enabled: true, reason: 'always' };

/** An ordering reference to a stage of another plugin, honoured only when that stage is present. */
export function optional(id: string): StageRef {
  return { id, optional: true };
}

export function refId(ref: StageRef): string {
  return typeof ref === 'string' ? ref : ref.id;
}
