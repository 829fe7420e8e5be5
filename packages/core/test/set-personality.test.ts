import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, PER_LINUX, PER_LINUX32, personalityOf, type AttachRequest } from '../src/index.js';
import { collect, stage } from './helpers.js';

const uname = (extra: Partial<AttachRequest> = {}): AttachRequest =>
  ({ target: { pid: process.pid }, command: ['uname', '-m'], stdio: ['ignore', 'pipe', 'pipe'], ...extra });

/** The core pipeline with a container model whose architecture is LXC's lxc.arch, as a resolver by name would leave it. */
const withConfig = (entries: Record<string, string[]>) => createPipeline()
  .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, {
    runtime: 'test', personality: () => (entries['lxc.arch'] ? { arch: entries['lxc.arch'].at(-1)!, from: "the container's lxc.arch" } : undefined),
  }), { after: ['resolve-target'], before: ['set-personality'] }));

describe('set-personality', () => {
  it("should map LXC's architecture names, exactly as LXC matches them", () => {
    for (const name of ['x86', 'i386', 'i486', 'i586', 'i686', 'linux32', 'athlon', 'armhf']) assert.equal(personalityOf(name, '-a'), PER_LINUX32);
    for (const name of ['x86_64', 'amd64', 'linux64', 'aarch64', 'riscv64']) assert.equal(personalityOf(name, '-a'), PER_LINUX);
    assert.throws(() => personalityOf('I686', '-a/--arch'), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.BAD_REQUEST);
      assert.match(err.message, /^set-personality: unknown architecture 'I686' in -a\/--arch \(accepted: arm, .*i686, .*x86_64\)$/);
      return true;
    });
    assert.throws(() => personalityOf('toString', '-a'), /unknown architecture 'toString'/);
  });

  const x64 = { skip: process.arch !== 'x64' ? 'uname -m names the 32-bit domain i686 on x86_64 only' : false };

  it('should run the command as i686 with -a i686, and leave it alone without -a', x64, async () => {
    assert.equal((await collect(await createPipeline().spawn(uname({ arch: 'i686' })))).stdout, 'i686\n');
    assert.equal((await collect(await createPipeline().spawn(uname()))).stdout, 'x86_64\n');
  });

  it("should take the container's lxc.arch, and let -a override it", x64, async () => {
    assert.equal((await collect(await withConfig({ 'lxc.arch': ['x86'] }).spawn(uname()))).stdout, 'i686\n');
    assert.equal((await collect(await withConfig({ 'lxc.arch': ['x86'] }).spawn(uname({ arch: 'amd64' })))).stdout, 'x86_64\n');
  });

  it('should refuse an unknown architecture before anything runs, naming where it came from', async () => {
    await assert.rejects(createPipeline().spawn(uname({ arch: 'pdp11' })), /^AttachError: set-personality: unknown architecture 'pdp11' in -a\/--arch/m);
    await assert.rejects(withConfig({ 'lxc.arch': ['vax'] }).spawn(uname()), /unknown architecture 'vax' in the container's lxc\.arch/);
  });
});
