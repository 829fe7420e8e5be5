import { Command } from '@oclif/core';
import { AttachError } from '@attachkit/core';
import { cliLog } from './log.js';
import { oneLine } from './one-line.js';

/**
 * Every failure ends as one line on stderr (a JSON object with --json) and in
 * the -o log, and status 1 (an AttachError's own status), never a stack
 * trace. -q drops the line of a failed attach, not of a usage error (as
 * lxc-attach's -q); a usage error is status 1 too, as lxc-attach's (oclif's
 * would be 2).
 */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    cliLog().error(oneLine(err.message), err);
    process.exitCode = err instanceof AttachError ? err.exitCode : err.oclif?.exit === 0 ? 0 : 1;
  }
}
