import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';
import { expandBareElevated } from './argv.js';
import { splitCommand } from './command-line.js';
import { CliLog, logOptionsFrom, setCliLog } from './log.js';
import { tolerateMissingPasswdEntry } from './no-passwd.js';
import { oneLine } from './one-line.js';

/** Commands that take an attach's options and a command; anything but the others is an attach, so `attachkit --pid 1 -- id` works as lxc-attach's line does. */
const ATTACH_LIKE = new Set(['attach', 'stages']);
const OTHERS = new Set(['doctor', 'autocomplete']);
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);
/** Where oclif finds the CLI's package.json. */
export const CLI_ROOT = dirname(fileURLToPath(PACKAGE_JSON));

export interface MainOptions {
  /** What oclif loads: the CLI_ROOT package, or the start-up snapshot's plugins. */
  readonly oclif?: Interfaces.Options;
  /** How this process started, for the log at DEBUG (docs/startup.md). */
  readonly startup?: string;
}

/** The launcher's name for NODE_EXTRA_CA_CERTS (native/launcher.c). */
const HIDDEN_EXTRA_CA = 'ATTACHKIT_NODE_EXTRA_CA_CERTS';
const PREFIX = 'ATTACHKIT_';
/** What makes node load code from a path it names: the launcher hides them from node's start in a privileged process (native/launcher.c). */
const CODE_LOADERS = new Set(['NODE_OPTIONS', 'NODE_PATH', 'OPENSSL_CONF', 'OPENSSL_MODULES', 'OPENSSL_ENGINES', 'LD_PRELOAD', 'LD_AUDIT']);

/** A code loader's name with ATTACHKIT_ before it (once or more): its name without the one the launcher added. */
function loaderName(name: string): string | undefined {
  if (!name.startsWith(PREFIX)) return undefined;
  let bare = name;
  while (bare.startsWith(PREFIX)) bare = bare.slice(PREFIX.length);
  return CODE_LOADERS.has(bare) ? name.slice(PREFIX.length) : undefined;
}

/**
 * The names the launcher changed for node's start given back, each in its
 * place: NODE_EXTRA_CA_CERTS, and in a privileged process the code loaders
 * (NODE_OPTIONS...). The environment is the command's as the caller gave
 * it, in order. (Node read those variables at its start only.)
 */
function restoreEnvironment(): void {
  const extraCa = process.env[HIDDEN_EXTRA_CA] !== undefined && process.env.NODE_EXTRA_CA_CERTS === undefined;
  const entries = Object.entries(process.env);
  const names = entries.map(([name]) => (extraCa && name === HIDDEN_EXTRA_CA ? 'NODE_EXTRA_CA_CERTS' : loaderName(name) ?? name));
  if (names.every((name, i) => name === entries[i]![0])) return;
  for (const [name] of entries) delete process.env[name];
  entries.forEach(([, value], i) => { process.env[names[i]!] = value; });
}

/** `attachkit ARGS`: route to a command (attach by default) and run it under oclif. */
export async function main(argv: readonly string[], { oclif = { root: CLI_ROOT }, startup = 'from the modules' }: MainOptions = {}): Promise<void> {
  restoreEnvironment();
  tolerateMissingPasswdEntry();
  const first = argv[0];
  let routed: string[];
  if (first === 'help') {
    routed = [...argv.slice(1, 2), '--help']; // `help [COMMAND]`, as oclif's help plugin would; `help` alone lists the commands
  } else if (first !== undefined && OTHERS.has(first)) {
    routed = [...argv];
  } else {
    // -h, -? and --help give the attach's help, as lxc-attach's; its options end where its command starts (command-line.ts).
    const [id, rest] = first !== undefined && ATTACH_LIKE.has(first) ? [first as 'attach' | 'stages', argv.slice(1)] : ['attach' as const, argv];
    const { COMMANDS } = await import('./commands/index.js');
    routed = [id, ...expandBareElevated(splitCommand(rest, COMMANDS[id].flags))];
  }
  if (routed.slice(0, routed.includes('--') ? routed.indexOf('--') : routed.length).includes('--version')) {
    // As lxc-attach --version: the version alone, on stdout; no framework to run for it.
    process.stdout.write(`${(JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version}\n`);
    return;
  }
  const log = new CliLog(logOptionsFrom(routed));
  setCliLog(log);
  log.write('DEBUG', 'startup', startup);
  const { run, flush } = await import('@oclif/core');
  try {
    // No user plugins: oclif would read $HOME's data dir, a warning under sudo without -H (EACCES on /root).
    await run(routed, { ...oclif, userPlugins: false });
    // Terminal writes are synchronous: nothing to flush. And a terminal that
    // hung up during the attach would fail even this empty write (EIO).
    if (!process.stdout.isTTY) await flush();
  } catch (err) {
    // Errors from oclif itself (unknown command...): one line, as every attachkit error.
    log.error(oneLine(err instanceof Error ? err.message : String(err)), err);
    process.exitCode = (err as { oclif?: { exit?: number } }).oclif?.exit === 0 ? 0 : 1;
  }
}
