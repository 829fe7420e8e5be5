import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { AttachError, createPipeline, ErrorCodes, normalizeEnv, type AttachRequest } from '../src/index.js';
import { children } from './helpers.js';

// The spawn options child_process and execa users expect, against this very process.
const self = (command: string[], extra: Partial<AttachRequest> = {}): AttachRequest =>
  ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'], ...extra });

describe('spawn options (real kernel, the caller as target)', () => {
  it('should leave no zombie after release(), while exited never settles', async () => {
    const proc = await createPipeline().spawn(self(['sleep', '0.2'], { stdio: ['ignore', 'ignore', 'ignore'] }));
    let settled = false;
    void proc.exited.then(() => { settled = true; });
    proc.release();
    assert.equal(proc.kill('SIGTERM'), false);
    await sleep(1000);
    assert.equal(settled, false);
    assert.deepEqual(children().filter((c) => c.pid === proc.pid), []);
    assert.deepEqual(children().filter((c) => c.state === 'Z'), []);
  });

  it('should take a plain object as the whole environment, and keep the policy form', async () => {
    process.env.AK_CALLER_ONLY = 'x';
    try {
      const exact = await (await createPipeline().spawn(self(['/usr/bin/env'], { env: { FOO: 'bar', container: 'mine' } }))).output();
      assert.deepEqual(exact.stdout.split('\n').filter(Boolean).sort(), ['FOO=bar', 'container=mine']);
      const policy = await (await createPipeline().spawn(self(['/usr/bin/env'], { env: { set: { FOO: 'bar' } } }))).output();
      const lines = policy.stdout.split('\n');
      assert.ok(lines.includes('FOO=bar') && lines.includes('AK_CALLER_ONLY=x') && lines.includes('container=lxc'));
      const cleared = await (await createPipeline().spawn(self(['/usr/bin/env'], { env: { policy: 'clear' } }))).output();
      assert.ok(!cleared.stdout.includes('AK_CALLER_ONLY') && cleared.stdout.includes('PATH='));
    } finally {
      delete process.env.AK_CALLER_ONLY;
    }
    assert.deepEqual(normalizeEnv({ policy: 'clear', keep: ['A'] }), { exact: false, policy: 'clear', set: {}, keep: ['A'] });
    assert.deepEqual(normalizeEnv({ set: 'x', keep: 'y' } as never), { exact: true, set: { set: 'x', keep: 'y' } });
    await assert.rejects(createPipeline().spawn(self(['true'], { env: { FOO: 1 } as never })),
      (e: unknown) => e instanceof AttachError && e.code === ErrorCodes.BAD_REQUEST);
  });

  it("should write input to stdin and close it: a string, a Buffer, a stream; stdin a pipe when stdio is absent", async () => {
    const p = createPipeline();
    assert.equal((await (await p.spawn(self(['cat'], { stdio: ['pipe', 'pipe', 'pipe'], input: 'hello\n' }))).output()).stdout, 'hello\n');
    const bytes = randomBytes(100_000);
    const fromBuffer = await (await p.spawn(self(['cat'], { stdio: ['pipe', 'pipe', 'pipe'], input: bytes }))).output({ encoding: 'buffer' });
    assert.ok(fromBuffer.stdout.equals(bytes));
    const fromStream = await (await p.spawn(self(['cat'], { stdio: ['pipe', 'pipe', 'pipe'], input: Readable.from(['a', 'b', 'c']) }))).output();
    assert.equal(fromStream.stdout, 'abc');
    // stdio absent: stdin becomes the pipe; the command sees end-of-file after the input.
    const absent = await (await p.spawn({ target: { pid: process.pid }, command: ['sh', '-c', 'wc -c >/dev/null; exit 3'], input: 'xyz' })).exited;
    assert.equal(absent.exitCode, 3);
    // A command that does not read its input: no EPIPE escapes.
    assert.equal((await (await p.spawn(self(['true'], { stdio: ['pipe', 'pipe', 'pipe'], input: randomBytes(1 << 20) }))).output()).exitCode, 0);
    await assert.rejects(p.spawn(self(['cat'], { input: 'x' })),
      (e: unknown) => e instanceof AttachError && e.code === ErrorCodes.BAD_REQUEST);
  });

  it('should return the output as Buffers or in a chosen encoding (utf8 strings by default)', async () => {
    const bytes = randomBytes(4096);
    const spawnCat = () => createPipeline().spawn(self(['cat'], { stdio: ['pipe', 'pipe', 'pipe'], input: bytes }));
    const asBuffer = await (await spawnCat()).output({ encoding: 'buffer' });
    assert.ok(Buffer.isBuffer(asBuffer.stdout) && Buffer.isBuffer(asBuffer.stderr));
    assert.equal(asBuffer.stdout.length, 4096);
    assert.ok(asBuffer.stdout.equals(bytes));
    assert.equal(asBuffer.stderr.length, 0);
    assert.equal((await (await spawnCat()).output({ encoding: 'hex' })).stdout, bytes.toString('hex'));
    assert.equal((await (await createPipeline().spawn(self(['printf', '\\303\\251']))).output()).stdout, 'é');
  });

  it('should send killSignal to the running command after timeout ms', async () => {
    const p = createPipeline();
    const started = Date.now();
    const term = await (await p.spawn(self(['sleep', '10'], { timeout: 200 }))).exited;
    assert.deepEqual(term, { exitCode: 143, signal: 'SIGTERM' });
    assert.ok(Date.now() - started < 5000);
    const killed = await (await p.spawn(self(['sleep', '10'], { timeout: 100, killSignal: 'SIGKILL' }))).exited;
    assert.deepEqual(killed, { exitCode: 137, signal: 'SIGKILL' });
    // A command that ends in time is not signalled.
    assert.deepEqual(await (await p.spawn(self(['true'], { timeout: 5000 }))).exited, { exitCode: 0, signal: null });
    await assert.rejects(p.spawn(self(['true'], { timeout: -1 })), (e: unknown) => e instanceof AttachError && e.code === ErrorCodes.BAD_REQUEST);
    await assert.rejects(p.spawn(self(['true'], { timeout: 10, killSignal: 'SIGNOPE' as never })), (e: unknown) => e instanceof AttachError && e.code === ErrorCodes.BAD_REQUEST);
  });
});
