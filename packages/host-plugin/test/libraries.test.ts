import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readElfFile } from '../src/elf.js';
import { readLdSoConf, resolveLibraries } from '../src/libraries.js';

describe('resolveLibraries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attachkit-libs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("should find every library a program needs, transitively, as real files of the host", () => {
    const libs = resolveLibraries('/usr/bin/ls', readElfFile('/usr/bin/ls'));
    const names = libs.map((l) => l.name);
    assert.ok(names.includes('libc.so.6'), names.join(' '));
    assert.ok(names.includes('libselinux.so.1'), names.join(' '));
    assert.ok(names.includes('libpcre2-8.so.0'), `${names.join(' ')}: needed by libselinux, not by ls`);
    for (const l of libs) assert.equal(l.path, realpathSync(l.path));
    assert.equal(new Set(names).size, names.length);
  });

  it('should name a library that is not on the host', () => {
    const elf = { ...readElfFile('/usr/bin/ls'), needed: ['libnot-there.so.9'] };
    assert.throws(() => resolveLibraries('/usr/bin/ls', elf, { ldSoConf: join(dir, 'none'), systemDirs: [dir] }),
      /the library libnot-there\.so\.9 \(needed by \/usr\/bin\/ls\) is not on this host/);
  });

  it('should read ld.so.conf with its include globs, in order, once each', () => {
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'conf.d', 'b.conf'), '/opt/b # comment\n');
    writeFileSync(join(dir, 'conf.d', 'a.conf'), '/opt/a1:/opt/a2\ninclude ../ld.so.conf\n');
    writeFileSync(join(dir, 'conf.d', 'a.txt'), '/opt/not\n');
    writeFileSync(join(dir, 'ld.so.conf'), '/opt/first\ninclude conf.d/*.conf\nrelative/dir\n');
    assert.deepEqual(readLdSoConf(join(dir, 'ld.so.conf')), ['/opt/first', '/opt/a1', '/opt/a2', '/opt/b']);
    assert.ok(existsSync('/etc/ld.so.conf') ? readLdSoConf('/etc/ld.so.conf').length > 0 : true);
  });
});
