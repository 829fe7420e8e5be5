import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AARCH64, compileProfile, parseProfile, ProfileError, X86_64 } from '../src/index.js';

/**
 * Property: whatever text a profile holds, the reader and the compiler either
 * give a filter or throw a ProfileError naming the file (and line) — never
 * another error. Lines are drawn from the profile grammar's own pieces, with
 * noise, so that most profiles get deep into the reader.
 */
const names = ['read', 'write', 'mount', 'umount2', 'kexec_load', 'socketcall', 'open', 'ioctl', 'reject_force_umount',
  'nosuchcall', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '0', '59', '4294967296', '99999999999999999999', 'a-b'];
const actions = ['', 'kill', 'allow', 'trap', 'log', 'notify', 'errno', 'errno 1', 'errno 4095', 'errno 4096', 'errno -1', 'errno x', 'allow 3', 'ALLOW'];
const values = ['0', '1', '0x10', '010', '09', '0xffffffffffffffff', '0x10000000000000000', '18446744073709551616', '-1', '', 'x'];
const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_MASKED_EQ', '==', '&=', '<', 'EQ', ''];
const compare = fc.tuple(fc.constantFrom('0', '5', '6', '-1', ''), fc.constantFrom(...values), fc.constantFrom(...ops), fc.option(fc.constantFrom(...values)))
  .map(([i, v, op, mask]) => `[${[i, v, op, ...(mask === null ? [] : [mask])].join(',')}]`);
const rule = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...actions), fc.array(compare, { maxLength: 7 }), fc.constantFrom('', ' # note', ']', '['))
  .map(([name, action, cmps, tail]) => [name, action, ...cmps].filter(Boolean).join(' ') + tail);
const line = fc.oneof(
  { weight: 6, arbitrary: rule },
  { weight: 1, arbitrary: fc.constantFrom('[all]', '[x86_64]', '[X86_64]', '[arm64]', '[ARM64]', '[x86]', '[mips]', '[X86_64', '[foo]', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
// Mostly valid headers, so that most profiles reach the rules (and version 1's numbers).
const profile = fc.tuple(
  fc.oneof({ weight: 8, arbitrary: fc.constant('2') }, { weight: 2, arbitrary: fc.constantFrom('1', '2 ', '3', '', 'x') }),
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom('allowlist', 'denylist', 'whitelist', 'blacklist', 'denylist errno 1', 'allowlist kill') },
    { weight: 2, arbitrary: fc.constantFrom('denylist debug', 'graylist', '', 'denylist errno') }),
  fc.array(line, { maxLength: 40 }),
).map(([version, policy, rest]) => [version, policy, ...rest].join('\n'));

describe('seccomp profile reader and compiler (properties)', () => {
  it('should return a filter or a ProfileError naming the file, for any profile', () => {
    fc.assert(fc.property(profile, fc.constantFrom('x86_64', 'aarch64'), (text, archName) => {
      const arch = archName === 'x86_64' ? X86_64 : AARCH64;
      try {
        const parsed = parseProfile(text, { file: '/p', arch });
        for (const r of parsed.rules) assert.ok(Number.isInteger(r.nr) && r.nr >= 0 && r.nr <= 0x7fffffff, `${r.syscall}: nr ${String(r.nr)}`);
        const filter = compileProfile(parsed, arch);
        assert.ok(filter.program.length > 0 && filter.bytes.length === 8 * filter.program.length);
      } catch (err) {
        if (!(err instanceof ProfileError)) throw err;
        assert.match(err.message, /^\/p(:\d+)?: \S/);
      }
    }), {
      numRuns: 2000,
      // Found by this property: own properties of the syscall table only, and numbers an int can hold.
      examples: [['2\nallowlist\ntoString', 'x86_64'], ['2\ndenylist\nconstructor errno 1', 'aarch64'], ['1\nallowlist\n99999999999999999999', 'x86_64']],
    });
  });

  it('should never throw anything but a ProfileError for arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        compileProfile(parseProfile(`2\ndenylist\n${text}`, { file: '/p', arch: X86_64 }), X86_64);
      } catch (err) {
        if (!(err instanceof ProfileError)) throw err;
      }
    }), { numRuns: 1000 });
  });
});
