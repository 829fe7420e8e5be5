import { appendFileSync } from 'node:fs';
import { AttachError, ErrorCodes } from '@attachkit/core';

/** LXC's log priorities, most verbose first (src/lxc/log.h). */
export const LOG_PRIORITIES = ['TRACE', 'DEBUG', 'INFO', 'NOTICE', 'WARN', 'ERROR', 'CRIT', 'ALERT', 'FATAL'] as const;
export type LogPriority = (typeof LOG_PRIORITIES)[number];

/** What the CLI was told about logging and errors, read before the flags are parsed (errors can come from parsing). */
export interface LogOptions {
  /** -q: no error line on stderr (the exit status is unchanged). */
  readonly quiet: boolean;
  /** -o: the log file; LXC's "none" (the default) means no log. */
  readonly file: string | undefined;
  /** -l: the lowest priority written (default ERROR, as lxc-attach). */
  readonly priority: LogPriority;
  /** -n: the container's name, in each line as LXC writes it. */
  readonly name: string | undefined;
  /** --json: the error on stderr is a JSON object (errorJson), for tools that drive the CLI. */
  readonly json?: boolean;
}

/** What --json prints on stderr for an error: `{"error": {...}}`, every member present (null when it does not apply). */
export interface ErrorJson {
  readonly code: string;
  readonly stage: string | null;
  readonly operation: string | null;
  readonly syscall: string | null;
  readonly errno: number | null;
  readonly message: string;
}

/**
 * An error for tools: an AttachError's own code and details; anything else
 * was thrown before an attach began (a usage error: an unknown option, a
 * malformed value), AK_BAD_REQUEST.
 */
export function errorJson(message: string, err: unknown): ErrorJson {
  const e = err instanceof AttachError ? err : undefined;
  return {
    code: e?.code ?? ErrorCodes.BAD_REQUEST,
    stage: e?.stage ?? null,
    operation: e?.operation ?? null,
    syscall: e?.syscall ?? null,
    errno: e?.errno ?? null,
    message,
  };
}

/**
 * Whether an error is about the command line itself, found before any
 * attach: oclif's parse errors (an unknown option, a missing value: what
 * lxc-attach's getopt prints even with -q) and the CLI's own checks of the
 * values (anything but an AttachError; lxc-attach's -q hides those, but a
 * script that passes -q still needs to know its line is wrong). What the
 * pipeline refuses (an AttachError, -s FOO included) is an attach's error.
 */
export function isUsageError(err: unknown): boolean {
  return !(err instanceof AttachError);
}

/**
 * The CLI's log: a line per event at or above the priority, appended to the
 * -o file (opened O_APPEND per line, as LXC does, so concurrent attaches
 * interleave whole lines). Format after LXC's:
 * `attachkit c1 20250102030405.678 INFO     attach - target: container c1 (init pid 4089)`.
 */
export class CliLog {
  constructor(readonly options: LogOptions) {}

  enabled(priority: LogPriority): boolean {
    return this.options.file !== undefined && LOG_PRIORITIES.indexOf(priority) >= LOG_PRIORITIES.indexOf(this.options.priority);
  }

  write(priority: LogPriority, category: string, message: string): void {
    if (!this.enabled(priority)) return;
    const line = `attachkit ${this.options.name ?? '-'} ${timestamp(new Date())} ${priority.padEnd(8)} ${category} - ${message}\n`;
    try {
      appendFileSync(this.options.file!, line, { mode: 0o600 });
    } catch {
      // A log that cannot be written must not change the attach's outcome.
    }
  }

  /** An error: the one line on stderr (unless -q and not a usage error; a JSON object with --json) and in the log. */
  error(message: string, err?: unknown): void {
    if (!this.options.quiet || (err !== undefined && isUsageError(err))) {
      process.stderr.write(this.options.json ? `${JSON.stringify({ error: errorJson(message, err) })}\n` : `attachkit: ${message}\n`);
    }
    this.write('ERROR', 'attach', message);
  }
}

/** UTC, `YYYYMMDDhhmmss.mmm`, as LXC's log. */
function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

/**
 * -q, -o, -l, -n and --json from argv, up to `--` (`-o F`, `-oF`, `--logfile F`,
 * `--logfile=F`). oclif validates them again; an invalid -l here just keeps
 * the default, and oclif reports it.
 */
export function logOptionsFrom(argv: readonly string[]): LogOptions {
  let quiet = false;
  let file: string | undefined;
  let priority: LogPriority = 'ERROR';
  let name: string | undefined;
  let json = false;
  const take = (short: string, long: string, i: number): [string | undefined, number] => {
    const arg = argv[i]!;
    if (arg === short || arg === long) return [argv[i + 1], i + 1];
    if (arg.startsWith(`${long}=`)) return [arg.slice(long.length + 1), i];
    if (arg.startsWith(short) && !arg.startsWith('--')) return [arg.slice(short.length), i];
    return [undefined, i];
  };
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const arg = argv[i]!;
    if (arg === '-q' || arg === '--quiet') { quiet = true; continue; }
    if (arg === '--json') { json = true; continue; }
    let value: string | undefined;
    if (arg.startsWith('-o') || arg.startsWith('--logfile')) {
      [value, i] = take('-o', '--logfile', i);
      if (value !== undefined) file = value === 'none' ? undefined : value;
    } else if (arg.startsWith('-l') || arg.startsWith('--logpriority')) {
      [value, i] = take('-l', '--logpriority', i);
      const upper = value?.toUpperCase();
      if (LOG_PRIORITIES.includes(upper as LogPriority)) priority = upper as LogPriority;
    } else if (arg.startsWith('-n') || arg.startsWith('--name')) {
      [value, i] = take('-n', '--name', i);
      if (value !== undefined) name = value;
    }
  }
  return { quiet, file, priority, name, json };
}

let current = new CliLog({ quiet: false, file: undefined, priority: 'ERROR', name: undefined });

/** The log of this CLI run (set up by main). */
export function cliLog(): CliLog {
  return current;
}

export function setCliLog(log: CliLog): void {
  current = log;
}
