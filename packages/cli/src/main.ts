import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';
import { expandBareElevated } from './argv.js';
import { CliLog, logOptionsFrom, setCliLog } from './log.js';
import { oneLine } from './one-line.js';

/** Commands other than attach; anything else is an attach, so `attachkit --pid 1 -- id` works as lxc-attach's line does. */
const COMMANDS = new Set(['attach', 'stages', 'doctor', 'autocomplete']);
const PASS_THROUGH = new Set(['--help', '-h']);
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);
/** Where oclif finds the CLI's package.json. */
export const CLI_ROOT = dirname(fileURLToPath(PACKAGE_JSON));

export interface MainOptions {
  /** What oclif loads: the CLI_ROOT package, or the start-up snapshot's plugins. */
  readonly oclif?: Interfaces.LoadOptions;
  /** How this process started, for the log at DEBUG (docs/startup.md). */
  readonly startup?: string;
}

/** The launcher's name for NODE_EXTRA_CA_CERTS (native/launcher.c). */
const HIDDEN_EXTRA_CA = 'ATTACHKIT_NODE_EXTRA_CA_CERTS';

/**
 * NODE_EXTRA_CA_CERTS back under its own name and in its place, which the
 * launcher hid from node's start: the environment is the command's as the
 * caller gave it, in order. (Node read the variable at its start only.)
 */
function restoreEnvironment(): void {
  if (process.env[HIDDEN_EXTRA_CA] === undefined || process.env.NODE_EXTRA_CA_CERTS !== undefined) return;
  const entries = Object.entries(process.env);
  for (const [name] of entries) delete process.env[name];
  for (const [name, value] of entries) process.env[name === HIDDEN_EXTRA_CA ? 'NODE_EXTRA_CA_CERTS' : name] = value;
}

/** `attachkit ARGS`: route to a command (attach by default) and run it under oclif. */
export async function main(argv: readonly string[], { oclif = CLI_ROOT, startup = 'from the modules' }: MainOptions = {}): Promise<void> {
  restoreEnvironment();
  const options = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  if (options.includes('--version')) {
    // As lxc-attach --version: the version alone, on stdout; no framework to load for it.
    process.stdout.write(`${(JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version}\n`);
    return;
  }
  const log = new CliLog(logOptionsFrom(argv));
  setCliLog(log);
  log.write('DEBUG', 'startup', startup);
  const first = argv[0];
  const args = expandBareElevated(argv);
  const routed = first === 'help' ? [...args.slice(1, 2), '--help'] // `help [COMMAND]`, as oclif's help plugin would
    : first !== undefined && (COMMANDS.has(first) || PASS_THROUGH.has(first)) ? args : ['attach', ...args];
  const { run, flush } = await import('@oclif/core');
  try {
    await run(routed, oclif);
    // Terminal writes are synchronous: nothing to flush. And a terminal that
    // hung up during the attach would fail even this empty write (EIO).
    if (!process.stdout.isTTY) await flush();
  } catch (err) {
    // Errors from oclif itself (unknown command...): one line, as every attachkit error.
    log.error(oneLine(err instanceof Error ? err.message : String(err)));
    process.exitCode = (err as { oclif?: { exit?: number } }).oclif?.exit ?? 1;
  }
}
