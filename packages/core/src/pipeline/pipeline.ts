import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DependencyContainer } from '../di.js';
import { AttachError, coreCall, ErrorCodes } from '../errors.js';
import { abortReason, startExecutor, type StdioOption } from '../executor/launch.js';
import { LIBC, realLibc, type Libc } from '../libc/libc.js';
import { SyscallTable } from '../libc/syscalls.js';
import { AttachedProcess, TERMINAL, type AttachResult } from './attached.js';
import { AttachSession, escapedError, stageError, type StageContext } from './context.js';
import { orderStages } from './order.js';
import { stagesOf } from './registrations.js';
import { checkTty, normalizeEnv, type AttachRequest } from './request.js';
import { enabledByDefault, type Stage, type StageToggle } from './stage.js';

/** One line of `attachkit stages`. */
export interface StagePlanEntry {
  readonly id: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly reason: string;
}

/**
 * An ordered set of stages that attaches. Compose it (add, remove, replace),
 * then it freezes on first use: a pipeline that is attaching cannot change
 * under it. Derive a new one with clone().
 */
export class Pipeline {
  private readonly stages: Stage[];
  private frozen = false;
  private ordered: Stage[] | undefined;
  private syscalls: SyscallTable | undefined;

  constructor(stages: Iterable<Stage>, private readonly libc: Libc = realLibc()) {
    this.stages = [...stages];
  }

  /**
   * The stages of a container, and its LIBC when it has one (its own or a
   * parent's): what its plugins registered (createPipeline) and the STAGE
   * registrations it sees, one with the id of a plugin's stage in its place.
   */
  static fromContainer(container: DependencyContainer): Pipeline {
    const stages = stagesOf(container);
    const libc = container.isRegistered(LIBC, true) ? container.resolve(LIBC) : realLibc();
    return new Pipeline(stages, libc);
  }

  get ids(): string[] {
    return this.stages.map((s) => s.id);
  }

  has(id: string): boolean {
    return this.stages.some((s) => s.id === id);
  }

  get(id: string): Stage | undefined {
    return this.stages.find((s) => s.id === id);
  }

  add(...stages: Stage[]): this {
    this.mutable('add');
    this.stages.push(...stages);
    return this;
  }

  remove(id: string): this {
    this.mutable('remove');
    this.stages.splice(this.indexOf(id, 'remove'), 1);
    return this;
  }

  replace(id: string, stage: Stage): this {
    this.mutable('replace');
    this.stages.splice(this.indexOf(id, 'replace'), 1, stage);
    return this;
  }

