import { fileURLToPath } from 'node:url';
import { expandBareElevated } from './argv.js';
import { oneLine } from './one-line.js';

/** Commands other than attach; anything else is an attach, so `attachkit --pid 1 -- id` works as lxc-attach's line does. */
const COMMANDS = new Set(['attach', 'stages', 'help']);
const PASS_THROUGH = new Set(['--help', '-h', '--version']);

/** `attachkit ARGS`: route to a command (attach by default) and run it under oclif. */
export async function main(argv: readonly string[]): Promise<void> {
  const first = argv[0];
  const args = expandBareElevated(argv);
  const routed = first !== undefined && (COMMANDS.has(first) || PASS_THROUGH.has(first)) ? args : ['attach', ...args];
  const { run, flush } = await import('@oclif/core');
  try {
    await run(routed, fileURLToPath(new URL('../../package.json', import.meta.url)));
    // Terminal writes are synchronous: nothing to flush. And a terminal that
    // hung up during the attach would fail even this empty write (EIO).
    if (!process.stdout.isTTY) await flush();
  } catch (err) {
    // Errors from oclif itself (unknown command...): one line, as every attachkit error.
    process.stderr.write(`attachkit: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = (err as { oclif?: { exit?: number } }).oclif?.exit ?? 1;
  }
}
