import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, isAttachkit } from './cli.js';

/** Quote for sh. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The attachkit command line, for a shell: `attachkit --pid PID [args]`. */
export function attachkitLine(pid: number, args: readonly string[]): string {
  return [CLI, '--pid', String(pid), ...args].map(q).join(' ');
}

export interface ScriptResult {
  readonly code: number | null;
  /** What the terminal received, as bytes. */
  readonly output: Buffer;
}

/**
 * Run a shell line under util-linux `script`, so that every std fd is a
 * terminal (script's pty). Its stdin is kept open and silent until the end:
 * script turns EOF on its stdin into input for the terminal.
 */
export function underScript(line: string, onOutput?: (soFar: string) => void): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', line, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, SHELL: '/bin/sh' } });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => {
      chunks.push(d);
      onOutput?.(Buffer.concat(chunks).toString('latin1'));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: Buffer.concat(chunks) }));
  });
}

/** The terminal's text with CR LF as LF (the pty's output processing). */
export const text = (r: ScriptResult): string => r.output.toString('latin1').replace(/\r\n/g, '\n');

/** Poll until `probe` returns a value (never asserts how long it took). */
export async function waitFor<T>(probe: () => T | undefined | false, what: string, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The pid of a process whose argv satisfies `match`. */
export function processWith(match: (argv: readonly string[]) => boolean): number | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (match(readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'))) return Number(p);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** The pid of the attachkit process whose command line contains `marker`. */
export function attachkitPid(marker: string): number | undefined {
  return processWith((argv) => isAttachkit(argv) && argv.some((a) => a.includes(marker)));
}

/** A tmux server of our own (its own socket), for driving an interactive session. */
export class Tmux {
  private static count = 0;
  readonly socket = `attachkit-test-${process.pid}-${++Tmux.count}`;

  /** Start a detached session of this size running a shell line. */
  start(line: string, cols = 100, rows = 30): void {
    this.run(['new-session', '-d', '-s', 'main', '-x', String(cols), '-y', String(rows), line]);
  }

  /** Type keys (tmux key names: 'Enter', 'C-c'; or literal text with literal = true). */
  keys(keys: readonly string[], literal = false): void {
    this.run(['send-keys', '-t', 'main', ...(literal ? ['-l'] : []), ...keys]);
  }

  type(text: string): void {
    this.keys([text], true);
    this.keys(['Enter']);
  }

  screen(): string {
    return this.run(['capture-pane', '-p', '-t', 'main']);
  }

  resize(cols: number, rows: number): void {
    this.run(['resize-window', '-t', 'main', '-x', String(cols), '-y', String(rows)]);
  }

  /** Wait until the screen shows a line matching `re`; returns the match. */
  async expect(re: RegExp): Promise<RegExpMatchArray> {
    return waitFor(() => this.screen().match(re) ?? undefined, `${re} on the screen:\n${this.screen()}`);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
    // A killed server leaves its socket file behind.
    rmSync(`${process.env.TMUX_TMPDIR ?? '/tmp'}/tmux-${process.getuid!()}/${this.socket}`, { force: true });
  }

  private run(args: readonly string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: { ...process.env, SHELL: '/bin/sh' } });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }
}
