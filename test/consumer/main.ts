/**
 * A third party's program, written only against the published packages and
 * type-checked with `tsc` (nodenext, strict) in a fresh project that
 * installed their tarballs (test/suites/consumer.test.ts). It attaches to
 * the LXC container named by argv[2] and prints one JSON object: what each
 * step saw, for the suite to check.
 */
import { randomBytes } from 'node:crypto';
import '@attachkit/lxc-plugin'; // its target kind: { name }
import { imm, isAttachError, type Stage, type StageContext } from '@attachkit/core';
import { createDefaultPipeline } from '@attachkit/preset';

const name = process.argv[2];
if (!name) throw new Error('usage: node main.js CONTAINER');
const report: Record<string, unknown> = {};

/**
 * A third-party stage, ordered by constraints on the preset's stage ids. It
 * makes the command nicer (niceness 7) with setpriority(2), a syscall the
 * core's table lacks, declared here by name with its numbers (asm-generic
 * and x86_64's syscall_64.tbl).
 */
class LowerPriority implements Stage {
  readonly id = 'lower-priority';
  readonly description = 'the command runs at niceness 7';
  readonly after = ['build-env'];
  readonly before = ['exec'];
  // --- third-party syscall by name ---
  readonly syscalls = { setpriority: { x64: 141, arm64: 140, riscv64: 140 } };
  planned = 0;

  plan(ctx: StageContext): void {
    this.planned++;
    // setpriority(PRIO_PROCESS, 0 = the calling process, 7), before the id switch.
    ctx.program.syscall('cwd', 'setpriority', [imm(0), imm(0), imm(7)], { operation: 'setpriority(PRIO_PROCESS, self, 7)' });
  }
}

const stage = new LowerPriority();
const pipeline = createDefaultPipeline().add(stage);
const target = { name };
// child_process's form of env: exactly these variables (this program's own PATH need not exist inside).
const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm' };
const order = pipeline.describe({ target, command: ['true'] }).map((s) => s.id);
report.order = { stage: order.indexOf('lower-priority'), buildEnv: order.indexOf('build-env'), exec: order.indexOf('exec') };

// The full isolation, read back from /proc as Buffers; the 19th field of
// /proc/self/stat is the niceness the third-party stage set.
const status = await (await pipeline.spawn({
  target, command: ['sh', '-c', "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; cut -d' ' -f19 /proc/self/stat"],
  env, stdio: ['ignore', 'pipe', 'pipe'],
})).output({ encoding: 'buffer' });
report.status = { exitCode: status.exitCode, isBuffer: Buffer.isBuffer(status.stdout), text: status.stdout.toString('utf8'), stderr: status.stderr.toString('utf8') };
report.planned = stage.planned;

// Binary data both ways: 4096 random bytes in through `input`, back unchanged as a Buffer.
const bytes = randomBytes(4096);
const echoed = await (await pipeline.spawn({ target, command: ['cat'], env, input: bytes, stdio: ['pipe', 'pipe', 'pipe'] })).output({ encoding: 'buffer' });
report.binary = { exitCode: echoed.exitCode, length: echoed.stdout.length, same: echoed.stdout.equals(bytes) };

// An AbortSignal: a start given up is an AttachError with a stable code.
try {
  await pipeline.attach({ target, command: ['true'], env, signal: AbortSignal.abort() });
  report.aborted = 'attached';
} catch (err) {
  report.aborted = isAttachError(err) ? err.code : `not an AttachError: ${String(err)}`;
}

// A running-time limit: the command gets killSignal.
const limited = await pipeline.attach({ target, command: ['sleep', '30'], env, stdio: ['ignore', 'ignore', 'ignore'], timeout: 200, killSignal: 'SIGKILL' });
report.timeout = limited;

// The error branch on `code`: a container that does not exist.
try {
  await pipeline.attach({ target: { name: `${name}-missing` }, command: ['true'] });
  report.missing = 'attached';
} catch (err) {
  if (!isAttachError(err)) throw err;
  switch (err.code) {
    case 'AK_TARGET':
      report.missing = { code: err.code, stage: err.stage, message: err.message };
      break;
    default:
      report.missing = { unexpected: err.code, message: err.message };
  }
}

// --- tty + resize: a pty whatever this process's fds are (none is a terminal here) ---
{
  const proc = await pipeline.spawn({ target, command: ['sh', '-c', 'stty size; read line; stty size'], env, tty: { cols: 100, rows: 30 } });
  const terminal = proc.terminal!;
  let seen = '';
  const waitFor = (text: string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (seen.includes(text)) { terminal.off('data', onData); resolve(); } };
    const onData = (chunk: Buffer) => { seen += chunk.toString('utf8'); check(); };
    terminal.on('data', onData);
    setTimeout(() => reject(new Error(`the terminal never showed ${JSON.stringify(text)}; it showed ${JSON.stringify(seen)}`)), 10_000).unref();
    check();
  });
  await waitFor('30 100');
  proc.resize(120, 40);
  terminal.write('\n');
  await waitFor('40 120');
  report.tty = { sizes: seen.match(/\d+ \d+/g), exit: await proc.exited };
}

process.stdout.write(`${JSON.stringify(report)}\n`);
