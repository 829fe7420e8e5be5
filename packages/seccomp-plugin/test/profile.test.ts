import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AARCH64, parseProfile, ProfileError, X86_64, type SeccompProfile } from '../src/index.js';

const FILE = '/etc/lxc/test.seccomp';
const read = (text: string, arch = X86_64): SeccompProfile => parseProfile(text, { file: FILE, arch });
const rules = (text: string, arch = X86_64) => read(text, arch).rules.map((r) => [r.syscall, r.nr, r.action, r.args.length, r.line]);

/** The error a profile gives, as `file:line: reason`. */
function error(text: string): string {
  try {
    read(text);
  } catch (err) {
    assert.ok(err instanceof ProfileError, `a ProfileError, not ${String(err)}`);
    return err.message;
  }
  return assert.fail(`no error for:\n${text}`);
}

describe('LXC seccomp profile reader', () => {
  it("should read LXC's own common.seccomp", () => {
    const profile = read(`2
denylist
reject_force_umount  # comment this to allow umount -f;  not recommended
[all]
kexec_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
`);
    assert.equal(profile.version, 2);
    assert.equal(profile.policy, 'denylist');
    assert.deepEqual(profile.defaultAction, { kind: 'allow' });
    assert.deepEqual(profile.rules[0], {
      syscall: 'umount2', nr: 166, action: { kind: 'errno', errno: 13 }, line: 3,
      args: [{ index: 1, op: 'masked-eq', value: 1n, mask: 1n }],
    });
    assert.deepEqual(profile.rules.slice(1).map((r) => [r.syscall, r.nr, r.action, r.line]), [
      ['kexec_load', 246, { kind: 'errno', errno: 1 }, 5],
      ['open_by_handle_at', 304, { kind: 'errno', errno: 1 }, 6],
      ['init_module', 175, { kind: 'errno', errno: 1 }, 7],
      ['finit_module', 313, { kind: 'errno', errno: 1 }, 8],
      ['delete_module', 176, { kind: 'errno', errno: 1 }, 9],
    ]);
  });

  it('should give a denylist default allow and rules kill, an allowlist the reverse', () => {
    const deny = read('2\ndenylist\nmknod\n');
    assert.deepEqual([deny.defaultAction, deny.rules[0]!.action], [{ kind: 'allow' }, { kind: 'kill' }]);
    const allow = read('2\nallowlist\nread\n');
    assert.deepEqual([allow.defaultAction, allow.rules[0]!.action], [{ kind: 'kill' }, { kind: 'allow' }]);
    assert.equal(read('2\nblacklist\n').policy, 'denylist');
    assert.equal(read('2\nwhitelist\n').policy, 'allowlist');
  });

  it('should read the default action of the policy line and every action of a rule', () => {
    assert.deepEqual(read('2\nallowlist errno 38\n').defaultAction, { kind: 'errno', errno: 38 });
    assert.deepEqual(read('2\ndenylist trap\n').defaultAction, { kind: 'trap' });
    assert.deepEqual(rules('2\ndenylist\nread kill\nwrite trap\nopen log\nclose allow\nstat errno 0\nfstat errno5\n').map((r) => r[2]), [
      { kind: 'kill' }, { kind: 'trap' }, { kind: 'log' }, { kind: 'allow' }, { kind: 'errno', errno: 0 }, { kind: 'errno', errno: 5 },
    ]);
  });

  it('should read argument comparisons in every form LXC takes', () => {
    const [rule] = read('2\ndenylist\nioctl errno 25 [1,0x5412,SCMP_CMP_EQ] [0, 010, !=] [2,4,SCMP_CMP_MASKED_EQ,0x6] [3,18446744073709551615,>=]\n').rules;
    assert.deepEqual(rule!.args, [
      { index: 1, op: 'eq', value: 0x5412n, mask: 0n },
      { index: 0, op: 'ne', value: 8n, mask: 0n },
      { index: 2, op: 'masked-eq', value: 4n, mask: 6n },
      { index: 3, op: 'ge', value: 2n ** 64n - 1n, mask: 0n },
    ]);
    const ops = read('2\ndenylist\nread errno 1 [0,1,<] [1,1,<=] [2,1,==] [3,1,>] [4,1,&=,1] [5,1,SCMP_CMP_LT]\n').rules[0]!.args.map((a) => a.op);
    assert.deepEqual(ops, ['lt', 'le', 'eq', 'gt', 'masked-eq', 'lt']);
  });

  it('should read a version 1 allowlist of numbers', () => {
    const profile = read('1\nallowlist\n0\n1\n\n60 # exit\n');
    assert.deepEqual([profile.version, profile.policy, profile.defaultAction], [1, 'allowlist', { kind: 'kill' }]);
    assert.deepEqual(profile.rules.map((r) => [r.nr, r.action.kind, r.line]), [[0, 'allow', 3], [1, 'allow', 4], [60, 'allow', 6]]);
    assert.deepEqual(read('1\nallowlist errno 1\n').defaultAction, { kind: 'kill' }, 'LXC reads no default action in version 1');
  });

  it('should take syscall numbers, comments and indentation in version 2', () => {
    assert.deepEqual(rules('2\ndenylist\n# a comment\n\n  246 errno 1   # kexec_load\n'), [['246', 246, { kind: 'errno', errno: 1 }, 0, 5]]);
  });

  it("should apply the sections of this architecture's family and skip the others unread", () => {
    const text = `2
denylist
read errno 1
[x86_64]
write errno 2
[arm64]
no_such_syscall errno 3 [9,bogus]
[ARM]
fstat errno 4
[X86]
open errno 5
[x32]
close errno 6
[all]
lseek errno 7
`;
    assert.deepEqual(read(text).rules.map((r) => r.syscall), ['read', 'write', 'open', 'close', 'lseek']);
    assert.deepEqual(read(text.replace('no_such_syscall errno 3 [9,bogus]', 'uname errno 3'), AARCH64).rules.map((r) => [r.syscall, r.nr]),
      [['read', 63], ['uname', 160], ['fstat', 80], ['lseek', 62]]);
  });

  it('should skip a syscall that only another ABI has, as LXC does', () => {
    assert.deepEqual(rules('2\ndenylist\nsocketcall errno 1\nmmap2 errno 1\nkexec_load errno 1\n').map((r) => r[0]), ['kexec_load']);
    // the generic table's renameat2-only world: aarch64 has no open, x86_64 has it
    assert.deepEqual(rules('2\ndenylist\nopen errno 1\n', AARCH64), []);
  });

  describe('errors name the file and the line', () => {
    const cases: Array<[string, string, string]> = [
      ['a bad version', '3\nallowlist\n', `${FILE}:1: the first line must be the profile's version, 1 or 2 (found '3')`],
      ['an empty file', '', `${FILE}:1: the first line must be the profile's version, 1 or 2 (found '')`],
      ['no policy line', '2', `${FILE}:1: the policy line (allowlist or denylist) is missing`],
      ['an unknown policy', '2\ngraylist\n', `${FILE}:2: the second line must be the policy, allowlist or denylist (found 'graylist')`],
      ['debug', '2\ndenylist debug\n', `${FILE}:2: the 'debug' directive is not supported`],
      ['a version 1 denylist', '1\ndenylist\n', `${FILE}:2: a version 1 profile can only be an allowlist`],
      ['a version 1 name', '1\nallowlist\n0\nread\n', `${FILE}:4: a version 1 profile lists one syscall number per line (found 'read')`],
      ['an unknown section', '2\ndenylist\n[amd64]\n', `${FILE}:3: unknown architecture section '[amd64]' (known: [all], [x86], [x32], [x86_64], [arm], [arm64], [ppc64le], [ppc64], [ppc], [mips64], [mips64n32], [mips], [mipsel64], [mipsel64n32], [mipsel], [s390x], [s390])`],
      ['a mixed-case section', '2\ndenylist\n[X86_64]\n[Arm]\n', `${FILE}:4: unknown architecture section '[Arm]' (known: [all], [x86], [x32], [x86_64], [arm], [arm64], [ppc64le], [ppc64], [ppc], [mips64], [mips64n32], [mips], [mipsel64], [mipsel64n32], [mipsel], [s390x], [s390])`],
      ['an unknown syscall', '2\ndenylist\nread\nkexec_lod errno 1\n', `${FILE}:4: unknown syscall 'kexec_lod'`],
      ['a bad syscall name', '2\ndenylist\nre-ad\n', `${FILE}:3: 're-ad' is not a syscall name`],
      ['an unknown action', '2\ndenylist\nread deny\n', `${FILE}:3: unknown action 'deny' (known: kill, allow, trap, log, errno N)`],
      ['an unknown default action', '2\ndenylist deny\n', `${FILE}:2: unknown action 'deny' (known: kill, allow, trap, log, errno N)`],
      ['errno without a number', '2\ndenylist\nread errno\n', `${FILE}:3: 'errno' needs a number: errno N`],
      ['errno out of range', '2\ndenylist\nread errno 5000\n', `${FILE}:3: errno '5000' is not a number from 0 to 4095`],
      ['a word after an action', '2\ndenylist\nread kill now\n', `${FILE}:3: unexpected 'now' after action 'kill'`],
      ['notify', '2\ndenylist\nioctl notify\n', `${FILE}:3: the 'notify' action needs LXC's seccomp notify proxy (lxc.seccomp.notify.proxy), which attachkit does not implement`],
      ['an argument index out of range', '2\ndenylist\nread errno 1 [6,0,==]\n', `${FILE}:3: argument index '6' in [6,0,==] is not 0 to 5`],
      ['an unknown comparison', '2\ndenylist\nread errno 1 [0,0,=~]\n', `${FILE}:3: unknown comparison '=~' in [0,0,=~] (known: SCMP_CMP_NE != SCMP_CMP_LT < SCMP_CMP_LE <= SCMP_CMP_EQ == SCMP_CMP_GE >= SCMP_CMP_GT > SCMP_CMP_MASKED_EQ &=)`],
      ['a negative value', '2\ndenylist\nread errno 1 [0,-1,==]\n', `${FILE}:3: '-1' in [0,-1,==] is not an unsigned 64-bit number`],
      ['a value above 64 bits', '2\ndenylist\nread errno 1 [0,0x10000000000000000,==]\n', `${FILE}:3: '0x10000000000000000' in [0,0x10000000000000000,==] is not an unsigned 64-bit number`],
      ['a comparison of two fields', '2\ndenylist\nread errno 1 [0,1]\n', `${FILE}:3: argument comparison [0,1] must be [index,value,op] or [index,value,op,mask]`],
      ['an unclosed comparison', '2\ndenylist\nread errno 1 [0,1,==\n', `${FILE}:3: unbalanced '[' or ']' in 'read errno 1 [0,1,=='`],
      ['seven comparisons', `2\ndenylist\nread errno 1${' [0,1,==]'.repeat(7)}\n`, `${FILE}:3: at most 6 argument comparisons per rule (found 7)`],
    ];
    for (const [what, text, message] of cases) {
      it(`should refuse ${what}`, () => assert.equal(error(text), message));
    }
  });
});
