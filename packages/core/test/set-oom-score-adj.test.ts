import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, type AttachRequest } from '../src/index.js';
import { collect, stage } from './helpers.js';

const request = (command: string[]): AttachRequest =>
  ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'] });
const withOom = (oomScoreAdj: () => number | undefined) => createPipeline()
  .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', oomScoreAdj }), { after: ['resolve-target'], before: ['set-oom-score-adj'] }));
const OOM = ['sh', '-c', 'cat /proc/self/oom_score_adj; ls /proc/self/fd'];

describe('set-oom-score-adj', () => {
  it("should give the command the container's oom_score_adj, through its own file on the host's procfs, leaking no fd", async () => {
    const r = await collect(await withOom(() => 123).spawn(request(OOM)));
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '123\n0\n1\n2\n3\n'); // 3: ls's own directory
    assert.equal(readFileSync('/proc/self/oom_score_adj', 'utf8'), '0\n', "attachkit's own is untouched");
  });

  it("should leave the caller's without a model, or when the model sets none", async () => {
    const mine = readFileSync('/proc/self/oom_score_adj', 'utf8');
    assert.equal((await collect(await createPipeline().spawn(request(OOM)))).stdout.split('\n')[0], mine.trim());
    assert.equal((await collect(await withOom(() => undefined).spawn(request(OOM)))).stdout.split('\n')[0], mine.trim());
  });

  it('should refuse a value out of range before anything runs', async () => {
    for (const bad of [1001, -1001, 1.5]) {
      await assert.rejects(withOom(() => bad).spawn(request(['true'])), (err: AttachError) => {
        assert.equal(err.code, ErrorCodes.BAD_REQUEST);
        assert.equal(err.message, `set-oom-score-adj: oom_score_adj ${bad} is not an integer from -1000 to 1000 (from test)`);
        return true;
      });
    }
  });
});
