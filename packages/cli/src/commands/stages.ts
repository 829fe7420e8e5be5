import { Flags } from '@oclif/core';
import { AttachError, CONTAINER_MODEL, ErrorCodes, type AttachRequest, type Pipeline, type StagePlanEntry, type StageToggle } from '@attachkit/core';
import { positionals } from '../argv.js';
import { BaseCommand } from '../base-command.js';
import { attachFlags, toRequest } from '../flags.js';
import { defaultPipeline } from '../pipeline.js';

export default class Stages extends BaseCommand {
  static override summary = 'Show the resolved stage pipeline for these options: order, and which stages are on and why';
  static override description = [
    'With a target (-n NAME, NAME, --pid or --oci), the target is resolved as an attach would resolve it (an unknown or stopped',
    "container fails as the attach would), and the stages that only act when the container asks (its seccomp profile, no_new_privs,",
    "resource limits, oom_score_adj, umask) are shown on or off for it. Without one, what these options turn on or off.",
  ].join(' ');
  static override strict = false;
  static override flags = {
    ...attachFlags,
    json: Flags.boolean({ description: 'print JSON (and errors as JSON on stderr)' }),
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Stages);
    const args = positionals(raw);
    const targeted = flags.pid !== undefined || flags.name !== undefined || flags.oci !== undefined || args.length > 0;
    const request = toRequest(targeted ? flags : { ...flags, pid: 1 }, args);
    const pipeline = defaultPipeline();
    let plan = pipeline.describe(request);
    let target: string | undefined;
    if (targeted) ({ plan, target } = await forTarget(pipeline, request, plan));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      return;
    }
    if (target !== undefined) process.stdout.write(`target: ${target}\n`);
    const width = Math.max(...plan.map((s) => s.id.length));
    plan.forEach((s, i) => {
      const state = s.enabled ? 'on ' : 'off';
      process.stdout.write(`${String(i + 1).padStart(2)}. ${s.id.padEnd(width)}  ${state}  ${s.description}${s.enabled ? '' : ` (${s.reason})`}\n`);
    });
  }
}

/**
 * The plan for the resolved target: resolve-target runs alone (no executor,
 * nothing of the target is changed), and each stage that acts only when the
 * container's model asks is on or off by what the model says.
 */
async function forTarget(pipeline: Pipeline, request: AttachRequest, plan: StagePlanEntry[]): Promise<{ plan: StagePlanEntry[]; target: string }> {
  return pipeline.inspectTarget(request, (ctx) => {
    const target = ctx.target.description;
    const model = ctx.get(CONTAINER_MODEL);
    const ask = <T>(stage: string, read: () => T): T => {
      try {
        return read();
      } catch (err) {
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: ${(err as Error).message}`, { stage, cause: err });
      }
    };
    const toggle = (on: boolean, yes: string, no: string): StageToggle => ({ enabled: on, reason: on ? yes : `${target}: ${no}` });
    const byModel: Record<string, () => StageToggle> = {
      'load-seccomp': () => {
        const seccomp = ask('load-seccomp', () => model?.seccomp?.());
        return toggle(seccomp !== undefined, `${target}: ${seccomp?.from}`, 'no seccomp profile');
      },
      'no-new-privs': () => toggle(ask('no-new-privs', () => model?.noNewPrivileges?.()) === true, `${target} asks for it`, 'not asked for'),
      'set-rlimits': () => toggle((ask('set-rlimits', () => model?.rlimits?.()) ?? []).length > 0, `${target}: its limits`, 'no resource limits'),
      'set-oom-score-adj': () => toggle(ask('set-oom-score-adj', () => model?.oomScoreAdj?.()) !== undefined, `${target}: its oom_score_adj`, 'no oom_score_adj'),
      'set-umask': () => toggle(ask('set-umask', () => model?.umask?.()) !== undefined, `${target}: its umask`, 'no umask'),
    };
    return { target, plan: plan.map((s) => (s.enabled && byModel[s.id] ? { ...s, ...byModel[s.id]!() } : s)) };
  });
}
