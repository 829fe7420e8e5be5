import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttachError, bytes, createPipeline, definePlugin, ErrorCodes, imm, PreExecProgram, STAGE, SyscallTable, syscallNumber,
  type Stage, type StageContext, type SyscallDefinitions,
} from '../src/index.js';
import { collect, stage } from './helpers.js';

// A third-party plugin adds syscalls the core's table lacks, by name with
// their numbers per architecture, and its stage emits them like any other.

const AFFINITY: SyscallDefinitions = { sched_setaffinity: { x64: 203, arm64: 122, riscv64: 122 } };

/** Pins the command to one CPU with sched_setaffinity(0, 8, &mask): a syscall the core never makes. */
class PinToCpu implements Stage {
  readonly id = 'pin-to-cpu';
  readonly description = 'runs the command on one CPU';
  readonly after = ['resolve-target'];
  readonly syscalls = AFFINITY;
  constructor(private readonly cpu: number) {}
  plan(ctx: StageContext): void {
    const mask = Buffer.alloc(8);
    mask.writeBigUInt64LE(1n << BigInt(this.cpu));
    ctx.program.syscall('ids', 'sched_setaffinity', [imm(0), imm(8), bytes(mask)], { operation: `sched_setaffinity(CPU ${this.cpu})` });
  }
}

const pinPlugin = (cpu: number) => definePlugin({ name: 'pin-plugin', register: (c) => c.register(STAGE, { useValue: new PinToCpu(cpu) }) });
const self = (command: string[]) => ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'] as const });
const cpus = 'grep Cpus_allowed_list /proc/self/status';

describe('third-party syscalls by name', () => {
  it("should run a syscall the core's table lacks, declared by the stage (real kernel)", async () => {
    for (const cpu of [0, 1]) {
      const out = await collect(await createPipeline({ plugins: [pinPlugin(cpu)] }).spawn(self(['sh', '-c', cpus])));
      assert.deepEqual(out, { exitCode: 0, stdout: `Cpus_allowed_list:\t${cpu}\n`, stderr: '' });
    }
  });

  it("should report the declared syscall's failure like a core one, naming the stage", async () => {
    const p = createPipeline({ plugins: [pinPlugin(63)] }); // no CPU 63 here: EINVAL
    await assert.rejects(p.spawn(self(['true'])), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.OP_FAILED);
      assert.equal(err.stage, 'pin-to-cpu');
      assert.equal(err.errnoName, 'EINVAL');
      assert.match(err.message, /^pin-to-cpu: sched_setaffinity\(CPU 63\) failed: EINVAL/);
      return true;
    });
  });

  it('should refuse an undeclared name, as before, naming the stage', async () => {
    const p = createPipeline().add(stage('no-decl', (ctx) => {
      ctx.program.syscall('ids', 'getcpu', [imm(0), imm(0), imm(0)], { operation: 'getcpu' });
    }, { after: ['resolve-target'] }));
    await assert.rejects(p.spawn(self(['true'])), (err: AttachError) =>
      err.code === ErrorCodes.BAD_REQUEST && err.stage === 'no-decl' && /^no-decl: unknown syscall 'getcpu'/.test(err.message));
  });

  it("should refuse a declaration that disagrees with the core's number or another stage's", () => {
    const clash = createPipeline().add(stage('bad-read', () => {}, { syscalls: { read: { x64: 5, arm64: 63 } } }));
    assert.throws(() => clash.freeze(), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.SYSCALL_TABLE);
      assert.equal(err.message, "stage 'bad-read' declares syscall 'read': the core's table has it as 0 on x64, not 5");
      return true;
    });
    const two = createPipeline()
      .add(stage('a-getcpu', () => {}, { syscalls: { getcpu: { x64: 309, arm64: 168 } } }))
      .add(stage('b-getcpu', () => {}, { syscalls: { getcpu: { x64: 310, arm64: 168 } } }));
    assert.throws(() => two.freeze(), (err: AttachError) =>
      err.code === ErrorCodes.SYSCALL_TABLE && err.message === "stage 'b-getcpu' declares syscall 'getcpu': stage 'a-getcpu' declares it as 309 on x64, not 310");
    // Agreeing declarations, and the core's own number restated, are fine.
    createPipeline()
      .add(stage('c-getcpu', () => {}, { syscalls: { getcpu: { x64: 309, arm64: 168 }, read: { x64: 0, arm64: 63 } } }))
      .add(stage('d-getcpu', () => {}, { syscalls: { getcpu: { x64: 309, arm64: 168 } } }))
      .freeze();
  });

  it('should refuse a declaration without both numbers, or with a bad name', () => {
    assert.throws(() => new SyscallTable([{ owner: 's', syscalls: { getcpu: { x64: 309 } as never } }]),
      /stage 's' declares syscall 'getcpu': its arm64 number must be an integer from 0 to 65535, not undefined/);
    assert.throws(() => new SyscallTable([{ owner: 's', syscalls: { 'Get-CPU': { x64: 1, arm64: 1 } } }]), /not a syscall name/);
    assert.throws(() => new SyscallTable([{ owner: 's', syscalls: { getcpu: { x64: -1, arm64: 1 } } }]), /x64 number must be/);
  });

  it('should look names up per architecture', () => {
    const table = new SyscallTable([{ owner: 's', syscalls: { getcpu: { x64: 309, arm64: 168 } } }]);
    assert.equal(table.lookup('getcpu', 'x64'), 309);
    assert.equal(table.lookup('getcpu', 'arm64'), 168);
    assert.deepEqual(table.lookup('getcpu', 'riscv64'), { refused: "syscall 'getcpu' (declared by stage 's') has no number for riscv64" });
    assert.equal(table.lookup('setns', 'arm64'), syscallNumber('setns', 'arm64'));
    // A program made without a table knows the core's names only.
    const e = new PreExecProgram().emitter('s');
    assert.throws(() => e.syscall('ids', 'getcpu', [], { operation: 'getcpu' }), /unknown syscall 'getcpu'/);
    const f = new PreExecProgram(table).emitter('s');
    f.syscall('ids', 'getcpu', [imm(0), imm(0), imm(0)], { operation: 'getcpu' });
  });
});
