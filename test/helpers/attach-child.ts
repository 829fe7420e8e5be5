/**
 * A process that attaches and is then killed (load.test.ts, "kill -9 of
 * attachkit"): `node attach-child.js PID WHERE COMMAND...` attaches to PID
 * with the CLI's pipeline and stops at WHERE:
 * - `plan`: a stage never finishes planning (prints `planning`): the
 *   executor, started before the stages plan, waits for its program;
 * - `sync`: the intermediate waits at the sync point (prints `sync <pid>`);
 * - `intermediate`: the intermediate stops itself after joining the namespaces, before the fork;
 * - `attached`: the attached process stops itself before exec;
 * - `exec`: nothing stops; prints `started <pid>` once the command runs.
 */
import { defaultPipeline } from '@attachkit/cli';
import { imm, resultOf, type Phase, type Stage } from '@attachkit/core';

const [pid, where, ...command] = process.argv.slice(2);
const SIGSTOP = 19;

const stopIn = (phase: Phase): Stage => ({
  id: 'stop', description: `stop in phase ${phase}`, after: ['resolve-target'], before: ['exec'],
  plan: (ctx) => {
    const self = ctx.program.syscall(phase, 'getpid', [], { operation: 'getpid()' });
    ctx.program.syscall(phase, 'kill', [resultOf(self), imm(SIGSTOP)], { operation: 'kill(self, SIGSTOP)' });
  },
});
const holdAtSync: Stage = {
  id: 'hold', description: 'never let the intermediate go', after: ['resolve-target'], before: ['exec'],
  plan: () => {},
  atSyncPoint: (_ctx, intermediate) => {
    process.stdout.write(`sync ${intermediate.pid}\n`);
    return new Promise(() => {});
  },
};

const holdPlanning: Stage = {
  id: 'hold', description: 'never finish planning', after: ['resolve-target'], before: ['exec'],
  plan: () => {
    process.stdout.write('planning\n');
    setInterval(() => {}, 1000); // nothing else keeps this process alive meanwhile
    return new Promise(() => {});
  },
};

const extra = { plan: holdPlanning, sync: holdAtSync, intermediate: stopIn('namespaces'), attached: stopIn('cwd') }[where!];
const pipeline = extra ? defaultPipeline().add(extra) : defaultPipeline();
const proc = await pipeline.spawn({ target: { pid: Number(pid) }, command, stdio: ['ignore', 'ignore', 'ignore'] });
process.stdout.write(`started ${proc.pid}\n`);
await proc.exited;
