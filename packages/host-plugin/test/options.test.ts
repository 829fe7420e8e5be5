import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError } from '@attachkit/core';
import { hostMounts, parseMountHost } from '../src/options.js';

describe('--mount-host and mountHost', () => {
  it('should parse SRC:DST, SRC:DST:rw and SRC:DST:ro', () => {
    assert.deepEqual(parseMountHost('/usr/bin:/hostbin'), { source: '/usr/bin', target: '/hostbin' });
    assert.deepEqual(parseMountHost('/srv/x:/x:rw'), { source: '/srv/x', target: '/x', writable: true });
    assert.deepEqual(parseMountHost('/srv/x:/x:ro'), { source: '/srv/x', target: '/x' });
  });

  it('should refuse malformed specs with one line naming the spec', () => {
    for (const [spec, why] of [
      ['/a', /expects SRC:DST/], ['/a:/b:rx', /expects SRC:DST/], ['/a:/b:rw:x', /expects SRC:DST/],
      ['a:/b', /the source must be an absolute path/], ['/a:b', /the target must be an absolute path/],
      ['/a:/', /the target cannot be \//], ['/a://', /the target cannot be \//], ['/a:/x/../y', /cannot contain \.\./],
    ] as const) {
      assert.throws(() => parseMountHost(spec), (err: Error) => why.test(err.message) && err.message.includes(`'${spec}'`), spec);
    }
  });

  it('should check a library request: types, nested and repeated targets', () => {
    const target = { pid: 1 };
    assert.deepEqual(hostMounts({ target }, 's'), []);
    assert.deepEqual(hostMounts({ target, mountHost: [{ source: '/a', target: '/x//y/' }] }, 's'), [{ source: '/a', target: '/x/y' }]);
    for (const [mountHost, why] of [
      ['/a:/b', /must be an array/],
      [[{ source: '/a' }], /source: string, target: string/],
      [[{ source: '/a', target: '/b', writable: 'yes' }], /writable\?: boolean/],
      [[{ source: '/a', target: '/b' }, { source: '/c', target: '/b' }], /the target \/b is given twice/],
      [[{ source: '/a', target: '/b' }, { source: '/c', target: '/b/c' }], /the target \/b\/c is below the target \/b of another mount/],
    ] as const) {
      assert.throws(() => hostMounts({ target, mountHost: mountHost as never }, 'mount-host'),
        (err: unknown) => err instanceof AttachError && err.message.startsWith('mount-host: mountHost: ') && why.test(err.message), JSON.stringify(mountHost));
    }
  });
});
