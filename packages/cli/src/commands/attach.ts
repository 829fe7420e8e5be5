import { Flags } from '@oclif/core';
import type { AttachRequest, Pipeline } from '@attachkit/core';
import { proxyTerminal, PTY } from '@attachkit/pty-plugin';
import { positionals } from '../argv.js';
import { BaseCommand } from '../base-command.js';
import { attachFlags, toRequest } from '../flags.js';
import { cliLog, type CliLog } from '../log.js';
import { defaultPipeline } from '../pipeline.js';
import { SignalForwarder } from '../signals.js';

export default class Attach extends BaseCommand {
  static override summary = 'Run a command inside a running container or process, with its isolation';
  static override usage = ['-n NAME [OPTIONS] [-- COMMAND [ARG...]]', '--pid PID [OPTIONS] [-- COMMAND [ARG...]]'];
  static override examples = [
    '<%= config.bin %> -n c1 -- hostname',
    '<%= config.bin %> --pid 4089 -- hostname',
    '<%= config.bin %> --pid 4089 --clear-env -v LANG=C.UTF-8 -- env',
    '<%= config.bin %> -n c1 -d -- sleep 600',
  ];
  static override strict = false;
  static override flags = {
    ...attachFlags,
    detach: Flags.boolean({ char: 'd', description: 'start the command with its stdio on /dev/null, print its pid and return (as runc exec -d)' }),
    json: Flags.boolean({ description: 'with -d: print {"pid": N} as JSON' }),
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Attach);
    const parsed = toRequest(flags, positionals(raw));
    // Detached: no terminal, no stdio of ours; the command outlives us.
    const request: AttachRequest = flags.detach ? { ...parsed, stdio: ['ignore', 'ignore', 'ignore'] } : parsed;
    const log = cliLog();
    const pipeline = withLogging(defaultPipeline(), request, log);
    const signals = new SignalForwarder();
    try {
      const proc = await pipeline.spawn(request);
      log.write('INFO', 'attach', `started: pid ${proc.pid}`);
      if (flags.detach) {
        proc.release();
        process.stdout.write(flags.json ? `${JSON.stringify({ pid: proc.pid })}\n` : `${proc.pid}\n`);
        return;
      }
      const pty = proc.get(PTY);
      signals.attach(proc, pty);
      const result = await (pty ? proxyTerminal(proc, pty) : proc.exited);
      log.write('INFO', 'attach', `exited: status ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`);
      process.exitCode = result.exitCode;
    } finally {
      signals.stop();
    }
  }
}

/** With -o: the request and the resolved stages at DEBUG, and the target as soon as it is resolved, through a stage of its own. */
function withLogging(pipeline: Pipeline, request: AttachRequest, log: CliLog): Pipeline {
  if (log.enabled('DEBUG')) {
    log.write('DEBUG', 'attach', `request: ${JSON.stringify({ ...request, env: undefined })}`);
    for (const s of pipeline.describe(request)) log.write('DEBUG', 'stages', `${s.id} ${s.enabled ? 'on' : 'off'} (${s.reason})`);
  }
  if (!log.enabled('INFO')) return pipeline;
  return pipeline.clone().add({
    id: 'log-target',
    description: 'log the resolved target (-o)',
    after: ['resolve-target'],
    before: ['exec'],
    plan: (ctx) => log.write('INFO', 'attach', `target: ${ctx.target.description}`),
  });
}
