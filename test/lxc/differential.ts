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

function run(file: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  return new Promise((resolve, reject) => {
    // cwd /: a directory that exists inside too, so both keep it.
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function lxcAttach(args: readonly string[], env = CALLER_ENV): Promise<Run> {
  return run('lxc-attach', args, env);
}

export function attachkit(args: readonly string[], env = CALLER_ENV): Promise<Run> {
  return run(CLI, args, env);
}

/** The same arguments through lxc-attach and attachkit, one after the other. */
export async function both(args: readonly string[], env = CALLER_ENV): Promise<Both> {
  return { lxc: await lxcAttach(args, env), attachkit: await attachkit(args, env) };
}

/** attachkit's error contract: exactly one line on stderr, prefixed. */
export function oneErrorLine(r: Run): string {
  const lines = r.stderr.split('\n');
  if (lines.length !== 2 || lines[1] !== '' || !lines[0]!.startsWith('attachkit: ')) {
    throw new Error(`expected one 'attachkit: ' line on stderr, got ${JSON.stringify(r.stderr)}`);
  }
  return lines[0]!;
}
