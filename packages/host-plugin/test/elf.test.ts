import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ElfError, readElf, readElfFile } from '../src/elf.js';

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

describe('readElf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attachkit-elf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("should read a static program: no interpreter, no library", () => {
    const elf = readElfFile('/bin/busybox');
    assert.equal(elf.class, 64);
    assert.ok([EM_X86_64, EM_AARCH64].includes(elf.machine));
    assert.equal(elf.interpreter, undefined);
    assert.deepEqual(elf.needed, []);
  });

  it("should read a dynamic program's interpreter and needed libraries", () => {
    const elf = readElfFile('/usr/bin/ls');
    assert.match(elf.interpreter ?? '', /^\/lib.*\/ld-linux-.*\.so\.\d$/);
    assert.ok(elf.needed.includes('libc.so.6'), elf.needed.join(' '));
    const libc = readElfFile(join('/usr/lib', process.arch === 'x64' ? 'x86_64-linux-gnu' : 'aarch64-linux-gnu', 'libc.so.6'));
    assert.equal(libc.machine, elf.machine);
    assert.ok(libc.needed.some((n) => n.startsWith('ld-linux')), libc.needed.join(' '));
  });

  it('should refuse what is not a well-formed ELF file with ElfError', () => {
    const cases: Array<[string, Buffer]> = [
      ['script', Buffer.from('#!/bin/sh\necho hi\n')],
      ['empty', Buffer.alloc(0)],
      ['truncated', readFileSync('/usr/bin/ls').subarray(0, 200)],
      ['big-endian', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 2]), Buffer.alloc(58)])],
    ];
    for (const [name, bytes] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const fd = openSync(path, 'r');
      try {
        assert.throws(() => readElf(fd), ElfError, name);
      } finally {
        closeSync(fd);
      }
    }
  });
});
