import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abstractSockaddr, checkContainerName, commandSocketName, fnv1a64 } from '../src/index.js';

describe('commandSocketName', () => {
  it('should compute FNV-1a 64 as its reference vectors', () => {
    assert.equal(fnv1a64(Buffer.from('')), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(Buffer.from('foobar')), 0x85944171f73967e8n);
  });

  it('should use <lxcpath>/<name>/command, literally, while it is under 106 bytes', () => {
    assert.equal(commandSocketName('/var/lib/lxc', 'c1'), '/var/lib/lxc/c1/command');
    assert.equal(commandSocketName('/var/lib/../lib/lxc', 'c1'), '/var/lib/../lib/lxc/c1/command');
    const lxcpath = `/${'p'.repeat(105 - '/c/command'.length - 1)}`;
    assert.equal(commandSocketName(lxcpath, 'c').length, 105);
    assert.equal(commandSocketName(lxcpath, 'c'), `${lxcpath}/c/command`);
  });

  it('should hash <lxcpath>/<name> from 106 bytes on, as lxc/<16 hex digits>/command', () => {
    const lxcpath = `/${'p'.repeat(106 - '/c/command'.length - 1)}`;
    const hash = fnv1a64(Buffer.from(`${lxcpath}/c`)).toString(16).padStart(16, '0');
    assert.equal(commandSocketName(lxcpath, 'c'), `lxc/${hash}/command`);
    assert.match(commandSocketName('/x'.repeat(100), 'c'), /^lxc\/[0-9a-f]{16}\/command$/);
    // Bytes, not characters, count.
    assert.match(commandSocketName(`/${'é'.repeat(48)}`, 'c'), /^lxc\//); // 59 characters, 107 bytes
  });

  it('should build an abstract sockaddr with no NUL padding: addrlen is 3 + the name', () => {
    const addr = abstractSockaddr('/var/lib/lxc/c1/command');
    assert.equal(addr.length, 3 + 23);
    assert.equal(addr.readUInt16LE(0), 1);
    assert.equal(addr[2], 0);
    assert.equal(addr.subarray(3).toString(), '/var/lib/lxc/c1/command');
  });
});

describe('checkContainerName', () => {
  it('should accept names and refuse paths', () => {
    for (const ok of ['c1', 'a.b', 'a..b', '..a', 'with space']) assert.equal(checkContainerName(ok), undefined, ok);
    for (const bad of ['', '.', '..', 'a/b', '../c1', '/abs', 'a\0b']) assert.ok(checkContainerName(bad), JSON.stringify(bad));
  });
});
