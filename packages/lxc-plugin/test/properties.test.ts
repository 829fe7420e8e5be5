import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { LxcConfigError, readLxcConfig } from '../src/index.js';

/** Properties: the LXC config reader never crashes; it returns entries or one LxcConfigError with a message. */

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
    const pair = fc.tuple(fc.constantFrom('lxc.sysctl.a', 'lxc.sysctl.b.c'), value, fc.constantFrom('', ' ', '\t'), fc.constantFrom('', '"', "'"));
    fc.assert(fc.property(fc.array(pair, { minLength: 1, maxLength: 10 }), (pairs) => {
      writeFileSync(join(dir, 'p.conf'), pairs.map(([k, v, pad, q]) => `${pad}${k}${pad}=${pad}${q}${v.trim()}${q}${pad}`).join('\n'));
      const config = readLxcConfig(join(dir, 'p.conf'));
      for (const key of ['lxc.sysctl.a', 'lxc.sysctl.b.c']) {
        assert.deepEqual(config.getAll(key), pairs.filter(([k]) => k === key).map(([, v]) => v.trim()));
      }
    }), { numRuns: 300 });
  });
});
