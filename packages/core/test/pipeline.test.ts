import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, container, createPipeline, definePlugin, ErrorCodes, STAGE } from '../src/index.js';
import { stage } from './helpers.js';

describe('Pipeline composition', () => {
  it('should start from the core stages in order', () => {
    assert.deepEqual(createPipeline().order().map((s) => s.id),
      ['resolve-target', 'set-personality', 'build-env', 'preserve-fds', 'set-oom-score-adj', 'set-rlimits', 'set-umask', 'exec']);
  });

  it('should add, remove and replace stages, and order what is added', () => {
    const p = createPipeline()
      .remove('build-env')
      .remove('set-personality')
      .remove('preserve-fds')
      .remove('set-rlimits')
      .remove('set-oom-score-adj')
      .remove('set-umask')
      .add(stage('audit', () => {}, { after: ['resolve-target'], before: ['exec'] }))
      .replace('exec', stage('exec', () => {}, { after: ['audit'] }));
    assert.deepEqual(p.order().map((s) => s.id), ['resolve-target', 'audit', 'exec']);
  });

  it('should refuse changes once frozen, and say what to do instead', () => {
    const p = createPipeline().freeze();
    assert.throws(() => p.remove('exec'), (err: AttachError) => err.code === ErrorCodes.PIPELINE_FROZEN && /clone\(\)/.test(err.message));
    assert.doesNotThrow(() => p.clone().remove('build-env'));
  });

  it('should refuse to remove a stage that is not there, listing those that are', () => {
    assert.throws(() => createPipeline().remove('nope'),
      /no such stage \(stages: resolve-target, set-personality, set-rlimits, set-oom-score-adj, set-umask, build-env, preserve-fds, exec\)/);
  });

  it('should register plugin stages through DI and check plugin dependencies', () => {
    const plugin = definePlugin({
      name: 'audit-plugin',
      register(c) { c.register(STAGE, { useValue: stage('audit', () => {}, { after: ['resolve-target'] }) }); },
    });
    assert.ok(createPipeline({ plugins: [plugin] }).has('audit'));
    assert.equal(container.isRegistered(STAGE), false, 'plugins register in a child container, never the root');
    const needy = definePlugin({ name: 'needy', dependencies: ['audit-plugin'], register() {} });
    assert.throws(() => createPipeline({ plugins: [needy] }), /plugin 'needy' needs plugin 'audit-plugin'/);
    assert.throws(() => createPipeline({ plugins: [plugin, plugin] }), /registered twice/);
  });

  it('should report each stage as on or off, with the reason', () => {
    const p = createPipeline().add(stage('opt', () => {}, {
      after: ['resolve-target'],
      toggle: (r) => (r.elevated?.includes('CAP') ? { enabled: false, reason: 'disabled by -e CAP' } : { enabled: true, reason: 'default' }),
    }));
    const plan = p.describe({ target: { pid: 1 }, elevated: ['CAP'] });
    assert.deepEqual(plan.find((s) => s.id === 'opt'), { id: 'opt', description: 'test stage opt', enabled: false, reason: 'disabled by -e CAP' });
  });
});
