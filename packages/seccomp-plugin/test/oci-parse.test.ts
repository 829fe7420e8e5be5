import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonExact } from '@attachkit/core';
import { OciSeccompError, parseOciSeccomp, parseOciSeccompJson } from '../src/index.js';

/** Assert that `json` is refused with an OciSeccompError naming `field`, whose message matches `reason`. */
function refuses(json: unknown, field: string, reason: RegExp) {
  assert.throws(() => parseOciSeccomp(json), (err) => {
    assert.ok(err instanceof OciSeccompError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, reason);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return true;
  });
}

const base = { defaultAction: 'SCMP_ACT_ERRNO' };
const rule = (extra: Record<string, unknown>) => ({ ...base, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', ...extra }] });
const arg = (extra: Record<string, unknown>) => rule({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ', ...extra }] });

describe('OCI seccomp reader', () => {
  it('should read a full linux.seccomp object into its typed form', () => {
    const spec = parseOciSeccomp({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_TRACE', errnoRet: 7, args: [{ index: 0, value: 2114060288n, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    assert.deepEqual(spec, {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 99, args: [] },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8n, valueTwo: 0n, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_TRACE', errnoRet: 7, args: [{ index: 0, value: 2114060288n, valueTwo: 0n, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    // Parsing its own output gives the same (compileOciSeccomp validates again).
    assert.deepEqual(parseOciSeccomp(spec), spec);
  });

  it('should take every action, and absent or null optional fields as Go does', () => {
    for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']) {
      assert.equal(parseOciSeccomp({ defaultAction: action }).defaultAction, action);
    }
    assert.deepEqual(parseOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: null, flags: null, syscalls: null, listenerPath: '', listenerMetadata: '' }),
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], syscalls: [] });
    assert.deepEqual(parseOciSeccomp(rule({ names: [], args: null, errnoRet: null })).syscalls, [{ names: [], action: 'SCMP_ACT_ALLOW', args: [] }]);
  });

  it('should refuse SCMP_ACT_NOTIFY and a seccomp agent, saying why', () => {
    refuses({ defaultAction: 'SCMP_ACT_NOTIFY' }, 'linux.seccomp.defaultAction', /SCMP_ACT_NOTIFY is not supported: it needs the filter's listener fd/);
    refuses(rule({ action: 'SCMP_ACT_NOTIFY' }), 'linux.seccomp.syscalls[0].action', /listener fd/);
    refuses({ ...base, listenerPath: '/run/agent.sock' }, 'linux.seccomp.listenerPath', /not supported.*agent/);
    refuses({ ...base, listenerMetadata: 'x' }, 'linux.seccomp.listenerMetadata', /not supported/);
    refuses({ ...base, flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, 'linux.seccomp.flags[0]', /NEW_LISTENER is not supported: .*listener fd/);
    refuses({ ...base, flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }, 'linux.seccomp.flags[0]', /not supported/);
    refuses({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC_ESRCH'] }, 'linux.seccomp.flags[0]', /not supported/);
  });

  it('should refuse unknown fields at every level instead of dropping them', () => {
    refuses({ ...base, defaultErrno: 1 }, 'linux.seccomp.defaultErrno', /unknown field \(known: defaultAction, /);
    refuses(rule({ name: 'mkdir' }), 'linux.seccomp.syscalls[0].name', /unknown field/);
    refuses(rule({ comment: 'docker' }), 'linux.seccomp.syscalls[0].comment', /unknown field/);
    refuses(rule({ includes: {} }), 'linux.seccomp.syscalls[0].includes', /unknown field/);
    refuses(arg({ valueThree: 1 }), 'linux.seccomp.syscalls[0].args[0].valueThree', /unknown field/);
  });

  it('should refuse unknown names of actions, operators, architectures and flags, listing the known ones', () => {
    refuses({ defaultAction: 'SCMP_ACT_DENY' }, 'linux.seccomp.defaultAction', /unknown action 'SCMP_ACT_DENY' \(known: SCMP_ACT_KILL_PROCESS, /);
    refuses({ defaultAction: 'allow' }, 'linux.seccomp.defaultAction', /unknown action/);
    refuses(arg({ op: 'SCMP_CMP_MASKED' }), 'linux.seccomp.syscalls[0].args[0].op', /unknown comparison 'SCMP_CMP_MASKED'/);
    refuses({ ...base, architectures: ['SCMP_ARCH_X86_64', 'x86_64'] }, 'linux.seccomp.architectures[1]', /unknown architecture 'x86_64'/);
    refuses({ ...base, flags: ['SECCOMP_FILTER_FLAG_FOO'] }, 'linux.seccomp.flags[0]', /unknown flag/);
  });

  it('should refuse missing required fields and wrong types', () => {
    refuses({}, 'linux.seccomp.defaultAction', /is required/);
    refuses(null, 'linux.seccomp', /must be an object \(found null\)/);
    refuses([], 'linux.seccomp', /must be an object \(found an array\)/);
    refuses({ ...base, syscalls: {} }, 'linux.seccomp.syscalls', /must be an array/);
    refuses({ ...base, syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, 'linux.seccomp.syscalls[0].names', /is required/);
    refuses({ ...base, syscalls: [{ names: ['x'] }] }, 'linux.seccomp.syscalls[0].action', /is required/);
    refuses(rule({ names: 'mkdir' }), 'linux.seccomp.syscalls[0].names', /must be an array/);
    refuses(rule({ names: ['mkdir', 3] }), 'linux.seccomp.syscalls[0].names[1]', /must be a string \(found number 3\)/);
    refuses(rule({ names: [''] }), 'linux.seccomp.syscalls[0].names[0]', /is empty/);
    refuses(rule({ args: [{ value: 1, op: 'SCMP_CMP_EQ' }] }), 'linux.seccomp.syscalls[0].args[0].index', /is required/);
    refuses(rule({ args: [{ index: 0, op: 'SCMP_CMP_EQ' }] }), 'linux.seccomp.syscalls[0].args[0].value', /is required/);
    refuses(rule({ args: [{ index: 0, value: 1 }] }), 'linux.seccomp.syscalls[0].args[0].op', /is required/);
    refuses(arg({ value: '1' }), 'linux.seccomp.syscalls[0].args[0].value', /must be an unsigned integer \(found '1'\)/);
    refuses(arg({ value: 1.5 }), 'linux.seccomp.syscalls[0].args[0].value', /must be an unsigned integer/);
    refuses({ ...base, listenerPath: 3 }, 'linux.seccomp.listenerPath', /must be a string/);
  });

  it('should refuse argument indexes and values out of range', () => {
    refuses(arg({ index: 6 }), 'linux.seccomp.syscalls[0].args[0].index', /must be 0 to 5/);
    refuses(arg({ index: -1 }), 'linux.seccomp.syscalls[0].args[0].index', /unsigned 64-bit/);
    refuses(arg({ value: -1 }), 'linux.seccomp.syscalls[0].args[0].value', /unsigned 64-bit integer \(found -1\)/);
    refuses(arg({ value: 1n << 64n }), 'linux.seccomp.syscalls[0].args[0].value', /unsigned 64-bit/);
    // JSON.parse has already rounded such a number: it cannot be applied exactly.
    refuses(arg({ value: 2 ** 53 + 2 }), 'linux.seccomp.syscalls[0].args[0].value', /above 2\^53 .*parseOciSeccompJson/);
    assert.equal(parseOciSeccomp(arg({ value: (1n << 64n) - 1n })).syscalls[0]!.args[0]!.value, (1n << 64n) - 1n);
  });

  it('should refuse a valueTwo that only SCMP_CMP_MASKED_EQ would read', () => {
    refuses(arg({ valueTwo: 4 }), 'linux.seccomp.syscalls[0].args[0].valueTwo', /only used by SCMP_CMP_MASKED_EQ; with SCMP_CMP_EQ it would be ignored/);
    assert.equal(parseOciSeccomp(arg({ valueTwo: 0 })).syscalls[0]!.args[0]!.valueTwo, 0n);
    assert.equal(parseOciSeccomp(arg({ op: 'SCMP_CMP_MASKED_EQ', valueTwo: 4 })).syscalls[0]!.args[0]!.valueTwo, 4n);
  });

  it('should take errnoRet only where it is returned, and within what the kernel returns', () => {
    refuses(rule({ errnoRet: 1 }), 'linux.seccomp.syscalls[0].errnoRet', /only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value; with SCMP_ACT_ALLOW it would be ignored/);
    refuses({ defaultAction: 'SCMP_ACT_KILL', defaultErrnoRet: 1 }, 'linux.seccomp.defaultErrnoRet', /with SCMP_ACT_KILL it would be ignored/);
    refuses(rule({ action: 'SCMP_ACT_ERRNO', errnoRet: 4096 }), 'linux.seccomp.syscalls[0].errnoRet', /0 to 4095 \(MAX_ERRNO/);
    refuses(rule({ action: 'SCMP_ACT_TRACE', errnoRet: 65536 }), 'linux.seccomp.syscalls[0].errnoRet', /0 to 65535/);
    refuses(rule({ action: 'SCMP_ACT_ERRNO', errnoRet: -1 }), 'linux.seccomp.syscalls[0].errnoRet', /unsigned/);
    assert.equal(parseOciSeccomp(rule({ action: 'SCMP_ACT_ERRNO', errnoRet: 0 })).syscalls[0]!.errnoRet, 0);
    assert.equal(parseOciSeccomp(rule({ action: 'SCMP_ACT_TRACE', errnoRet: 65535 })).syscalls[0]!.errnoRet, 65535);
  });

  it('should read JSON text keeping 64-bit values exact', () => {
    const text = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",'
      + '"args":[{"index":1,"value":18446744073709551615,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}';
    assert.equal(JSON.parse(text).syscalls[0].args[0].value, 18446744073709551616, 'JSON.parse rounds');
    assert.equal(parseOciSeccompJson(text).syscalls[0]!.args[0]!.value, (1n << 64n) - 1n);
    assert.throws(() => parseOciSeccompJson('{"defaultAction":'), (err) => err instanceof OciSeccompError && /^linux\.seccomp: not JSON/.test(err.message));
  });

  it('should parse JSON as JSON.parse does, but for large integers', () => {
    const samples = ['0', '-0', '1.5e3', '-12', '"a\\u00e9\\n\\"b"', 'true', 'null', '[]', '{}', ' [1, {"a": [false, "x"]}, -2.5E-3] ',
      '{"__proto__": 1, "b": {"c": null}}', '9007199254740991', '1e400'];
    for (const s of samples) assert.deepEqual(parseJsonExact(s), JSON.parse(s), s);
    assert.equal(parseJsonExact('9007199254740993'), 9007199254740993n);
    assert.equal(parseJsonExact('-9007199254740993'), -9007199254740993n);
    assert.ok(Object.hasOwn(parseJsonExact('{"__proto__": 1}') as object, '__proto__'));
    for (const bad of ['', '{', '[1,]', '{"a" 1}', '01', '1 2', "'a'", 'tru', '"\u0001"', '{"a":1,}']) {
      assert.throws(() => parseJsonExact(bad), SyntaxError, bad);
      assert.throws(() => JSON.parse(bad), SyntaxError, bad);
    }
  });
});
