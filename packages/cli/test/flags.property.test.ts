import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { expandBareElevated, PRIVILEGES } from '../src/argv.js';
import { toRequest, type AttachFlagValues } from '../src/flags.js';
import { logOptionsFrom } from '../src/log.js';

/**
 * Properties of the CLI's own parsers (oclif only splits the flags): -s, -e,
 * -v, -u/-g/--groups and the target become a request, or one clear line
 * (an Error with a one-line message) — never a crash, never a half-parsed value.
 */
const piece = fc.oneof(
  fc.constantFrom('MOUNT', 'PID', 'net', 'CGROUP', 'CAP', 'LSM', 'FOO=bar', '=x', 'A=', 'root', '0', '4294967294', '4294967295', '-1', '1e3', 'é', '$', ''),
  fc.string({ maxLength: 6 }),
);
const joined = (sep: string) => fc.array(piece, { maxLength: 4 }).map((parts) => parts.join(sep));
const flags: fc.Arbitrary<AttachFlagValues> = fc.record({
  name: fc.option(fc.oneof(piece, fc.constantFrom('..', 'a/b', '.')), { nil: undefined }),
  pid: fc.option(fc.integer({ min: 1, max: 2 ** 22 }), { nil: undefined }),
  lxcpath: fc.option(fc.constantFrom('/var/lib/lxc/', '/', '//x//', ''), { nil: undefined }),
  namespaces: fc.option(fc.oneof(joined('|'), joined(' | ')), { nil: undefined }),
  'elevated-privileges': fc.option(joined('|'), { nil: undefined }),
  'set-var': fc.option(fc.array(piece, { maxLength: 3 }), { nil: undefined }),
  uid: fc.option(piece, { nil: undefined }),
  gid: fc.option(piece, { nil: undefined }),
  groups: fc.option(joined(','), { nil: undefined }),
  context: fc.option(piece, { nil: undefined }),
  'clear-env': fc.option(fc.boolean(), { nil: undefined }),
  'keep-var': fc.option(fc.array(piece, { maxLength: 2 }), { nil: undefined }),
  'preserve-fds': fc.option(fc.nat(4), { nil: undefined }),
}, { requiredKeys: [] });

describe('CLI flag parsers (properties)', () => {
  it('should give a consistent request or one clear line, for any -s, -e, -v, -u, -g, --groups and target', () => {
    fc.assert(fc.property(flags, fc.array(piece, { maxLength: 3 }), (f, argv) => {
      let request;
      try {
        request = toRequest(f, argv);
      } catch (err) {
        assert.ok(err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError), String(err));
        assert.match(err.message, /^[^\n]+$/);
        return;
      }
      for (const ns of request.namespaces ?? []) assert.ok(ns !== '' && ns === ns.trim(), `namespace '${ns}'`);
      if (f.namespaces !== undefined) assert.ok(request.namespaces!.length > 0);
      for (const p of request.elevated ?? []) assert.ok(PRIVILEGES.includes(p), p);
      for (const [k] of Object.entries(request.env?.set ?? {})) assert.ok(k !== '' && !k.includes('='), `variable '${k}'`);
      for (const id of [request.uid, request.gid, ...(request.groups ?? [])]) {
        if (typeof id === 'number') assert.ok(Number.isSafeInteger(id) && id >= 0 && id < 0xffffffff, `id ${id}`);
        if (typeof id === 'string') assert.match(id, /^[a-z_][a-z0-9_.-]*\$?$/i);
      }
      if ('name' in request.target) assert.ok(!request.target.name.includes('/') && request.target.name !== '..' && request.target.name !== '');
      assert.deepEqual(request.preserveFds ?? [], Array.from({ length: f['preserve-fds'] ?? 0 }, (_, i) => 3 + i));
    }), { numRuns: 3000 });
  });

  it('should never throw while reading argv for -e, -q, -o, -l and -n', () => {
    const arg = fc.oneof(fc.constantFrom('-e', '--elevated-privileges', '--', '-q', '-o', '-oF', '--logfile=x', '-l', '-lDEBUG', '--logpriority', '-n', '-nc1', '--name=c'), fc.string({ maxLength: 5 }));
    fc.assert(fc.property(fc.array(arg, { maxLength: 8 }), (argv) => {
      const expanded = expandBareElevated(argv);
      assert.ok(expanded.length >= argv.length);
      logOptionsFrom(argv);
    }), { numRuns: 2000 });
  });
});
