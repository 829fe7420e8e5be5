import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AttachError, createPipeline, definePlugin, ErrorCodes, isAttachError, STAGE, syscallNumber, type Stage, type StageContext,
} from '../src/index.js';
import { stage } from './helpers.js';

// Whatever a stage or plugin throws, the public API raises one AttachError
// naming the stage and, for a libc or fs failure, the call and its errno.

const self = { target: { pid: process.pid }, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] as const };

async function rejection(promise: Promise<unknown>): Promise<AttachError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isAttachError(err), `an AttachError, not ${String(err)}`);
    return err;
  }
  assert.fail('it did not fail');
}

function thrown(run: () => unknown): AttachError {
  try {
    run();
  } catch (err) {
    assert.ok(isAttachError(err), `an AttachError, not ${String(err)}`);
    return err;
  }
  assert.fail('it did not throw');
}

describe('errors escaping the contract', () => {
  it("should name the call of a libc SyscallError a stage did not wrap, with the stage's id", async () => {
    const p = createPipeline().add(stage('raw-libc', (ctx) => { ctx.libc.close(987654); }, { after: ['resolve-target'] }));
    const err = await rejection(p.spawn(self));
    assert.equal(err.code, ErrorCodes.STAGE_FAILED);
    assert.equal(err.message, 'raw-libc: close(fd 987654) failed: EBADF (Bad file descriptor)');
    assert.deepEqual([err.stage, err.operation, err.syscall, err.errnoName], ['raw-libc', 'close(fd 987654)', 'close', 'EBADF']);
  });

  it("should name the file and syscall of a Node fs error a stage did not wrap", async () => {
    const p = createPipeline().add(stage('raw-fs', () => { readFileSync('/no/such/attachkit-file'); }, { after: ['resolve-target'] }));
    const err = await rejection(p.spawn(self));
    assert.equal(err.message, 'raw-fs: open /no/such/attachkit-file failed: ENOENT (No such file or directory)');
    assert.deepEqual([err.stage, err.syscall, err.errnoName], ['raw-fs', 'open', 'ENOENT']);
  });

  it('should make a throwing toggle an AttachError of its stage, in describe() and spawn()', async () => {
    const p = createPipeline().add(stage('bad-toggle', () => {}, { toggle: () => { throw new TypeError('nope'); } }));
    const described = thrown(() => p.describe(self));
    assert.equal(described.code, ErrorCodes.STAGE_FAILED);
    assert.equal(described.message, 'bad-toggle: deciding whether it takes part in the attach (toggle) failed: nope');
    assert.equal((await rejection(p.spawn(self))).stage, 'bad-toggle');
  });

  it("should make a plugin's failing register() and a stage DI cannot construct AK_PLUGIN", () => {
    const broken = definePlugin({ name: 'broken', register() { throw new Error('boom'); } });
    const err = thrown(() => createPipeline({ plugins: [broken] }));
    assert.equal(err.code, ErrorCodes.PLUGIN);
    assert.equal(err.message, "registering plugin 'broken' failed: boom");

    // A constructor parameter without @injectable()/@inject: tsyringe cannot know it.
    class Undecorated implements Stage {
      readonly id = 'undecorated';
      readonly description = 'needs a value DI cannot supply';
      constructor(readonly value: string) {}
      plan(_ctx: StageContext): void {}
    }
    const needy = definePlugin({ name: 'needy', register: (c) => c.register(STAGE, { useClass: Undecorated }) });
    const unresolved = thrown(() => createPipeline({ plugins: [needy] }));
    assert.equal(unresolved.code, ErrorCodes.PLUGIN);
    assert.match(unresolved.message, /^resolving the registered stages \(a stage class with constructor parameters needs @injectable\(\) .*docs\/writing-a-stage\.md\) failed: .*Undecorated/);
  });

  it('should refuse an architecture without a syscall table with an AttachError', () => {
    const err = thrown(() => syscallNumber('read', 'ia32'));
    assert.equal(err.code, ErrorCodes.SYSCALL_TABLE);
    assert.equal(err.message, 'attachkit does not know the syscall numbers of ia32');
  });
});
