import { DEFAULT_PATH, type OciSpec } from './bundle.js';

/**
 * A process spec that sets everything `runc exec` applies: uid 1000 with
 * groups 10 and 20, an ambient capability with its matching sets, no_new_privs,
 * seccomp with an errno rule and an argument rule, rlimits under this host's
 * hard limits, oom_score_adj, cwd and env.
 */
export function richSpec(id: string): OciSpec {
  return {
    id,
    uid: 1000,
    gid: 1000,
    additionalGids: [10, 20],
    env: [DEFAULT_PATH, 'FOO=bar'],
    cwd: '/tmp',
    capabilities: {
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'],
      effective: ['CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_NET_BIND_SERVICE'],
      inheritable: ['CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_NET_BIND_SERVICE'],
    },
    noNewPrivileges: true,
    seccomp: {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
        // kill(pid, SIGUSR1) only: EAFNOSUPPORT
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }] },
      ],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }, { type: 'RLIMIT_NPROC', soft: 77, hard: 77 }],
    oomScoreAdj: 123,
  };
}
