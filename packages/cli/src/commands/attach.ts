import { readdirSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
import { Flags } from '@oclif/core';
import { constants } from 'node:os';
import { AttachError, ErrorCodes, executorPath, type AttachRequest, type Pipeline } from '@attachkit/core';
import { proxyTerminal, PTY, TerminalControl } from '@attachkit/pty-plugin';
import { positionals } from '../argv.js';
import { BaseCommand } from '../base-command.js';
import { attachFlags, toRequest } from '../flags.js';
import { cliLog, type CliLog } from '../log.js';
import { defaultPipeline } from '../pipeline.js';
import { SignalForwarder } from '../signals.js';

export default class Attach extends BaseCommand {
  static override summary = 'Run a command inside a running container or process, with its isolation';
  static override description = [
    'The options end at the first argument that is not one, after the target (without -n, --pid or --oci, the first such argument is',
    "the container's name, as lxc-attach's): `-n c1 ls -l /etc` runs `ls -l /etc`. Everything from there, or after `--`, is the",
    "command, as given; with none, the target user's shell. -h, -? and --help print this help; `attachkit help` lists the other",
    'commands: stages (the resolved pipeline for these options and target), doctor (what this host offers) and autocomplete.',
    '\n\nErrors are one line on stderr and status 1 (usage errors too); with --json, a JSON object on stderr,',
    '{"error": {code, stage, operation, syscall, errno, message}}. -q drops the line of a failed attach, never a usage error.',
  ].join(' ');
  static override usage = ['-n NAME [OPTIONS] [-- COMMAND [ARG...]]', '--oci ID [--oci-root DIR] [OPTIONS] [-- COMMAND [ARG...]]', '--pid PID [OPTIONS] [-- COMMAND [ARG...]]'];
  static override examples = [
    '<%= config.bin %> -n c1 -- hostname',
    '<%= config.bin %> -n c1 ls -l /etc',
    '<%= config.bin %> --oci 3f2a9c -- id',
    '<%= config.bin %> --pid 4089 -- hostname',
    '<%= config.bin %> --pid 4089 --clear-env -v LANG=C.UTF-8 -- env',
    '<%= config.bin %> -n c1 -d -- sleep 600',
  ];
  static override strict = false;
  static override flags = {
    ...attachFlags,
    detach: Flags.boolean({
      char: 'd',
      description: "start the command with its stdio on /dev/null, print its pid (the host's pid, not the one inside the container) and return (as runc exec -d)",
    }),
    json: Flags.boolean({ description: 'errors as a JSON object on stderr ({"error": {code, stage, operation, syscall, errno, message}}); with -d, print {"pid": N} too' }),
    // The only way to choose the executor as root: ATTACHKIT_EXECUTOR is ignored then (core's executorPath).
    executor: Flags.string({ description: 'run this executor instead of the built one (ATTACHKIT_EXECUTOR is ignored as root)' }),
    'start-timeout': Flags.integer({
      min: 1, helpValue: 'SECONDS',
      description: "give up when the command has not started (been exec'd) within SECONDS: a frozen container or a stopped attached process",
    }),
  };

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Attach);
    const parsed = toRequest(flags, positionals(raw));
    checkInherited(parsed.preserveFds ?? []);
    // Detached: no terminal, no stdio of ours; the command outlives us.
    const starting = abortOnSignals();
    const request: AttachRequest = {
      ...parsed,
      ...(flags.detach ? { stdio: ['ignore', 'ignore', 'ignore'] as const } : {}),
      ...(flags['start-timeout'] ? { startTimeout: flags['start-timeout'] * 1000 } : {}),
      signal: starting.signal,
    };
    const log = cliLog();
    if (flags.executor !== undefined) executorPath(resolve(flags.executor));
    else if (process.env.ATTACHKIT_EXECUTOR && executorPath() !== process.env.ATTACHKIT_EXECUTOR) {
      log.write('WARN', 'attach', 'ATTACHKIT_EXECUTOR is ignored in a privileged process: --executor PATH chooses the executor');
    }
    const pipeline = withLogging(defaultPipeline(), request, log);
    const signals = new SignalForwarder();
    try {
      let proc;
      try {
        proc = await pipeline.spawn(request);
      } catch (err) {
        // A terminal's Ctrl-C signals its whole foreground group: the attach's
        // helpers too, which may die of it before our handler has run. A
        // signal delivered with theirs is handled within a few ms: then the
        // attach was given up by it, whatever failed first.
        if (starting.givenUp === undefined) await new Promise((r) => setTimeout(r, 20));
        starting.stop();
        const givenUp = starting.givenUp;
        if (givenUp === undefined) throw err;
        // Ctrl-C at a terminal ends as Ctrl-C a moment later would: 130 and no word.
        if (givenUp.signal !== 'SIGINT' || !isatty(2)) throw givenUp;
        log.write('INFO', 'attach', givenUp.message);
        process.exitCode = givenUp.exitCode;
        return;
      }
      starting.stop();
      log.write('INFO', 'attach', `started: pid ${proc.pid}`);
      if (flags.detach) {
        proc.release();
        process.stdout.write(flags.json ? `${JSON.stringify({ pid: proc.pid })}\n` : `${proc.pid}\n`);
        return;
      }
      const pty = proc.get(PTY);
      const control = new TerminalControl();
      signals.attach(proc, pty, control);
      const result = await (pty ? proxyTerminal(proc, pty, undefined, undefined, { control }) : proc.exited);
      log.write('INFO', 'attach', `exited: status ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`);
      process.exitCode = result.exitCode;
    } finally {
      signals.stop();
    }
  }
}

