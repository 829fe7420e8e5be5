import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, imm,
  type AttachRequest, type CapabilitySets, type Stage, type StageContext,
} from '@attachkit/core';
import { capsPlugin } from '../src/index.js';

const CAP_CHOWN = 1n << 0n;
const CAP_KILL = 1n << 5n;
const CAP_NET_BIND_SERVICE = 1n << 10n;
const CAP_NET_RAW = 1n << 13n;
const CAP_AUDIT_WRITE = 1n << 29n;
/** The bounding set of the brief's runc container: chown, kill, net_bind_service, audit_write. */
const SPEC_BOUNDING = CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE | CAP_AUDIT_WRITE;
const STATUS = ['sh', '-c', "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id -u"];

/** The Cap* and NoNewPrivs lines of a /proc/<pid>/status, and the uid `id -u` printed. */
function parse(out: string): Record<string, bigint> {
  const fields = Object.fromEntries([...out.matchAll(/^(Cap\w+|NoNewPrivs):\s*(\S+)$/gm)]
    .map(([, key, value]) => [key!, key === 'NoNewPrivs' ? BigInt(value!) : BigInt(`0x${value}`)]));
  return { ...fields, uid: BigInt(/^(\d+)$/m.exec(out)![1]!) };
}
const self = () => parse(`${readFileSync('/proc/self/status', 'utf8')}\n${process.getuid!()}\n`);

const stage = (id: string, plan: (ctx: StageContext) => void, extra: Partial<Stage> = {}): Stage =>
  ({ id, description: `test stage ${id}`, plan, ...extra });

/**
 * The id switch, as ns-plugin's set-identity emits it for `-u 1000 -g 1000`
 * on a target without a user namespace: setgroups(0) in 'groups',
 * setresgid/setresuid in 'ids' (this package does not depend on ns-plugin).
 */
const switchTo = (id: number) => stage('test-identity', (ctx) => {
  ctx.program.syscall('groups', 'setgroups', [imm(0), imm(0)], { operation: 'setgroups(0)' });
  ctx.program.syscall('ids', 'setresgid', [imm(id), imm(id), imm(id)], { operation: `setresgid(${id})` });
  ctx.program.syscall('ids', 'setresuid', [imm(id), imm(id), imm(id)], { operation: `setresuid(${id})` });
}, { after: ['resolve-target'], before: ['exec'] });

/** The caps plugin with a container model that gives all five sets (an OCI process spec's), and optionally an id switch. */
function pipeline(sets: CapabilitySets | (() => CapabilitySets), uid?: number) {
  const p = createPipeline({ plugins: [capsPlugin()] })
    .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', capabilities: typeof sets === 'function' ? sets : () => sets }),
      { after: ['resolve-target'], before: ['drop-caps', 'set-caps'] }));
  return uid === undefined ? p : p.add(switchTo(uid));
}
const request = (extra: Partial<AttachRequest> = {}): AttachRequest =>
  ({ target: { pid: process.pid }, command: STATUS, stdio: ['ignore', 'pipe', 'pipe'], ...extra });
async function run(p: ReturnType<typeof pipeline>, extra: Partial<AttachRequest> = {}) {
  const { exitCode, stdout, stderr } = await (await p.spawn(request(extra))).output();
  assert.equal(stderr, '');
  assert.equal(exitCode, 0);
  return parse(stdout);
}

