import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AttachError, bytes, cstring, imm, PHASES, PreExecProgram, resultOf, scratch, scratchAt,
  type Arg, type OpHandle, type Phase, type SyscallName,
} from '../src/index.js';

/**
 * Properties: the pre-exec program builder never crashes on what it is
 * given; it returns a result or one clear AttachError with a message.
 */

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