  /** Validate the order and the stages' syscall declarations now, and refuse further changes. */
  freeze(): this {
    this.ordered ??= orderStages(this.stages);
    this.syscalls ??= new SyscallTable(this.ordered.map((s) => ({ owner: s.id, syscalls: s.syscalls })));
    this.frozen = true;
    return this;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** An unfrozen copy with the same stages. */
  clone(): Pipeline {
    return new Pipeline(this.stages, this.libc);
  }

  /** The stages in the order they plan. */
  order(): readonly Stage[] {
    return this.freeze().ordered!;
  }

  /** The resolved pipeline for a request: order, and which stages are on and why. */
  describe(request: AttachRequest): StagePlanEntry[] {
    return this.order().map((s) => ({ id: s.id, description: s.description, ...toggleOf(s, request) }));
  }

  /**
   * Resolve the target as spawn() would, with the resolve-target stage alone
   * (it needs no executor), and hand `use` a context that sees the target
   * and what its plugin published (CONTAINER_MODEL, …); what resolving
   * opened is released once `use` has returned. For tools that show what an
   * attach would do (`attachkit stages -n c1`).
   */
  async inspectTarget<T>(request: AttachRequest, use: (ctx: StageContext) => T | Promise<T>): Promise<T> {
    const stage = this.order().find((s) => s.id === 'resolve-target');
    if (!stage) throw new AttachError(ErrorCodes.STAGE_ORDER, "the pipeline has no 'resolve-target' stage");
    const session = new AttachSession(request, this.libc, this.syscalls);
    try {
      try {
        await stage.plan(session.contextFor(stage.id));
      } catch (err) {
        throw escapedError(stage.id, 'planning', err);
      }
      return await use(session.contextFor('inspect'));
    } finally {
      session.release(false);
    }
  }

  /** Start the command inside the target; resolves once it has been exec'd. */
  async spawn(request: AttachRequest): Promise<AttachedProcess> {
    const stages = this.order();
    const running = runningOptions(request);
    const session = new AttachSession(request, this.libc, this.syscalls);
    const planned: Stage[] = [];
    const start = startSignal(request);
    // Started first: its exec overlaps the planning.
    const executor = startExecutor(this.libc);
    let started = false;
    try {
      for (const stage of stages) {
        if (start.signal?.aborted) throw abortReason(start.signal.reason);
        if (!toggleOf(stage, request).enabled) continue;
        planned.push(stage);
        try {
          await stage.plan(session.contextFor(stage.id));
        } catch (err) {
          throw escapedError(stage.id, 'planning', err);
        }
      }
      if (request.tty && !session.published.has(TERMINAL.name)) {
        throw new AttachError(ErrorCodes.BAD_REQUEST, "tty: no stage of this pipeline gives the command a terminal (add @attachkit/pty-plugin's ptyPlugin())");
      }
      // The attached process dies with us until it has exec'd: it writes to
      // this pipe, whose only reader we hold (docs/architecture.md, "When
      // attachkit is killed").
      const [lifeline, given] = coreCall(ErrorCodes.EXECUTOR, 'making the lifeline pipe of the attached process', () => this.libc.pipe());
      session.defer(() => { this.libc.close(lifeline); this.libc.close(given); });
      session.program.setLifeline(given);
      const syncWork = planned.filter((s) => s.atSyncPoint);
      const launched = await executor.run(session.program, {
        sync: syncWork.length > 0,
        ...(start.signal ? { signal: start.signal } : {}),
        stdio: running.stdio,
        atSync: async (intermediate) => {
          for (const stage of syncWork) {
            try {
              await stage.atSyncPoint!(session.contextFor(stage.id), intermediate);
            } catch (err) {
              throw escapedError(stage.id, 'work at the sync point', err);
            }
          }
        },
      });
      const proc = new AttachedProcess(launched, this.libc, session.published);
      started = true;
      running.arm(proc);
      return proc;
    } finally {
      start.done();
      await executor.cancel(); // when planning failed; a no-op once it has run
      session.release(started);
    }
  }

  /** Run the command inside the target and wait for it. */
  async attach(request: AttachRequest): Promise<AttachResult> {
    return (await this.spawn(request)).exited;
  }

  private mutable(what: string): void {
    if (this.frozen) {
      throw new AttachError(ErrorCodes.PIPELINE_FROZEN, `cannot ${what} a stage: the pipeline is frozen (it has attached or been frozen); call clone() to derive a new pipeline`);
    }
  }

  private indexOf(id: string, what: string): number {
    const i = this.stages.findIndex((s) => s.id === id);
    if (i < 0) throw new AttachError(ErrorCodes.STAGE_ORDER, `cannot ${what} stage '${id}': no such stage (stages: ${this.ids.join(', ')})`);
    return i;
  }
}

/**
 * What gives up the start: the caller's AbortSignal, and the start timeout.
 * Either only until the command has been exec'd; then its life is its own.
 */
function startSignal(request: AttachRequest): { signal?: AbortSignal; done: () => void } {
  const { signal, startTimeout } = request;
  if (startTimeout === undefined) return signal ? { signal, done: () => undefined } : { done: () => undefined };
  if (!(Number.isFinite(startTimeout) && startTimeout > 0)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `startTimeout must be a positive number of milliseconds, not ${startTimeout}`);
  }
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new AttachError(ErrorCodes.ABORTED,
    `the command did not start within ${startTimeout} ms (is the container frozen, or its attached process stopped?): gave up`, { exitCode: 1 })), startTimeout);
  return { signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal, done: () => clearTimeout(timer) };
}

/**
 * What the request asks of the running command: the stdio (stdin a pipe for
 * `input`), the input to write, the timeout and its signal. Checked before
 * anything starts.
 */
function runningOptions(request: AttachRequest): { stdio: readonly [StdioOption, StdioOption, StdioOption]; arm: (proc: AttachedProcess) => void } {
  normalizeEnv(request.env); // refuse a malformed env before anything starts
  checkTty(request);
  const { input, timeout, killSignal = 'SIGTERM' } = request;
  let stdio = request.stdio ?? ['inherit', 'inherit', 'inherit'];
  if (input !== undefined) {
    if (request.stdio === undefined) stdio = ['pipe', 'inherit', 'inherit'];
    else if (request.stdio[0] !== 'pipe') {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `input needs stdin 'pipe' (or stdio absent), not ${JSON.stringify(request.stdio[0])}`);
    }
    if (!(typeof input === 'string' || input instanceof Uint8Array || input instanceof Readable)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, 'input must be a string, a Buffer or a Readable stream');
    }
  }
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `timeout must be a positive number of milliseconds, not ${timeout}`);
  }
  if (typeof killSignal === 'number' ? !Number.isInteger(killSignal) || killSignal <= 0 : !(killSignal in constants.signals)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `killSignal must be a signal name or number, not ${String(killSignal)}`);
  }
  return {
    stdio,
    arm: (proc) => {
      if (input !== undefined && proc.stdin) {
        const stdin = proc.stdin;
        // A command that exits without reading all of it: EPIPE ends the writing, quietly.
        if (input instanceof Readable) pipeline(input, stdin).catch(() => undefined);
        else {
          stdin.on('error', () => undefined);
          stdin.end(input);
        }
      }
      if (timeout !== undefined) {
        const timer = setTimeout(() => proc.kill(killSignal), timeout);
        timer.unref(); // the reaper keeps Node alive while the command runs and is waited for
        proc.exited.finally(() => clearTimeout(timer)).catch(() => undefined);
      }
    },
  };
}

function toggleOf(stage: Stage, request: AttachRequest): StageToggle {
  try {
    return stage.toggle?.(request) ?? enabledByDefault;
  } catch (err) {
    throw stageError(stage.id, 'deciding whether it takes part in the attach (toggle)', err);
  }
}
