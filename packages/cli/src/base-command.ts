import { Command } from '@oclif/core';
import { AttachError } from '@attachkit/core';
import { oneLine } from './one-line.js';

/** Every failure ends as one line on stderr and a non-zero status, never a stack trace. */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    process.stderr.write(`attachkit: ${oneLine(err.message)}\n`);
    process.exitCode = err instanceof AttachError ? err.exitCode : err.oclif?.exit ?? 1;
  }
}

