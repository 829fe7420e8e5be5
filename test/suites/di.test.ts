import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { capsPlugin } from '@attachkit/caps-plugin';
import { CGROUP_OPTIONS, cgroupPlugin, type CgroupOptions } from '@attachkit/cgroup-plugin';
import {
  bytes, container as rootContainer, createPipeline, imm, LIBC, realLibc, STAGE, type Libc, type Stage, type StageContext,
} from '@attachkit/core';
import { lsmPlugin } from '@attachkit/lsm-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { seccompPlugin } from '@attachkit/seccomp-plugin';
import { collect } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * A third party extends attachkit through DI alone, attaching into the
 * sandbox container with the full isolation: its parent container gives a
 * LIBC, a plugin's options and a stage of its own, whose syscall
 * (sched_setaffinity) the core's table lacks. No decorators, no fork of core.
 */

/** Pins the command to one CPU: a syscall emitted by name, its numbers declared by the stage. */
class PinToCpu implements Stage {
  readonly id = 'pin-to-cpu';
  readonly description = 'runs the command on CPU 1';
  readonly after = ['resolve-target'];
  readonly syscalls = { sched_setaffinity: { x64: 203, arm64: 122 } };
  readonly seen: CgroupOptions[] = [];
  constructor(private readonly cgroup: CgroupOptions) {}
  plan(ctx: StageContext): void {
    this.seen.push(this.cgroup);
    const mask = Buffer.alloc(8);
    mask.writeBigUInt64LE(1n << 1n);
    ctx.program.syscall('ids', 'sched_setaffinity', [imm(0), imm(8), bytes(mask)], { operation: 'sched_setaffinity(CPU 1) of the command' });
  }
}

describe('DI through a real attach (the sandbox container)', () => {
  let sandbox: Sandbox;
  before(async () => { sandbox = await startSandbox({ hostname: 'attachkit-di' }); });
  after(async () => { await sandbox.stop(); });

  it("should honour the parent's LIBC, plugin options and stage, and run the stage's own syscall inside", async () => {
    const parent = rootContainer.createChildContainer();
    let calls = 0;
    const real = realLibc();
    parent.register(LIBC, { useValue: new Proxy(real, {
      get: (target, key) => {
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (...args: unknown[]) => { calls++; return (value as (...a: unknown[]) => unknown).apply(target, args); } : value;
      },
    }) as Libc });
    // The parent's options for the cgroup plugin: moved at the sync point rather than born in the cgroup.
    parent.register(CGROUP_OPTIONS, { useValue: { cloneIntoCgroup: false } as CgroupOptions });
    let pin: PinToCpu | undefined;
    parent.register(STAGE, { useFactory: (c) => (pin = new PinToCpu(c.resolve(CGROUP_OPTIONS))) });

    const pipeline = createPipeline({ container: parent, plugins: [nsPlugin(), cgroupPlugin(), lsmPlugin(), capsPlugin(), seccompPlugin()] });
    assert.ok(pipeline.has('pin-to-cpu') && pipeline.has('enter-cgroup') && pipeline.has('drop-caps'));
    const out = await collect(await pipeline.spawn({
      target: { pid: sandbox.pid },
      command: ['sh', '-c', 'hostname; grep Cpus_allowed_list /proc/self/status; cat /proc/self/cgroup'],
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    assert.equal(out.stderr, '');
    assert.equal(out.exitCode, 0);
    const [hostname, cpus, ...cgroups] = out.stdout.trim().split('\n');
    assert.equal(hostname, 'attachkit-di');
    assert.equal(cpus, 'Cpus_allowed_list:\t1');
    // In the sandbox's own cgroup namespace, at its root: its cgroup, entered at the sync point.
    assert.ok(cgroups.includes('0::/'), cgroups.join(' '));
    assert.equal(pin?.seen[0]?.cloneIntoCgroup, false, "the parent's option, merged over the defaults");
    assert.equal(pin?.seen[0]?.procRoot, '/proc', 'the default where the parent says nothing');
    assert.ok(calls > 0, "the attach went through the parent's libc");
    assert.equal(readFileSync(`/proc/${sandbox.pid}/status`, 'utf8').includes('Cpus_allowed_list:\t1\n'), false, 'only the command was pinned');
  });
});