/**
 * Until the command has started, SIGTERM, SIGINT and SIGHUP give up the
 * attach: every process of it is killed and reaped, and attachkit ends with
 * 128+N, as if the signal had killed it (a container that stalls the start,
 * frozen or with the attached process stopped, can then always be left).
 * SIGTERM and SIGHUP say so in one line (someone ended the attach); so does
 * SIGINT, unless stderr is a terminal: Ctrl-C typed by a user there is
 * silent, as it is for a command interrupted a moment later (the line goes
 * to the -o log only). Once the command runs, signals.ts acts.
 */
function abortOnSignals(): { signal: AbortSignal; stop: () => void; givenUp: GivenUp | undefined } {
  const controller = new AbortController();
  const state: { signal: AbortSignal; stop: () => void; givenUp: GivenUp | undefined } = {
    signal: controller.signal,
    stop: () => { for (const [name, handler] of handlers) process.off(name, handler); },
    givenUp: undefined,
  };
  const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((name) => [name, () => {
    if (controller.signal.aborted) return;
    state.givenUp = Object.assign(new AttachError(ErrorCodes.ABORTED, `the attach was given up before the command started: ${name}`,
      { exitCode: 128 + constants.signals[name] }), { signal: name });
    controller.abort(state.givenUp);
  }] as const);
  for (const [name, handler] of handlers) process.on(name, handler);
  return state;
}

type GivenUp = AttachError & { readonly signal: NodeJS.Signals };

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

/**
 * --preserve-fds hands on fds the caller opened for us, as runc's does. When
 * the caller leaves 3, 4, … closed, Node's own event loop fds take those
 * numbers (an epoll, eventfds, self-pipes with both ends here): those must
 * never reach the command.
 */
function checkInherited(fds: readonly number[]): void {
  const target = (fd: number | string) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return undefined;
    }
  };
  const open = readdirSync('/proc/self/fd');
  for (const fd of fds) {
    const what = target(fd);
    const own = what === undefined ? 'it is not open'
      : /^anon_inode:\[(eventpoll|eventfd)\]$/.test(what) ? `it is Node's own ${what}`
      : what.startsWith('pipe:') && open.some((other) => other !== String(fd) && target(other) === what) ? `it is a pipe whose both ends are attachkit's`
      : undefined;
    if (own) throw new Error(`--preserve-fds ${fds.length}: fd ${fd} was not passed to attachkit (${own})`);
  }
}