describe('set-caps, and drop-caps with a container that gives all five capability sets', () => {
  const nbs = CAP_NET_BIND_SERVICE;

  it('should give uid 1000 exactly the spec\'s sets, ambient CAP_NET_BIND_SERVICE raised, as runc exec does', async () => {
    const got = await run(pipeline({ bounding: SPEC_BOUNDING, effective: nbs, permitted: nbs, inheritable: nbs, ambient: nbs }, 1000));
    assert.equal(got.uid, 1000n);
    assert.equal(got.CapBnd, SPEC_BOUNDING & self().CapBnd!);
    assert.equal(got.CapAmb, nbs);
    assert.equal(got.CapPrm, nbs);
    assert.equal(got.CapEff, nbs);
    assert.equal(got.CapInh, nbs);
    assert.equal(got.NoNewPrivs, self().NoNewPrivs, 'no_new_privs untouched');
  });

  it('should let an ambient raise the kernel refuses go, as runc does: the default spec\'s ambient set goes when inheritable is empty', async () => {
    const got = await run(pipeline({ bounding: SPEC_BOUNDING, effective: SPEC_BOUNDING, permitted: SPEC_BOUNDING, inheritable: 0n, ambient: SPEC_BOUNDING }, 1000));
    assert.equal(got.uid, 1000n);
    assert.equal(got.CapBnd, SPEC_BOUNDING);
    assert.equal(got.CapAmb, 0n);
    assert.equal(got.CapPrm, 0n, 'execve gives a non-root command only its ambient set');
    assert.equal(got.CapEff, 0n);
    assert.equal(got.CapInh, 0n);
  });

  it('should give root the spec\'s sets: execve makes permitted the bounding set with the inheritable', async () => {
    const got = await run(pipeline({ bounding: SPEC_BOUNDING, effective: SPEC_BOUNDING, permitted: SPEC_BOUNDING, inheritable: nbs, ambient: nbs }));
    assert.equal(got.uid, 0n);
    assert.equal(got.CapBnd, SPEC_BOUNDING);
    assert.equal(got.CapPrm, SPEC_BOUNDING);
    assert.equal(got.CapEff, SPEC_BOUNDING);
    assert.equal(got.CapInh, nbs);
    assert.equal(got.CapAmb, nbs);
  });

  it("should keep today's behaviour without capability sets in the model (LXC, a --pid target): the init's bounding set, nothing inheritable", async () => {
    const bare = createPipeline({ plugins: [capsPlugin()] });
    const got = await run(bare);
    assert.equal(got.CapBnd, self().CapBnd);
    assert.equal(got.CapInh, 0n);
    assert.equal(got.CapAmb, 0n);
    const plan = bare.describe(request());
    assert.match(plan.find((s) => s.id === 'set-caps')!.reason, /when its runtime gives all five/);
  });

  it("should keep today's -e CAP: the caller's bounding set, no inheritable or ambient capability, the spec's sets not applied", async () => {
    const p = pipeline({ bounding: SPEC_BOUNDING, effective: nbs, permitted: nbs, inheritable: nbs, ambient: nbs });
    const got = await run(p, { elevated: ['CAP'] });
    assert.equal(got.CapBnd, self().CapBnd);
    assert.equal(got.CapInh, 0n);
    assert.equal(got.CapAmb, 0n);
    const plan = p.describe(request({ elevated: ['CAP'] }));
    assert.equal(plan.find((s) => s.id === 'set-caps')!.enabled, false);
    assert.match(plan.find((s) => s.id === 'set-caps')!.reason, /^-e CAP: /);
  });

  it('should order set-caps after drop-caps and clear-inheritable-caps, its ops after the id switch', () => {
    const ids = createPipeline({ plugins: [capsPlugin()] }).order().map((s) => s.id);
    assert.ok(ids.indexOf('set-caps') > ids.indexOf('drop-caps') && ids.indexOf('set-caps') > ids.indexOf('clear-inheritable-caps'), ids.join(' '));
  });

  it('should name the stage, the operation, the syscall and the errno of a capset the kernel refuses', async () => {
    // An inheritable capability outside the bounding set: capset(2) refuses it (EPERM), as it does under runc.
    await assert.rejects(pipeline({ bounding: SPEC_BOUNDING, effective: 0n, permitted: 0n, inheritable: CAP_NET_RAW, ambient: 0n }).spawn(request()), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.OP_FAILED);
      assert.equal(err.message, 'set-caps: capset(self, effective 0x0, permitted 0x0, inheritable 0x2000) failed: EPERM (Operation not permitted)');
      return true;
    });
  });

  it('should report a model that cannot read its capabilities before anything runs, naming the stage', async () => {
    await assert.rejects(pipeline(() => { throw new Error("unknown capability 'CAP_NOPE' in process.capabilities.bounding"); }).spawn(request()),
      (err: AttachError) => {
        assert.equal(err.code, ErrorCodes.BAD_REQUEST);
        assert.equal(err.message, "drop-caps: unknown capability 'CAP_NOPE' in process.capabilities.bounding");
        return true;
      });
  });
});
