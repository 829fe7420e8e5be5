import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AttachError, bytes, cstring, imm, LxcConfigError, PHASES, PreExecProgram, readLxcConfig, resultOf, scratch, scratchAt,
  type Arg, type OpHandle, type Phase, type SyscallName,
} from '../src/index.js';

/**
 * Properties: the LXC config reader and the pre-exec program builder never
 * crash on what they are given; they return a result or one clear error
 * (LxcConfigError, AttachError) with a message.
 */

describe('LXC config reader (properties)', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'attachkit-config-prop-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Lines drawn from the config grammar (keys, blanks, quotes, comments,
  // includes of other generated files, of directories, of missing paths, of
  // themselves) and from noise.
  const files = ['a.conf', 'b.conf', 'd/', 'd/x.conf', 'missing.conf', 'missing/'];
  const include = fc.constantFrom(...files).map((f) => `lxc.include = ${f.startsWith('/') ? f : `@DIR@/${f}`}`);
  const entry = fc.tuple(
    fc.constantFrom('lxc.cap.drop', 'lxc.environment', 'lxc.uts.name', 'lxc.', 'lxc.x.y', 'lxcfoo', 'foo.bar', '# lxc.cap.drop', '  lxc.arch'),
    fc.constantFrom(' = ', '=', ' =', '', ' : '),
    fc.constantFrom('', 'sys_admin', '"quoted"', "'q'", '"', 'a = b', ' spaced ', '\t', '\0', 'é'),
  ).map(([k, eq, v]) => `${k}${eq}${v}`);
  const line = fc.oneof({ weight: 5, arbitrary: entry }, { weight: 2, arbitrary: include }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });
  const text = fc.tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.join(eol));

  it('should return entries or an LxcConfigError naming the file, whatever the files hold and include', () => {
    fc.assert(fc.property(text, text, text, (a, b, d) => {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, 'd'), { recursive: true });
      const fill = (t: string) => t.replaceAll('@DIR@', dir);
      writeFileSync(join(dir, 'a.conf'), fill(a));
      writeFileSync(join(dir, 'b.conf'), fill(b));
      writeFileSync(join(dir, 'd', 'x.conf'), fill(d));
      try {
        const config = readLxcConfig(join(dir, 'a.conf'));
        for (const e of config.entries) {
          assert.ok(e.key.startsWith('lxc.') && e.line >= 1 && e.file.startsWith(dir), JSON.stringify(e));
          assert.equal(config.get(e.key), config.getAll(e.key).at(-1));
        }
      } catch (err) {
        if (!(err instanceof LxcConfigError)) throw err;
        assert.ok(err.message.length > 0 && err.file.length > 0, err.message);
        assert.doesNotMatch(err.message, /\n/);
      }
    }), { numRuns: 300 });
  });

  it('should read back every key = value it was given, in order, whatever the spacing and quoting', () => {
    const value = fc.string({ minLength: 1, maxLength: 12 }).filter((v) => !/[\n\r\0]/.test(v) && v.trim() !== '' && !/^["']/.test(v.trim()));
    const pair = fc.tuple(fc.constantFrom('lxc.a', 'lxc.b.c'), value, fc.constantFrom('', ' ', '\t'), fc.constantFrom('', '"', "'"));
    fc.assert(fc.property(fc.array(pair, { minLength: 1, maxLength: 10 }), (pairs) => {
      writeFileSync(join(dir, 'p.conf'), pairs.map(([k, v, pad, q]) => `${pad}${k}${pad}=${pad}${q}${v.trim()}${q}${pad}`).join('\n'));
      const config = readLxcConfig(join(dir, 'p.conf'));
      for (const key of ['lxc.a', 'lxc.b.c']) {
        assert.deepEqual(config.getAll(key), pairs.filter(([k]) => k === key).map(([, v]) => v.trim()));
      }
    }), { numRuns: 300 });
  });
});

