import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AttachError, ErrorCodes, readLinesInRoot, realLibc, SyscallError, TARGET_FILE_MAX_BYTES, TargetFileError, type StageContext,
} from '@attachkit/core';
import { parseGroup, parseGroupLine, parseLines, parsePasswd, parsePasswdLine, readTargetEntries } from '../src/index.js';

const libc = realLibc();
const openFds = () => readdirSync('/proc/self/fd').length;
const lines = (path: string, maxBytes?: number) => [...readLinesInRoot(libc, 'self', path, maxBytes === undefined ? {} : { maxBytes })];

/** Our own process as the target: its root is ours, so a file under `dir` is one of "the target's". */
function selfContext(): StageContext & { close(): void } {
  const target = { pid: process.pid, pidfd: libc.pidfdOpen(process.pid), description: `pid ${process.pid}` };
  return {
    stage: 'set-identity', libc, target,
    error: (operation: string, cause?: unknown) => new AttachError(ErrorCodes.STAGE_FAILED, `set-identity: ${operation} failed`, { stage: 'set-identity', operation, cause }),
    close: () => closeSync(target.pidfd),
  } as unknown as StageContext & { close(): void };
}

describe('passwd and group lines', () => {
  it('should parse a line at a time as the whole-text parsers do', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\n# comment:x:1:1:c:/:/bin/sh\nshort:x:1\nbad:x:a:0::/:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin';
    assert.deepEqual(parsePasswd(passwd), [
      { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
      { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/usr/sbin/nologin' },
    ]);
    assert.deepEqual(parseLines(passwd.split('\n'), parsePasswdLine), parsePasswd(passwd));
    assert.equal(parsePasswdLine('#root:x:0:0:root:/root:/bin/bash'), undefined);
    assert.deepEqual(parseGroup('root:x:0:\nstaff:x:50:a,b\n#x:x:1:\nbad:x:y:\n'), [{ name: 'root', gid: 0 }, { name: 'staff', gid: 50 }]);
    assert.equal(parseGroupLine('wheel:x'), undefined);
  });
});

describe("reading a file of the target's root (readLinesInRoot, readTargetEntries)", () => {
  let dir: string;
  let inside: (name: string) => string; // the path as seen from the root: no leading '/'
  let server: Server;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-files-'));
    inside = (name) => join(dir, name).slice(1);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    mkdirSync(join(dir, 'dir'));
    writeFileSync(join(dir, 'sparse'), '');
    truncateSync(join(dir, 'sparse'), 600 * 1024 * 1024);
    server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'socket'), resolve));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should yield the lines of a regular file read in chunks, UTF-8 split across chunks included', () => {
    // 'é' is two bytes: with an odd-length prefix, one falls across a 64 KiB chunk boundary.
    const text = `${'a'.repeat(65535)}é\n${'ü'.repeat(70000)}\n\nlast line without newline é`;
    writeFileSync(join(dir, 'long'), text);
    assert.deepEqual(lines(inside('long')), text.split('\n'));
    writeFileSync(join(dir, 'ends'), 'one\ntwo\n');
    assert.deepEqual(lines(inside('ends')), ['one', 'two']);
    writeFileSync(join(dir, 'empty'), '');
    assert.deepEqual(lines(inside('empty')), []);
  });

  it('should refuse a FIFO at once, without blocking in open', () => {
    assert.throws(() => lines(inside('fifo')), (err: unknown) => err instanceof TargetFileError && err.problem === 'is not a regular file (a FIFO)');
  });

  it('should refuse a link to /dev/zero, a directory and a socket', () => {
    for (const [name, kind] of [['zero', 'a character device'], ['dir', 'a directory'], ['socket', 'a socket']] as const) {
      assert.throws(() => lines(inside(name)), (err: unknown) => err instanceof TargetFileError && err.problem === `is not a regular file (${kind})`, name);
    }
  });

  it('should refuse a file beyond the cap on its size, before reading it (a sparse 600 MiB file)', () => {
    assert.throws(() => lines(inside('sparse')), (err: unknown) => err instanceof TargetFileError && err.problem === 'is larger than 4 MiB');
    assert.equal(TARGET_FILE_MAX_BYTES, 4 * 1024 * 1024);
    writeFileSync(join(dir, 'ten'), '123456789\n');
    assert.deepEqual(lines(inside('ten'), 10), ['123456789']);
    assert.throws(() => lines(inside('ten'), 9), /is larger than 9 bytes: refused$/);
  });

  it('should count what it reads against the cap, whatever the size says (a procfs file says 0)', () => {
    assert.throws(() => lines('proc/self/maps', 100), (err: unknown) => err instanceof TargetFileError && err.problem === 'is larger than 100 bytes');
  });

  it('should throw ENOENT for a missing file, and leave no fd open however the reading ends', () => {
    const fds = openFds();
    assert.throws(() => lines(inside('missing')), (err: unknown) => err instanceof SyscallError && err.code === 'ENOENT');
    for (const name of ['fifo', 'zero', 'sparse']) assert.throws(() => lines(inside(name)));
    for (const line of readLinesInRoot(libc, 'self', inside('ends'))) if (line === 'one') break;
    assert.equal(openFds(), fds);
  });

  it('should turn a refusal into one AttachError naming the stage and the file, and a missing file into no entries', () => {
    const ctx = selfContext();
    try {
      assert.throws(() => readTargetEntries(ctx, inside('fifo'), parsePasswdLine), (err: unknown) => err instanceof AttachError
        && err.code === ErrorCodes.STAGE_FAILED && err.message === `set-identity: the target's /${inside('fifo')} is not a regular file (a FIFO): refused`);
      assert.throws(() => readTargetEntries(ctx, inside('sparse'), parseGroupLine, true),
        { message: `set-identity: the caller's /${inside('sparse')} is larger than 4 MiB: refused` });
      assert.deepEqual(readTargetEntries(ctx, inside('missing'), parsePasswdLine), []);
      writeFileSync(join(dir, 'group'), 'root:x:0:\nstaff:x:50:\n');
      assert.deepEqual(readTargetEntries(ctx, inside('group'), parseGroupLine), [{ name: 'root', gid: 0 }, { name: 'staff', gid: 50 }]);
    } finally {
      ctx.close();
    }
  });
});
