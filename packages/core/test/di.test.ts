import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttachError, container as rootContainer, createPipeline, definePlugin, ErrorCodes, inject, injectable, LIBC, realLibc,
  registerPluginOptions, STAGE, TARGET_RESOLVER, type AttachTarget, type InjectionToken, type Libc, type Stage, type StageContext, type TargetResolver,
} from '../src/index.js';
import { collect, stage } from './helpers.js';

// A third party's DI: a parent container passed as `options.container`
// whose registrations (LIBC, a plugin's options, extra stages) the pipeline
// honours, attaching to this very process on the real kernel.

interface AuditOptions {
  readonly tag: string;
  readonly level: number;
}
const AUDIT_OPTIONS: InjectionToken<AuditOptions> = Symbol('test.audit.options');
const defaultAuditOptions: AuditOptions = { tag: 'default', level: 1 };

/** What the audit stage saw, per attach, read back by the test. */
const seen: AuditOptions[] = [];

@injectable()
class AuditStage implements Stage {
  readonly id = 'audit';
  readonly description = 'records its options';
  readonly after = ['resolve-target'];
  constructor(@inject(AUDIT_OPTIONS) private readonly options: AuditOptions) {}
  plan(): void {
    seen.push(this.options);
  }
}

function auditPlugin(options: Partial<AuditOptions> = {}) {
  return definePlugin({
    name: 'audit-plugin',
    register(c) {
      registerPluginOptions(c, AUDIT_OPTIONS, defaultAuditOptions, options);
      c.register(STAGE, { useClass: AuditStage });
    },
  });
}

/** The real libc, counting the calls made through it. */
function countingLibc(): { libc: Libc; calls: () => number } {
  let calls = 0;
  const real = realLibc();
  const libc = new Proxy(real, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => { calls++; return (value as (...a: unknown[]) => unknown).apply(target, args); };
    },
  });
  return { libc, calls: () => calls };
}

const self = (command: string[]) => ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'] as const });

