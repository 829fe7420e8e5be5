import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ensureContainer, initPid, installProgram, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';
import { attachkit, both, lxcAttach, same } from '../lxc/differential.js';

/**
 * Restrictions (issue 6): capabilities, no_new_privs, seccomp, environment
 * and personality, the same attach through lxc-attach 5 and attachkit on a
 * real privileged LXC container that includes Debian's common.conf: its
 * lxc.cap.drop (mac_admin mac_override sys_time sys_module sys_rawio), its
 * lxc.seccomp.profile common.seccomp (a v2 denylist: kexec_load,
 * open_by_handle_at, init_module, finit_module, delete_module with errno 1,
 * and umount2 MNT_FORCE refused) and its apparmor-free rest (AppArmor is not
 * active on this host, and common.conf sets no profile).
 */

const RESTRICTED: ContainerSpec = {
  name: 'attachkit-restricted',
  conf: ['lxc.include = /usr/share/lxc/config/common.conf', 'lxc.no_new_privs = 1', 'lxc.environment = FROMCONF=yes'],
};
/** Prints the errno of syscalls common.seccomp denies (test/lxc/denied-syscalls.c). */
const DENIED = '/bin/attachkit-denied';
const STATUS = ['grep', '-E', '^(Cap|NoNewPrivs|Seccomp)', '/proc/self/status'];

const statusField = (status: string, field: string) => new RegExp(`^${field}:\\s*(\\S+)$`, 'm').exec(status)?.[1];

describe('restrictions: attachkit and lxc-attach 5 restrict the command alike (real LXC, common.conf)', () => {
  before(() => {
    ensureContainer(RESTRICTED);
    installProgram(RESTRICTED, 'denied-syscalls.c', DENIED);
  });
  after(() => stopContainer(RESTRICTED));

  const attach = (options: readonly string[], command: readonly string[]) => both([...targetArgs(RESTRICTED), ...options, '--', ...command]);

  it("should give the same capability sets, no_new_privs and seccomp mode: the init's bounding set, NoNewPrivs 1, a filter", async () => {
    const out = same(await attach([], STATUS));
    const init = readFileSync(`/proc/${initPid(RESTRICTED)}/status`, 'utf8');
    assert.equal(statusField(out, 'CapBnd'), statusField(init, 'CapBnd'));
    // sys_rawio (17) is dropped by common.conf only; sys_module (16) by the template too.
    assert.equal(BigInt(`0x${statusField(out, 'CapBnd')}`) & (3n << 16n), 0n);
    assert.deepEqual([statusField(out, 'NoNewPrivs'), statusField(out, 'Seccomp'), statusField(out, 'Seccomp_filters')], ['1', '2', '1']);
  });

  it("should fail the syscalls the profile denies with its errno, as root and as -u 1000 (the kernel's own errno with -eLSM, which loads no profile)", async () => {
    const denied = 'kexec_load EPERM\nopen_by_handle_at EPERM\n';
    assert.equal(same(await attach([], [DENIED])), denied);
    assert.equal(same(await attach(['-u', '1000', '-g', '1000'], [DENIED])), denied);
    // lxc-attach loads the profile only with LXC_ATTACH_LSM (attach.c, fetch_seccomp).
    const unfiltered = same(await attach(['-eLSM'], [DENIED]));
    assert.match(unfiltered, /^kexec_load (EINVAL|ENOSYS)\nopen_by_handle_at EFAULT\n$/);
  });

  it("should pass the same environment, with the config's lxc.environment: by default, --clear-env, --clear-env --keep-var HOME -v A=1", async () => {
    for (const options of [[], ['--clear-env'], ['--clear-env', '--keep-var', 'HOME', '-v', 'A=1']]) {
      const out = same(await attach(options, ['env']), options.join(' '));
      assert.match(out, /^FROMCONF=yes$/m);
    }
    assert.equal(same(await attach(['--clear-env', '--keep-var', 'HOME', '-v', 'A=1'], ['env'])),
      'HOME=/root\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\ncontainer=lxc\nFROMCONF=yes\nA=1\n');
  });

  it('should run under the personality -a asks for: i686 (x86_64 without -a)', async () => {
    assert.equal(same(await attach(['-a', 'i686'], ['uname', '-m'])), 'i686\n');
    assert.equal(same(await attach([], ['uname', '-m'])), 'x86_64\n');
  });

  it("should keep the caller's full bounding set with -eCAP (attachkit takes -e CAP too), still under the profile", async () => {
    const ours = statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
    // lxc-attach's -e has an optional argument: only -eCAP passes it.
    const lxc = await lxcAttach([...targetArgs(RESTRICTED), '-eCAP', '--', ...STATUS]);
    for (const e of [['-eCAP'], ['-e', 'CAP']]) {
      const r = await attachkit([...targetArgs(RESTRICTED), ...e, '--', ...STATUS]);
      assert.deepEqual(r, lxc, e.join(' '));
    }
    assert.equal(lxc.code, 0, lxc.stderr);
    assert.deepEqual(['CapBnd', 'CapPrm', 'Seccomp'].map((f) => statusField(lxc.stdout, f)), [ours, ours, '2']);
  });

  // Measured with lxc-attach 5.0.2: -s sets every privilege elevated, -e sets exactly the ones it names (it does not add to them).
  describe('-s and -e in command-line order, the last one winning, as lxc-attach applies them (issue 14)', () => {
    const SEES = ['sh', '-c', 'grep -E "^(Cap|Seccomp)" /proc/self/status; cat /proc/self/cgroup'];
    const self = readFileSync('/proc/self/status', 'utf8');
    const cases: ReadonlyArray<{ options: readonly string[]; capsDropped: boolean; seccomp: boolean; cgroupMoved: boolean }> = [
      { options: ['-s', 'UTSNAME'], capsDropped: false, seccomp: false, cgroupMoved: false },
      { options: ['-s', 'UTSNAME', '-eCAP'], capsDropped: false, seccomp: true, cgroupMoved: true },
      { options: ['-s', 'UTSNAME', '-eCGROUP'], capsDropped: true, seccomp: true, cgroupMoved: false },
      { options: ['-eCAP', '-s', 'UTSNAME'], capsDropped: false, seccomp: false, cgroupMoved: false },
    ];
    for (const { options, capsDropped, seccomp, cgroupMoved } of cases) {
      it(`should give the same capability sets, seccomp mode and cgroups with ${options.join(' ')}: caps ${capsDropped ? 'dropped' : 'kept'}, ${seccomp ? 'a filter' : 'no filter'}, cgroups ${cgroupMoved ? "the container's" : "the caller's"}`, async () => {
        const out = same(await attach(options, SEES), options.join(' '));
        const init = readFileSync(`/proc/${initPid(RESTRICTED)}/status`, 'utf8');
        const bounding = statusField(capsDropped ? init : self, 'CapBnd');
        assert.deepEqual(['CapBnd', 'CapPrm', 'Seccomp'].map((f) => statusField(out, f)), [bounding, bounding, seccomp ? '2' : '0']);
        // -s UTSNAME joins no cgroup namespace: the cgroups read as the caller sees them.
        const unified = /^0::(.*)$/m.exec(out)?.[1];
        const ours = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
        if (cgroupMoved) assert.match(unified ?? '', new RegExp(`/lxc\\.payload\\.${RESTRICTED.name}/\\.lxc$`));
        else assert.equal(unified, ours);
      });
    }
  });
});
