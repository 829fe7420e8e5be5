import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, ErrorCodes, optional, orderStages } from '../src/index.js';
import { stage } from './helpers.js';

const noop = () => {};

describe('orderStages', () => {
  it('should order stages by their constraints, whatever the registration order', () => {
    const a = stage('a', noop);
    const b = stage('b', noop, { after: ['a'] });
    const c = stage('c', noop, { after: ['b'], before: ['d'] });
    const d = stage('d', noop);
    for (const input of [[a, b, c, d], [d, c, b, a], [c, a, d, b]]) {
      assert.deepEqual(orderStages(input).map((s) => s.id), ['a', 'b', 'c', 'd']);
    }
  });

  it('should refuse a cycle and name the stages in it', () => {
    const stages = [stage('x', noop, { after: ['z'] }), stage('y', noop, { after: ['x'] }), stage('z', noop, { after: ['y'] }), stage('w', noop, { after: ['x'] })];
    assert.throws(() => orderStages(stages), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.STAGE_ORDER);
      assert.match(err.message, /cycle: (x → y → z → x|y → z → x → y|z → x → y → z)/);
      return true;
    });
  });

  it('should refuse an unknown required id, naming both stages', () => {
    assert.throws(() => orderStages([stage('a', noop, { after: ['ghost'] })]), /stage 'a' must run after 'ghost', but no stage 'ghost' is in the pipeline/);
    assert.throws(() => orderStages([stage('a', noop, { before: ['ghost'] })]), /must run before 'ghost'/);
  });

  it('should ignore an optional reference to an absent stage', () => {
    assert.deepEqual(orderStages([stage('a', noop, { after: [optional('ghost')] })]).map((s) => s.id), ['a']);
  });

  it('should refuse two stages with the same id', () => {
    assert.throws(() => orderStages([stage('a', noop), stage('a', noop)]), /two stages have the id 'a'/);
  });
});