describe('pre-exec program builder (properties)', () => {
  const names: string[] = ['read', 'write', 'setns', 'prctl', 'getpid', 'kill', 'openat2', 'close', 'no_such_syscall', 'constructor'];
  const phases: string[] = [...PHASES, 'nowhere', 'toString'];
  const number = fc.oneof(
    fc.integer({ min: -5, max: 2 ** 31 }), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
    fc.constantFrom(Number.NaN, 1.5, Number.MAX_SAFE_INTEGER + 2, -Infinity),
  );
  /** A step: what a stage might call on its emitter, with arguments good and bad. */
  const step = fc.oneof(
    fc.record({
      kind: fc.constant('syscall' as const), phase: fc.constantFrom(...phases), name: fc.constantFrom(...names),
      args: fc.array(fc.oneof(
        number.map((v) => ({ imm: v })), fc.string({ maxLength: 8 }).map((s) => ({ cstring: s })),
        fc.tuple(fc.nat(32), fc.integer({ min: -2, max: 40 })).map(([size, at]) => ({ bytes: size, pointerAt: at })),
        fc.tuple(fc.integer({ min: -1, max: 32 }), fc.integer({ min: -1, max: 40 })).map(([size, offset]) => ({ scratch: size, offset })),
        fc.nat(20).map((n) => ({ result: n })),
      ), { maxLength: 7 }),
      optional: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('passFd' as const), fd: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constant(1.5)) }),
    fc.record({ kind: fc.constant('keepFd' as const), fd: fc.integer({ min: -2, max: 300 }) }),
    fc.record({ kind: fc.constant('exec' as const), argv: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), env: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }) }),
  );
  type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

  /** Run a step; the only acceptable failure is an AttachError with a message. */
  const apply = (program: PreExecProgram, s: Step, emitted: OpHandle[]): void => {
    const e = program.emitter('fuzz');
    try {
      if (s.kind === 'passFd') e.passFd(s.fd);
      else if (s.kind === 'keepFd') e.keepFd(s.fd);
      else if (s.kind === 'exec') e.exec({ file: s.argv[0] ?? '', argv: s.argv, env: s.env });
      else {
        const args: Arg[] = s.args.map((a) => {
          if ('imm' in a) return imm(a.imm);
          if ('cstring' in a) return cstring(a.cstring);
          if ('bytes' in a) return bytes(new Uint8Array(a.bytes), a.pointerAt < 0 ? undefined : [{ at: a.pointerAt, to: new Uint8Array(3) }]);
          if ('scratch' in a) return scratchAt(scratch(a.scratch), a.offset);
          const op = emitted[a.result];
          return op ? resultOf(op) : imm(0);
        });
        emitted.push(e.syscall(s.phase as Phase, s.name as SyscallName, args, { operation: 'fuzz', optional: s.optional }));
      }
    } catch (err) {
      if (!(err instanceof AttachError)) throw err;
      assert.ok(err.message.length > 0);
    }
  };

  it('should build a well-formed program or refuse with an AttachError, for any sequence of emitter calls', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
      const program = new PreExecProgram();
      const emitted: OpHandle[] = [];
      for (const s of steps) apply(program, s, emitted);
      let wire;
      try {
        wire = program.serialize();
      } catch (err) {
        if (!(err instanceof AttachError)) throw err;
        return;
      }
      // The layout the executor checks: header, ops, relocations, data; results point backwards.
      const { bytes: b, ops } = wire;
      const [magic, nops, dataLen, nrelocs] = [0, 4, 8, 12].map((o) => b.readUInt32LE(o));
      assert.deepEqual([magic, nops], [0x31584b41, ops.length]);
      assert.equal(b.length, 16 + 112 * nops! + 16 * nrelocs! + dataLen!);
      for (let i = 0; i < nops!; i++) {
        for (let k = 0; k < 6; k++) {
          const at = 16 + 112 * i + 16 + 16 * k;
          const kind = b.readUInt32LE(at);
          const value = b.readBigInt64LE(at + 8);
          if (kind === 1) assert.ok(value >= 0n && value <= BigInt(dataLen!), `op ${i} arg ${k}: data offset ${value}`);
          if (kind === 2) assert.ok(value >= 0n && value < BigInt(i), `op ${i} arg ${k}: result of op ${value}`);
          assert.ok(kind <= 2, `op ${i} arg ${k}: kind ${kind}`);
        }
      }
    }), { numRuns: 1500 });
  });
});
