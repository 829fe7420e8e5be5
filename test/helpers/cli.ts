import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI's launcher (package.json "bin"): from its start-up snapshot, or from its modules when that cannot be used (docs/startup.md). */
export const CLI = fileURLToPath(new URL('../../../packages/cli/build/attachkit', import.meta.url));
const SNAPSHOT = fileURLToPath(new URL('../../../packages/cli/dist/snapshot/attachkit.blob', import.meta.url));
const RUN_JS = fileURLToPath(new URL('../../../packages/cli/bin/run.js', import.meta.url));

/** Whether a command line is attachkit's: the launcher has exec'd node with the snapshot, or with bin/run.js. */
export function isAttachkit(argv: readonly string[]): boolean {
  return argv.includes(SNAPSHOT) || argv.includes(RUN_JS);
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the attachkit CLI as a user would; `prefix` runs it under a wrapper (setpriv ...). */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; prefix?: readonly string[] } = {}): Promise<CliResult> {
  const { prefix = [], ...spawnOptions } = options;
  const [file, ...rest] = [...prefix, CLI, ...args];
  return runProgram(file!, rest, spawnOptions);
}

/** Run a program with no stdin; its status and output once it has ended. */
export function runProgram(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