describe('DI: a parent container is honoured', () => {
  it("should use the parent's LIBC, and options.libc over it", async () => {
    const parent = rootContainer.createChildContainer();
    const fromParent = countingLibc();
    parent.register(LIBC, { useValue: fromParent.libc });
    const out = await collect(await createPipeline({ container: parent }).spawn(self(['echo', 'hi'])));
    assert.deepEqual(out, { exitCode: 0, stdout: 'hi\n', stderr: '' });
    assert.ok(fromParent.calls() > 0, "the attach went through the parent's libc");

    const explicit = countingLibc();
    const before = fromParent.calls();
    await collect(await createPipeline({ container: parent, libc: explicit.libc }).spawn(self(['true'])));
    assert.ok(explicit.calls() > 0);
    assert.equal(fromParent.calls(), before, "options.libc wins over the parent's");
  });

  it("should merge a plugin's options: explicit arguments > the parent's registration > defaults", async () => {
    seen.length = 0;
    await createPipeline({ plugins: [auditPlugin()] }).attach(self(['true']));
    const parent = rootContainer.createChildContainer();
    parent.register(AUDIT_OPTIONS, { useValue: { tag: 'parent' } as AuditOptions }); // a partial is enough
    await createPipeline({ container: parent, plugins: [auditPlugin()] }).attach(self(['true']));
    await createPipeline({ container: parent, plugins: [auditPlugin({ level: 3 })] }).attach(self(['true']));
    await createPipeline({ container: parent, plugins: [auditPlugin({ tag: 'explicit', level: undefined })] }).attach(self(['true']));
    assert.deepEqual(seen, [
      { tag: 'default', level: 1 },
      { tag: 'parent', level: 1 },
      { tag: 'parent', level: 3 },
      { tag: 'explicit', level: 1 },
    ]);
    assert.deepEqual(parent.resolve(AUDIT_OPTIONS), { tag: 'parent' }, 'the plugin registers in the child, never the parent');
  });

  it("should add the parent's STAGE registrations, resolved with the pipeline's services", async () => {
    seen.length = 0;
    const parent = rootContainer.createChildContainer();
    const planned: string[] = [];
    parent.register(STAGE, { useValue: stage('mark-env', (ctx) => { ctx.env.set('AK_DI', 'yes'); planned.push(ctx.stage); }, { after: ['build-env'], before: ['exec'] }) });
    // A stage class of the parent that needs a plugin's options gets the pipeline's merged ones.
    parent.register(STAGE, { useClass: AuditStage });
    parent.register(AUDIT_OPTIONS, { useValue: { tag: 'parent', level: 2 } });
    const p = createPipeline({ container: parent, plugins: [auditPlugin({ level: 5 })] });
    assert.equal(p.ids.filter((id) => id === 'audit').length, 1, "the parent's 'audit' takes the place of the plugin's");
    assert.ok(p.has('mark-env'));
    const out = await collect(await p.spawn(self(['sh', '-c', 'echo $AK_DI'])));
    assert.deepEqual(out, { exitCode: 0, stdout: 'yes\n', stderr: '' });
    assert.deepEqual(planned, ['mark-env']);
    assert.deepEqual(seen, [{ tag: 'parent', level: 5 }]);
  });

  it("should let a parent's stage replace a core stage of the same id", () => {
    const parent = rootContainer.createChildContainer();
    const mine = stage('set-umask', () => {}, { after: ['resolve-target'] });
    parent.register(STAGE, { useValue: mine });
    const p = createPipeline({ container: parent });
    assert.equal(p.get('set-umask'), mine);
    assert.equal(p.ids.filter((id) => id === 'set-umask').length, 1);
  });

  it('should refuse two parent stages with one id, naming it, whether or not a plugin has that id', () => {
    for (const id of ['twice', 'set-umask']) {
      const parent = rootContainer.createChildContainer();
      parent.register(STAGE, { useValue: stage(id, () => {}) });
      parent.register(STAGE, { useValue: stage(id, () => {}) });
      assert.throws(() => createPipeline({ container: parent }).freeze(), (err: AttachError) =>
        err.code === ErrorCodes.STAGE_ORDER && err.message.includes(`'${id}'`));
    }
  });

  it('should refuse a registered options value that is not an object, with one AttachError', () => {
    const parent = rootContainer.createChildContainer();
    parent.register(AUDIT_OPTIONS, { useValue: 42 as unknown as AuditOptions });
    assert.throws(() => createPipeline({ container: parent, plugins: [auditPlugin()] }), (err: AttachError) =>
      err.code === ErrorCodes.BAD_REQUEST && /not an options object: 42/.test(err.message));
  });

  it("should ask the parent's target resolvers before the plugins', and keep both", async () => {
    // A resolver that takes `{ self: <tag> }` and holds this very process.
    const resolver = (tag: string): TargetResolver => ({
      kind: `self (${tag})`,
      accepts: (target: AttachTarget) => (target as { self?: string }).self !== undefined && (tag === 'any' || (target as { self?: string }).self === tag),
      resolve: (ctx) => {
        const pidfd = ctx.libc.pidfdOpen(process.pid);
        ctx.defer(() => ctx.libc.close(pidfd));
        ctx.env.set('AK_RESOLVER', tag);
        return { pid: process.pid, pidfd, description: `this process (${tag})` };
      },
    });
    const targetPlugin = definePlugin({ name: 'self-plugin', register: (c) => c.register(TARGET_RESOLVER, { useValue: resolver('any') }) });
    const parent = rootContainer.createChildContainer();
    parent.register(TARGET_RESOLVER, { useValue: resolver('parent') });
    const p = createPipeline({ container: parent, plugins: [targetPlugin] });
    const run = async (self: string) => (await collect(await p.spawn({ target: { self } as unknown as AttachTarget, command: ['sh', '-c', 'echo $AK_RESOLVER'], stdio: ['ignore', 'pipe', 'pipe'] }))).stdout;
    assert.equal(await run('parent'), 'parent\n', "the parent's, asked first");
    assert.equal(await run('other'), 'any\n', "the plugin's, for what the parent's does not take");
  });

  it('should leave the root container untouched', () => {
    createPipeline({ plugins: [auditPlugin()] });
    assert.equal(rootContainer.isRegistered(STAGE), false);
    assert.equal(rootContainer.isRegistered(AUDIT_OPTIONS), false);
    assert.equal(rootContainer.isRegistered(LIBC), false);
  });
});

describe('stages without decorators', () => {
  // No @injectable, no decorator metadata: what a project without
  // experimentalDecorators can write.
  class PlainStage implements Stage {
    readonly id = 'plain-class';
    readonly description = 'a class with no constructor parameters';
    readonly after = ['build-env'];
    readonly before = ['exec'];
    plan(ctx: StageContext): void {
      ctx.env.set('AK_PLAIN', 'class');
    }
  }
  class NeedsOptions implements Stage {
    readonly id = 'needs-options';
    readonly description = 'a class given its options by a factory';
    readonly after = ['build-env'];
    readonly before = ['exec'];
    constructor(private readonly options: AuditOptions) {}
    plan(ctx: StageContext): void {
      ctx.env.set('AK_FACTORY', this.options.tag);
    }
  }

  it('should run a plain class, a plain object and a factory-built stage', async () => {
    const plugin = definePlugin({
      name: 'plain-plugin',
      register(c) {
        registerPluginOptions(c, AUDIT_OPTIONS, defaultAuditOptions, { tag: 'from-factory' });
        c.register(STAGE, { useClass: PlainStage });
        c.register(STAGE, { useValue: { id: 'plain-object', description: 'an object', after: ['build-env'], before: ['exec'], plan: (ctx) => { ctx.env.set('AK_OBJECT', 'object'); } } });
        c.register(STAGE, { useFactory: (r) => new NeedsOptions(r.resolve(AUDIT_OPTIONS)) });
      },
    });
    const out = await collect(await createPipeline({ plugins: [plugin] }).spawn(self(['sh', '-c', 'echo $AK_PLAIN $AK_OBJECT $AK_FACTORY'])));
    assert.deepEqual(out, { exitCode: 0, stdout: 'class object from-factory\n', stderr: '' });
  });
});
