import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LxcConfig, LxcConfigError, readLxcConfig } from '../src/index.js';

describe('readLxcConfig', () => {
  let dir: string;
  let n = 0;
  /** A file in the test's directory; returns its path. */
  const file = (text: string, name = `c${++n}.conf`) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const refuses = (path: string, pattern: RegExp) =>
    assert.throws(() => readLxcConfig(path), (err: unknown) => {
      assert.ok(err instanceof LxcConfigError, String(err));
      assert.match(err.message, pattern);
      return true;
    });

  before(() => { dir = mkdtempSync(join(tmpdir(), 'attachkit-config-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('should read key = value lines, skipping comments and blank lines, keeping repeated keys in order', () => {
    const path = file('# a comment\n\nlxc.uts.name = c1\n  \t\nlxc.cap.drop = sys_module\n   # indented comment\nlxc.cap.drop = mac_admin\nlxc.uts.name = c2\n');
    const config = readLxcConfig(path);
    assert.deepEqual(config.getAll('lxc.cap.drop'), ['sys_module', 'mac_admin']);
    assert.equal(config.get('lxc.uts.name'), 'c2');
    assert.equal(config.get('lxc.arch'), undefined);
    assert.deepEqual(config.getAll('lxc.arch'), []);
    assert.deepEqual(config.entriesOf('lxc.cap.drop').map((e) => [e.file, e.line]), [[path, 5], [path, 7]]);
  });

  it('should trim blanks around key and value and strip matching quotes, as LXC', () => {
    const config = readLxcConfig(file('\tlxc.sysctl.a=1\nlxc.sysctl.b =  two words \t\nlxc.sysctl.c = "quoted"\nlxc.sysctl.d = \'single\'\nlxc.sysctl.e = "unbalanced\nlxc.sysctl.f = x=y\n'));
    assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => config.get(`lxc.sysctl.${k}`)), ['1', 'two words', 'quoted', 'single', '"unbalanced', 'x=y']);
  });

  it('should ignore lines that are not lxc. keys, as LXC does', () => {
    const config = readLxcConfig(file('foo = bar\nnot a key\nlxc.sysctl.x = 1\n'));
    assert.deepEqual(config.entries.map((e) => e.key), ['lxc.sysctl.x']);
  });

  it('should clear the earlier values of a key set to an empty value', () => {
    const config = readLxcConfig(file('lxc.cap.drop = a\nlxc.cap.drop = b\nlxc.cap.drop =\nlxc.cap.drop = c\nlxc.arch = x86\nlxc.arch =\n'));
    assert.deepEqual(config.getAll('lxc.cap.drop'), ['c']);
    assert.equal(config.get('lxc.arch'), undefined);
  });

  it('should refuse a malformed lxc. line, naming the file and line', () => {
    const path = file('lxc.sysctl.a = 1\n\nlxc.no.equals.sign\n');
    refuses(path, new RegExp(`^${path}:3: invalid configuration line 'lxc.no.equals.sign'`));
  });

  it('should refuse a key LXC does not know, naming the file and line, and take its prefixed families', () => {
    const path = file('lxc.uts.name = c1\nlxc.enviroment = X=1\n');
    refuses(path, new RegExp(`^${path}:2: unsupported configuration key 'lxc.enviroment'$`));
    refuses(file('lxc.cap.dropx = a\n'), /:1: unsupported configuration key 'lxc.cap.dropx'$/);
    const ok = readLxcConfig(file('lxc.cgroup2.memory.max = 1G\nlxc.net.0.type = veth\nlxc.prlimit.nofile = 10\nlxc.namespace.share.net = x\nlxc.hook.pre-start = /x\n'));
    assert.equal(ok.entries.length, 5);
  });

  it('should name the file when the top-level config cannot be read', () => {
    refuses(join(dir, 'absent.conf'), /^cannot read \S+absent\.conf: ENOENT \(No such file or directory\)$/);
  });

  it('should expand lxc.include of a file in place', () => {
    const inner = file('lxc.cap.drop = b\nlxc.include = ' + file('lxc.cap.drop = c\n') + '\n');
    const config = readLxcConfig(file(`lxc.cap.drop = a\nlxc.include = ${inner}\nlxc.cap.drop = d\n`));
    assert.deepEqual(config.getAll('lxc.cap.drop'), ['a', 'b', 'c', 'd']);
    assert.equal(config.entriesOf('lxc.cap.drop')[1]!.file, inner);
  });

  it('should include every *.conf of a directory in name order, and nothing else', () => {
    const sub = join(dir, 'conf.d');
    mkdirSync(sub);
    writeFileSync(join(sub, '20-b.conf'), 'lxc.environment = B=2\n');
    writeFileSync(join(sub, '10-a.conf'), 'lxc.environment = A=1\n');
    writeFileSync(join(sub, 'notes.txt'), 'lxc.environment = NO=1\n');
    writeFileSync(join(sub, '.conf'), 'lxc.environment = NO=2\n');
    writeFileSync(join(sub, '30-c.conf.bak'), 'lxc.environment = NO=3\n');
    for (const ref of [sub, `${sub}/`]) {
      assert.deepEqual(readLxcConfig(file(`lxc.include = ${ref}\n`)).getAll('lxc.environment'), ['A=1', 'B=2']);
    }
  });

  it('should take a missing directory (a path ending in /) as empty, as LXC', () => {
    assert.deepEqual(readLxcConfig(file(`lxc.include = ${dir}/no-such-dir/\nlxc.sysctl.a = 1\n`)).get('lxc.sysctl.a'), '1');
  });

  it('should refuse a missing included file, naming the including file and line', () => {
    const path = file(`lxc.sysctl.a = 1\nlxc.include = ${dir}/missing.conf\n`);
    refuses(path, new RegExp(`^${path}:2: lxc.include = ${dir}/missing.conf: cannot read the included file: ENOENT \\(No such file or directory\\)$`));
  });

  it('should refuse an unreadable include, naming the file and line it came from', () => {
    const sub = join(dir, 'has-a-dir.d');
    mkdirSync(join(sub, 'x.conf'), { recursive: true });
    const path = file(`lxc.include = ${sub}\n`);
    refuses(path, new RegExp(`^${path}:1: lxc.include = ${sub}/x.conf: cannot read the included file: EISDIR`));
  });

  it('should refuse an include cycle, naming the line and the chain, and allow a file included twice', () => {
    const a = join(dir, 'cycle-a.conf');
    const b = file(`lxc.include = ${a}\n`, 'cycle-b.conf');
    file(`lxc.sysctl.x = 1\nlxc.include = ${b}\n`, 'cycle-a.conf');
    refuses(a, new RegExp(`^${b}:1: lxc.include = ${a}: include cycle \\(${a} → ${b} → ${a}\\)$`));
    const self = join(dir, 'self.conf');
    symlinkSync(self, join(dir, 'self-link.conf'));
    file(`lxc.include = ${join(dir, 'self-link.conf')}\n`, 'self.conf');
    refuses(self, /include cycle/);

    const shared = file('lxc.cap.drop = shared\n');
    const diamond = readLxcConfig(file(`lxc.include = ${file(`lxc.include = ${shared}\n`)}\nlxc.include = ${file(`lxc.include = ${shared}\n`)}\n`));
    assert.deepEqual(diamond.getAll('lxc.cap.drop'), ['shared', 'shared']);
  });

  it('should make an empty config with no file', () => {
    const config = LxcConfig.empty();
    assert.equal(config.file, undefined);
    assert.deepEqual(config.getAll('lxc.environment'), []);
  });
});
