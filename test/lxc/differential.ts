import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI } from '../helpers/cli.js';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One run of both tools with the same arguments. */
export interface Both {
  readonly lxc: Run;
  readonly attachkit: Run;
}

/**
 * The environment both tools get: small and fixed, so that what the attached
 * process sees can be compared line by line. `container=host` checks that
 * both overwrite it in place.
 */
export const CALLER_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  FOO: 'bar baz',
  container: 'host',
  LANG: 'C',
};

/** How both tools are started: the environment, the working directory, what stdin gives. */
export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Default /: a directory that exists inside too, so both keep it. */
  readonly cwd?: string;
  /** Fed on stdin, then end-of-file; without it stdin is /dev/null. */
  readonly input?: string;
}

function run(file: string, args: readonly string[], { env = CALLER_ENV, cwd = '/', input }: RunOptions): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdin?.end(input);
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function lxcAttach(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return run('lxc-attach', args, options);
}

export function attachkit(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return run(CLI, args, options);
}

/** The same arguments through lxc-attach and attachkit, one after the other. */
export async function both(args: readonly string[], options: RunOptions = {}): Promise<Both> {
  return { lxc: await lxcAttach(args, options), attachkit: await attachkit(args, options) };
}

/** Both succeeded and printed exactly the same; returns that output. */
export function same(r: Both, what = ''): string {
  assert.deepEqual(r.attachkit, r.lxc, what);
  assert.equal(r.lxc.code, 0, `${what}: ${r.lxc.stderr}`);
  return r.lxc.stdout;
}

/** attachkit's error contract: exactly one line on stderr, prefixed. */
export function oneErrorLine(r: Run): string {
  const lines = r.stderr.split('\n');
  if (lines.length !== 2 || lines[1] !== '' || !lines[0]!.startsWith('attachkit: ')) {
    throw new Error(`expected one 'attachkit: ' line on stderr, got ${JSON.stringify(r.stderr)}`);
  }
  return lines[0]!;
}
