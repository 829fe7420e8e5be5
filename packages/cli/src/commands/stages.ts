import { Flags } from '@oclif/core';
import { positionals } from '../argv.js';
import { BaseCommand } from '../base-command.js';
import { attachFlags, toRequest } from '../flags.js';
import { defaultPipeline } from '../pipeline.js';

export default class Stages extends BaseCommand {
  static override summary = 'Show the resolved stage pipeline for these options: order, and which stages are on and why';
  static override strict = false;
  static override flags = {
    ...attachFlags,
    json: Flags.boolean({ description: 'print JSON' }),
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Stages);
    const plan = defaultPipeline().describe(toRequest({ ...flags, ...(flags.pid === undefined && flags.name === undefined ? { pid: 1 } : {}) }, positionals(raw)));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      return;
    }
    const width = Math.max(...plan.map((s) => s.id.length));
    plan.forEach((s, i) => {
      const state = s.enabled ? 'on ' : 'off';
      process.stdout.write(`${String(i + 1).padStart(2)}. ${s.id.padEnd(width)}  ${state}  ${s.description}${s.enabled ? '' : ` (${s.reason})`}\n`);
    });
  }
}
