import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { runChecks } from '../doctor.js';

export default class Doctor extends BaseCommand {
  static override summary = 'Check what this host offers an attach: pidfds, setns by pidfd, cgroups, LSMs, user namespaces, seccomp, LXC';
  static override flags = {
    lxcpath: Flags.string({ char: 'P', description: 'the container path to look at (default /var/lib/lxc)' }),
    json: Flags.boolean({ description: 'print JSON' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor);
    const checks = await runChecks(flags.lxcpath);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
    } else {
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) process.stdout.write(`${{ ok: 'ok  ', warn: 'warn', fail: 'FAIL' }[c.status]}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    }
    if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
  }
}
