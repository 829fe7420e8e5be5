import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { completionScript, type CommandFlags } from '../completion.js';
import Attach from './attach.js';
import Doctor from './doctor.js';
import Stages from './stages.js';

/**
 * Shell completion, in place of @oclif/plugin-autocomplete's (the root
 * plugin's command wins over a core plugin's of the same id): that one's
 * bash script runs `grep` with the words typed so far as its pattern
 * (`grep: invalid option -- ':'` after `-n c1`) and completes no value.
 */
export default class Autocomplete extends BaseCommand {
  static override summary = 'Shell completion (bash, zsh): print the script, or how to install it';
  static override description = 'Completes the commands and their flags, container names after -n (the containers of -P, else of the default lxcpath), OCI container ids after --oci, and LXC priorities after -l.';
  static override examples = [
    'eval "$(<%= config.bin %> autocomplete bash)"   # in ~/.bashrc',
    'eval "$(<%= config.bin %> autocomplete zsh)"    # in ~/.zshrc',
  ];
  static override flags = {
    'refresh-cache': Flags.boolean({
      char: 'r',
      description: "write the scripts where @oclif/plugin-autocomplete's setup lines source them (<cache>/autocomplete/{bash,zsh}_setup), for shells set up that way",
    }),
  };
  static override args = {
    shell: Args.string({ description: 'the shell to print the script for', options: ['bash', 'zsh'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Autocomplete);
    const commands: CommandFlags = { attach: Attach.flags, stages: Stages.flags, doctor: Doctor.flags };
    if (flags['refresh-cache']) {
      const dir = join(this.config.cacheDir, 'autocomplete');
      for (const shell of ['bash', 'zsh'] as const) {
        const script = join(dir, 'functions', shell, `${this.config.bin}.${shell}`);
        mkdirSync(join(dir, 'functions', shell), { recursive: true });
        writeFileSync(script, completionScript(shell, commands));
        writeFileSync(join(dir, `${shell}_setup`), `test -f '${script}' && source '${script}'\n`);
      }
      return;
    }
    if (args.shell === 'bash' || args.shell === 'zsh') {
      process.stdout.write(completionScript(args.shell, commands));
      return;
    }
    const shell = (process.env.SHELL ?? '').endsWith('zsh') ? 'zsh' : 'bash';
    process.stdout.write(`To complete attachkit's commands, flags, container names (-n) and OCI ids (--oci), add this line to ~/.${shell}rc:\n\n  eval "$(attachkit autocomplete ${shell})"\n\nthen start a new shell (or run that line in this one).\n`);
  }
}
