import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes,
  type AttachRequest, type Stage,
} from '@attachkit/core';
import { seccompPlugin, X86_64, AARCH64, nativeArch, type SeccompOptions } from '../src/index.js';

/**
 * Real kernel: attach to this test process itself (nothing to join; the
 * whole program runs, seccomp included) and look from inside.
 */

// A static probe: `probe NR [ARG...]` makes the raw syscall, prints "result errno".
const PROBE_C = `#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
	long a[6] = {0};
	for (int i = 2; i < argc && i < 8; i++) a[i - 2] = (long)strtoull(argv[i], 0, 0);
	errno = 0;
	long r = syscall(strtol(argv[1], 0, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
	printf("%ld %d\\n", r, r == -1 ? errno : 0);
	return 0;
}
`;

const arch = nativeArch()!;
const nr = (name: string) => String(arch.syscalls[name]);


/** This process's child pids. */
function children(): string[] {
  return readdirSync('/proc/self/task').flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean)).sort();
}

/** A stage that publishes a container model with an LXC profile (from LXC's keys, as the LXC plugin maps them). */
function configStage(values: Record<string, string>): Stage {
  const path = values['lxc.seccomp.profile'];
  const seccomp = () => (path ? { format: 'lxc-profile' as const, path, from: 'lxc.seccomp.profile', allowNesting: values['lxc.seccomp.allow_nesting'] === '1' } : undefined);
  return { id: 'test-config', description: 'publish a container model', after: ['resolve-target'], before: ['load-seccomp'], plan: (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', seccomp }) };
}

describe('load-seccomp on the real kernel', () => {
  let dir: string;
  let probe: string;
  const profile = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const run = async (command: string[], request: Partial<AttachRequest> = {}, options: { stages?: Stage[]; plugin?: Partial<SeccompOptions> } = {}) => {
    const pipeline = createPipeline({ plugins: [seccompPlugin(options.plugin)] });
    if (options.stages) pipeline.add(...options.stages);
    return (await pipeline.spawn({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'], ...request })).output();
  };
  const seccompStatus = ['grep', '^Seccomp', '/proc/self/status'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-seccomp-'));
    writeFileSync(join(dir, 'probe.c'), PROBE_C);
    probe = join(dir, 'probe');
    execFileSync('cc', ['-static', '-O2', '-o', probe, join(dir, 'probe.c')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('should run on an architecture with a syscall table', () => {
    assert.ok(arch === X86_64 || arch === AARCH64, process.arch);
  });

  it("should start the command under the filter, denying with the profile's errno", async () => {
    const path = profile('deny.seccomp', '2\ndenylist\nkexec_load errno 1\nuname errno 38\n');
    const extensions = { seccompProfile: path };
    const status = await run(seccompStatus, { extensions });
    assert.equal(status.stdout, 'Seccomp:\t2\nSeccomp_filters:\t1\n');
    assert.equal((await run([probe, nr('kexec_load')], { extensions })).stdout, '-1 1\n');
    assert.equal((await run([probe, nr('uname'), '0'], { extensions })).stdout, '-1 38\n');
    assert.match((await run([probe, nr('getppid')], { extensions })).stdout, /^\d+ 0\n$/);
  });

  it('should compare whole 64-bit arguments in the kernel', async () => {
    // getpriority(which, who): the kernel reads `which` as an int, the filter sees all 64 bits.
    const extensions = { seccompProfile: profile('args.seccomp', '2\ndenylist\ngetpriority errno 33 [0,0x100000001,SCMP_CMP_EQ]\n') };
    assert.equal((await run([probe, nr('getpriority'), '0x100000001', '0'], { extensions })).stdout, '-1 33\n');
    assert.match((await run([probe, nr('getpriority'), '1', '0'], { extensions })).stdout, /^\d+ 0\n$/);
  });

  it("should kill the command for a 'kill' rule (SIGSYS)", async () => {
    const extensions = { seccompProfile: profile('kill.seccomp', '2\ndenylist\nuname kill\n') };
    const r = await run([probe, nr('uname'), '0'], { extensions });
    assert.deepEqual([r.exitCode, r.signal, r.stdout], [159, 'SIGSYS', '']);
  });

  it('should load an allowlist that lets the command run', async () => {
    // Everything but reboot, in allowlist form: a default-deny filter that the exec and the command pass.
    const allowed = Object.keys(arch.syscalls).filter((n) => n !== 'reboot').join('\n');
    const extensions = { seccompProfile: profile('allow.seccomp', `2\nallowlist errno 1\n${allowed}\n`) };
    assert.equal((await run([probe, nr('reboot'), '0'], { extensions })).stdout, '-1 1\n');
  });

  it('should refuse a malformed profile before anything starts, with one error naming the file and line', async () => {
    const path = profile('typo.seccomp', '2\ndenylist\nkexec_load errno 1\nkexec_lod errno 1\n');
    const marker = join(dir, 'ran');
    const before = children();
    await assert.rejects(run(['touch', marker], { extensions: { seccompProfile: path } }), (err) => {
      assert.ok(err instanceof AttachError);
      assert.equal(err.code, ErrorCodes.STAGE_FAILED);
      assert.equal(err.stage, 'load-seccomp');
      assert.equal(err.message, `load-seccomp: seccomp profile ${path}:4: unknown syscall 'kexec_lod'`);
      return true;
    });
    assert.equal(existsSync(marker), false, 'the command never ran');
    assert.deepEqual(children(), before, 'no executor was started');
  });

  it('should name a missing profile and a bad extensions.seccompProfile', async () => {
    const missing = join(dir, 'missing.seccomp');
    await assert.rejects(run(['true'], { extensions: { seccompProfile: missing } }), {
      message: `load-seccomp: read of the seccomp profile ${missing} (extensions.seccompProfile) failed: ENOENT (No such file or directory)`,
    });
    await assert.rejects(run(['true'], { extensions: { seccompProfile: 42 } }), {
      code: ErrorCodes.BAD_REQUEST, message: 'load-seccomp: extensions.seccompProfile must be the path of a profile',
    });
  });

  it("should load the container's lxc.seccomp.profile, and nothing when it is empty", async () => {
    const path = profile('container.seccomp', '2\ndenylist\nuname errno 38\n');
    const r = await run([probe, nr('uname'), '0'], {}, { stages: [configStage({ 'lxc.seccomp.profile': path })] });
    assert.equal(r.stdout, '-1 38\n');
    assert.equal((await run(seccompStatus, {}, { stages: [configStage({ 'lxc.seccomp.profile': '' })] })).stdout, 'Seccomp:\t0\nSeccomp_filters:\t0\n');
  });

  it('should load no container profile when the caller is already confined, unless allow_nesting is 1 (as LXC)', async () => {
    const path = profile('nested.seccomp', '2\ndenylist\nuname errno 38\n');
    const procRoot = join(dir, 'proc');
    mkdirSync(join(procRoot, 'self'), { recursive: true });
    writeFileSync(join(procRoot, 'self', 'status'), 'Name:\tnode\nSeccomp:\t2\n');
    const plugin = { procRoot };
    const skipped = await run(seccompStatus, {}, { stages: [configStage({ 'lxc.seccomp.profile': path })], plugin });
    assert.equal(skipped.stdout, 'Seccomp:\t0\nSeccomp_filters:\t0\n');
    const nested = await run(seccompStatus, {}, { stages: [configStage({ 'lxc.seccomp.profile': path, 'lxc.seccomp.allow_nesting': '1' })], plugin });
    assert.equal(nested.stdout, 'Seccomp:\t2\nSeccomp_filters:\t1\n');
  });

  it('should step aside with -e LSM and with -s, as lxc-attach does', async () => {
    const extensions = { seccompProfile: profile('toggled.seccomp', '2\ndenylist\nuname errno 38\n') };
    for (const request of [{ elevated: ['LSM' as const] }, { namespaces: ['NETWORK'] }]) {
      assert.equal((await run(seccompStatus, { extensions, ...request })).stdout, 'Seccomp:\t0\nSeccomp_filters:\t0\n');
    }
    const pipeline = createPipeline({ plugins: [seccompPlugin()] });
    const line = (request: AttachRequest) => pipeline.describe(request).find((s) => s.id === 'load-seccomp');
    assert.deepEqual(line({ target: { pid: 1 }, elevated: ['LSM'] }), {
      id: 'load-seccomp', description: "load the container's seccomp profile, compiled to BPF",
      enabled: false, reason: '-e LSM: lxc-attach loads no seccomp profile with elevated LSM privileges',
    });
    assert.equal(line({ target: { pid: 1 }, elevated: ['CAP', 'CGROUP'] })?.enabled, true);
  });
});
