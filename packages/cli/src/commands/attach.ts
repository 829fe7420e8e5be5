import { proxyTerminal, PTY } from '@attachkit/pty-plugin';
import { BaseCommand } from '../base-command.js';
import { attachFlags, toRequest } from '../flags.js';
import { defaultPipeline } from '../pipeline.js';
import { SignalForwarder } from '../signals.js';

export default class Attach extends BaseCommand {
  static override summary = 'Run a command inside a running container or process, with its isolation';
  static override usage = ['-n NAME [OPTIONS] [-- COMMAND [ARG...]]', '--pid PID [OPTIONS] [-- COMMAND [ARG...]]'];
  static override examples = [
    '<%= config.bin %> -n c1 -- hostname',
    '<%= config.bin %> --pid 4089 -- hostname',
    '<%= config.bin %> --pid 4089 --clear-env -v LANG=C.UTF-8 -- env',
  ];
  static override strict = false;
  static override flags = attachFlags;

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Attach);
    const request = toRequest(flags, argv as string[]);
    const signals = new SignalForwarder();
    try {
      const proc = await defaultPipeline().spawn(request);
      const pty = proc.get(PTY);
      signals.attach(proc, pty);
      const result = await (pty ? proxyTerminal(proc, pty) : proc.exited);
      process.exitCode = result.exitCode;
    } finally {
      signals.stop();
    }
  }
}
