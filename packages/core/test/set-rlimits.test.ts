import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, RLIM_INFINITY, type AttachRequest, type ResourceLimit } from '../src/index.js';
import { collect, stage } from './helpers.js';

const request = (command: string[]): AttachRequest =>
  ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'] });

/** The core pipeline with a container model that gives these rlimits, as an OCI target's plugin would. */
const withLimits = (rlimits: () => readonly ResourceLimit[]) => createPipeline()
  .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', rlimits }), { after: ['resolve-target'], before: ['set-rlimits'] }));

/** soft/hard by the row name of /proc/<pid>/limits ("Max open files"). */
function limits(text: string): Record<string, [string, string]> {
  return Object.fromEntries(text.split('\n').slice(1).filter(Boolean).map((l) => [l.slice(0, 25).trim(), l.slice(26).trim().split(/\s+/).slice(0, 2) as [string, string]]));
}
const LIMITS = ['cat', '/proc/self/limits'];
const own = () => limits(readFileSync('/proc/self/limits', 'utf8'));
const hasSysResource = (BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`) & (1n << 24n)) !== 0n;

describe('set-rlimits', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ak-rlimits-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("should give the command exactly the container's limits, and leave the others the caller's", async () => {
    const r = await collect(await withLimits(() => [
      { type: 'NOFILE', soft: 512n, hard: 1024n },
      { type: 'NPROC', soft: 77n, hard: 77n },
      { type: 'CORE', soft: 0n, hard: RLIM_INFINITY },
    ]).spawn(request(LIMITS)));
    assert.equal(r.stderr, '');
    assert.equal(r.exitCode, 0);
    const got = limits(r.stdout);
    assert.deepEqual(got['Max open files'], ['512', '1024']);
    assert.deepEqual(got['Max processes'], ['77', '77']);
    assert.deepEqual(got['Max core file size'], ['0', 'unlimited']);
    assert.deepEqual(got['Max stack size'], own()['Max stack size']);
  });

  it('should leave every limit alone without a model (a --pid target, an LXC container)', async () => {
    const r = await collect(await createPipeline().spawn(request(LIMITS)));
    assert.deepEqual(limits(r.stdout), own());
    assert.match(createPipeline().describe(request(LIMITS)).find((s) => s.id === 'set-rlimits')?.reason ?? '', /when it sets any/);
  });

  it('should raise a hard limit above attachkit\'s own in the intermediate, before any namespace is joined', async () => {
    const [, hard] = own()['Max open files']!;
    const above = BigInt(hard) + 1000n;
    const attach = withLimits(() => [{ type: 'NOFILE', soft: 512n, hard: above }]).spawn(request(LIMITS));
    if (hasSysResource) {
      assert.deepEqual(limits((await collect(await attach)).stdout)['Max open files'], ['512', String(above)]);
    } else {
      // This host's bounding set lacks CAP_SYS_RESOURCE: nobody can raise it, and the failure says where.
      await assert.rejects(attach, (err: AttachError) => {
        assert.equal(err.code, ErrorCodes.OP_FAILED);
        assert.equal(err.message,
          `set-rlimits: prlimit64(self, RLIMIT_NOFILE, soft ${own()['Max open files']![0]}, hard ${above}) to raise the hard limit before any namespace is joined failed: EPERM (Operation not permitted)`);
        return true;
      });
    }
  });

  it('should refuse an unknown type, or a soft limit above the hard one, before anything runs', async () => {
    const mark = join(scratch, 'ran');
    const touch = ['touch', mark];
    await assert.rejects(withLimits(() => [{ type: 'NOFILE', soft: 64n, hard: 64n }, { type: 'NOFILES', soft: 1n, hard: 1n }]).spawn(request(touch)), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.BAD_REQUEST);
      assert.equal(err.stage, 'set-rlimits');
      assert.match(err.message, /^set-rlimits: unknown resource limit type 'NOFILES' \(known: CPU, FSIZE, .*NOFILE, .*RTTIME\) \(from test\)$/);
      return true;
    });
    await assert.rejects(withLimits(() => [{ type: 'NPROC', soft: 78n, hard: 77n }]).spawn(request(touch)),
      /^AttachError: set-rlimits: RLIMIT_NPROC soft limit 78 is above its hard limit 77 \(from test\)$/m);
    await assert.rejects(withLimits(() => [{ type: 'toString', soft: 1n, hard: 1n }]).spawn(request(touch)), /unknown resource limit type 'toString'/);
    await assert.rejects(withLimits(() => { throw new Error("process.rlimits[0].type in /b/config.json is not a string"); }).spawn(request(touch)),
      /^AttachError: set-rlimits: process\.rlimits\[0\]\.type in \/b\/config\.json is not a string$/m);
    assert.equal(existsSync(mark), false, 'the command never ran');
  });
});
