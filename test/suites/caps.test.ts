import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import type { AttachRequest } from '@attachkit/core';
import { runCli } from '../helpers/cli.js';
import { configStage } from '../helpers/config.js';
import { collect } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const CAP_MKNOD = 1n << 27n;
const CAP_SYS_MODULE = 1n << 16n;
const STATUS = ['sh', '-c', "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"];

/** The Cap* and NoNewPrivs lines of a /proc/<pid>/status. */
function caps(status: string): Record<string, bigint> {
  return Object.fromEntries([...status.matchAll(/^(Cap\w+|NoNewPrivs):\s*(\S+)$/gm)]
    .map(([, key, value]) => [key!, key === 'NoNewPrivs' ? BigInt(value!) : BigInt(`0x${value}`)]));
}
const statusOf = (pid: number | 'self') => caps(readFileSync(`/proc/${pid}/status`, 'utf8'));
// Capabilities the caller passes on in its inheritable and ambient sets (setpriv(1)).
const WITH_INHERITABLE = ['setpriv', '--inh-caps=+sys_module,+net_raw', '--ambient-caps=+net_raw', '--'];

describe('drop-caps, clear-inheritable-caps, no-new-privs, set-personality (a sandbox whose init lacks CAP_SYS_MODULE and CAP_SYS_TIME)', () => {
  let sandbox: Sandbox;
  let request: (extra?: Partial<AttachRequest>) => AttachRequest;
  before(async () => {
    sandbox = await startSandbox({ dropBounding: ['sys_module', 'sys_time'] });
    request = (extra = {}) => ({ target: { pid: sandbox.pid }, command: STATUS, stdio: ['ignore', 'pipe', 'pipe'], ...extra });
  });
  after(async () => { await sandbox.stop(); });

  it("should give the command the init's bounding set, as permitted and effective set too", async () => {
    const init = statusOf(sandbox.pid);
    assert.equal(init.CapBnd! & CAP_SYS_MODULE, 0n, 'the fixture dropped sys_module');
    const r = await runCli(['--pid', String(sandbox.pid), '--', ...STATUS]);
    assert.equal(r.stderr, '');
    const got = caps(r.stdout);
    assert.equal(got.CapBnd, init.CapBnd);
    assert.equal(got.CapPrm, init.CapBnd);
    assert.equal(got.CapEff, init.CapBnd);
    assert.equal(got.CapInh, 0n);
    assert.equal(got.CapAmb, 0n);
    assert.equal(got.NoNewPrivs, 0n);
  });

  it("should keep the caller's bounding set with -e CAP, and with -s", async () => {
    for (const flags of [['-e', 'CAP'], ['-s', 'PID|MOUNT']]) {
      const r = await runCli(['--pid', String(sandbox.pid), ...flags, '--', ...STATUS]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(caps(r.stdout).CapBnd, statusOf('self').CapBnd, flags.join(' '));
    }
    const stages = await runCli(['stages', '-e', 'CAP']);
    assert.match(stages.stdout, /drop-caps\s+off .*\(-e CAP: the command keeps the caller's bounding set\)/);
    assert.match(stages.stdout, /clear-inheritable-caps\s+on /);
  });

  it('should let no inheritable or ambient capability of the caller cross, even with -e CAP (CVE-2022-29162)', async () => {
    const caller = caps(spawnSync(WITH_INHERITABLE[0]!, [...WITH_INHERITABLE.slice(1), ...STATUS], { encoding: 'utf8' }).stdout);
    assert.equal(caller.CapInh, CAP_SYS_MODULE | (1n << 13n), 'the fixture gives the caller inheritable caps');
    assert.notEqual(caller.CapAmb, 0n, 'and an ambient one');
    for (const flags of [[], ['-e', 'CAP']]) {
      const r = await runCli(['--pid', String(sandbox.pid), ...flags, '--', ...STATUS], { prefix: WITH_INHERITABLE });
      assert.equal(r.code, 0, r.stderr);
      const got = caps(r.stdout);
      assert.equal(got.CapInh, 0n, flags.join(' '));
      assert.equal(got.CapAmb, 0n, flags.join(' '));
      // As root, execve gives permitted = bounding ∪ inheritable: a kept inheritable sys_module would be back.
      assert.equal(got.CapPrm, got.CapBnd, flags.join(' '));
    }
  });

  it('should narrow the set by lxc.cap.drop and lxc.cap.keep of the container config', async () => {
    const init = statusOf(sandbox.pid).CapBnd!;
    const dropped = await collect(await defaultPipeline().add(configStage({ 'lxc.cap.drop': ['mknod'] })).spawn(request()));
    assert.equal(caps(dropped.stdout).CapBnd, init & ~CAP_MKNOD);
    const none = await collect(await defaultPipeline().add(configStage({ 'lxc.cap.keep': ['none'] })).spawn(request()));
    assert.deepEqual([caps(none.stdout).CapBnd, caps(none.stdout).CapPrm], [0n, 0n]);
  });

  it('should refuse an unknown capability name with one clear error, before anything runs', async () => {
    await assert.rejects(defaultPipeline().add(configStage({ 'lxc.cap.drop': ['CAP_MKNOD'] })).spawn(request()),
      { message: "drop-caps: lxc.cap.drop: unknown capability 'CAP_MKNOD' (LXC takes lower-case names without CAP_, such as sys_admin, or numbers 0..40)" });
  });

  it('should set no_new_privs when the container sets lxc.no_new_privs = 1, and only then', async () => {
    for (const [value, expected] of [['1', 1n], ['0', 0n]] as const) {
      const out = await collect(await defaultPipeline().add(configStage({ 'lxc.no_new_privs': [value] })).spawn(request()));
      assert.equal(caps(out.stdout).NoNewPrivs, expected, `lxc.no_new_privs = ${value}`);
    }
    await assert.rejects(defaultPipeline().add(configStage({ 'lxc.no_new_privs': ['2'] })).spawn(request()), /no-new-privs: lxc\.no_new_privs = 2: expected 0 or 1/);
  });

  it('should run the command with the personality of -a, and refuse an unknown one in one line', { skip: process.arch !== 'x64' }, async () => {
    assert.equal((await runCli(['--pid', String(sandbox.pid), '-a', 'i686', '--', 'uname', '-m'])).stdout, 'i686\n');
    assert.equal((await runCli(['--pid', String(sandbox.pid), '--', 'uname', '-m'])).stdout, 'x86_64\n');
    const bad = await runCli(['--pid', String(sandbox.pid), '-a', 'z80', '--', 'true']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^attachkit: set-personality: unknown architecture 'z80' in -a\/--arch \(accepted: [^\n]*\)\n$/);
  });
});
