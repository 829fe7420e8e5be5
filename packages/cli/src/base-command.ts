import { Command } from '@oclif/core';
import { AttachError } from '@attachkit/core';
import { cliLog } from './log.js';
import { oneLine } from './one-line.js';

/** Every failure ends as one line on stderr (none with -q) and in the -o log, and a non-zero status, never a stack trace. */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    cliLog().error(oneLine(err.message));
    process.exitCode = err instanceof AttachError ? err.exitCode : err.oclif?.exit ?? 1;
  }
}

