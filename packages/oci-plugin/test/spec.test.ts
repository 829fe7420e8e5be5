import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonExact } from '@attachkit/core';
import { OciSpecError, specModel } from '../src/index.js';

const LAST_CAP = 40;
const state = { runtime: 'runc' as const, configFile: '/b/config.json' };
const model = (spec: unknown) => specModel(parseJsonExact(JSON.stringify(spec)), state);
const refused = (spec: unknown, message: RegExp) => assert.throws(() => {
  const m = model(spec);
  m.capabilities?.(LAST_CAP);
}, (err: Error) => err instanceof OciSpecError && message.test(err.message));

describe('an OCI process spec as the container model', () => {
  it('should map user, env, cwd, the five capability sets, rlimits, oom_score_adj, umask, no_new_privs and labels', () => {
    const m = model({
      process: {
        terminal: false, args: ['sleep', '1000'], cwd: '/tmp', env: ['PATH=/bin', 'FOO=a=b'], noNewPrivileges: true, oomScoreAdj: 123,
        user: { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o27 },
        capabilities: { bounding: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'], effective: ['CAP_NET_BIND_SERVICE'], permitted: ['CAP_NET_BIND_SERVICE'], inheritable: ['CAP_NET_BIND_SERVICE'], ambient: ['CAP_NET_BIND_SERVICE'] },
        rlimits: [{ type: 'RLIMIT_NOFILE', hard: 512, soft: 256 }],
        apparmorProfile: 'docker-default', selinuxLabel: 'system_u:system_r:container_t:s0',
      },
      linux: { personality: { domain: 'LINUX32' }, seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } },
    });
    assert.deepEqual(m.user!(), { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o27 });
    assert.equal(m.umask!(), 0o27);
    assert.deepEqual(m.environment!(), [['PATH', '/bin'], ['FOO', 'a=b']]);
    assert.equal(m.environmentReplaces, true);
    assert.equal(m.cwd!(), '/tmp');
    assert.deepEqual(m.capabilities!(LAST_CAP), { bounding: 0x420n, effective: 0x400n, permitted: 0x400n, inheritable: 0x400n, ambient: 0x400n });
    assert.equal(m.boundingSet!(LAST_CAP), 0x420n);
    assert.deepEqual(m.rlimits!(), [{ type: 'NOFILE', soft: 256n, hard: 512n }]);
    assert.equal(m.oomScoreAdj!(), 123);
    assert.equal(m.noNewPrivileges!(), true);
    assert.equal(m.lsmLabel!('apparmor'), 'docker-default');
    assert.equal(m.lsmLabel!('selinux'), 'system_u:system_r:container_t:s0');
    assert.deepEqual(m.personality!(), { arch: 'linux32', from: '/b/config.json linux.personality' });
    assert.deepEqual(m.seccomp!(), { format: 'oci', spec: { defaultAction: 'SCMP_ACT_ALLOW' }, from: '/b/config.json linux.seccomp' });
  });

  it('should keep uint64 limits exact (RLIM_INFINITY)', () => {
    const m = specModel(parseJsonExact('{"process":{"rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]}}'), state);
    assert.deepEqual(m.rlimits!(), [{ type: 'CORE', soft: (1n << 64n) - 1n, hard: (1n << 64n) - 1n }]);
  });

  it('should refuse what it cannot apply, naming the field, never drop it', () => {
    refused({ process: { ioPriority: { class: 'IOPRIO_CLASS_IDLE' } } }, /^process\.ioPriority cannot be applied/);
    refused({ process: { scheduler: { policy: 'SCHED_IDLE' } } }, /^process\.scheduler cannot be applied/);
    refused({ process: { user: { uid: 0, gid: 0, extra: 1 } } }, /^process\.user\.extra/);
    refused({ process: { capabilities: { bounding: ['CAP_NOPE'] } } }, /^process\.capabilities\.bounding\[0\] is not a capability this kernel knows: CAP_NOPE/);
    refused({ process: { env: ['NOEQUALS'] } }, /^process\.env\[0\] is not NAME=VALUE/);
    refused({ process: { rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1, soft: 2 }] } }, /soft 2 above hard 1/);
    refused({ process: { oomScoreAdj: 5000 } }, /^process\.oomScoreAdj is not an integer in -1000\.\.1000/);
    refused({ linux: { personality: { domain: 'LINUX', flags: ['X'] } } }, /^linux\.personality\.flags cannot be applied/);
  });

  it('should take crun\'s compiled filter when the state has one', () => {
    assert.equal(specModel({}, { runtime: 'crun', configFile: '/c' }).seccomp!(), undefined);
  });
});
