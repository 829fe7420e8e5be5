import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capabilityLabel, statusCapSet } from '../src/index.js';

describe('capability names and sets', () => {
  it('should name capabilities the way the kernel headers do', () => {
    assert.equal(capabilityLabel(16), 'CAP_SYS_MODULE');
    assert.equal(capabilityLabel(63), 'capability 63');
  });

  it('should read a capability set from /proc/<pid>/status', () => {
    const status = 'Name:\tsleep\nCapInh:\t0000000000000000\nCapBnd:\t000001fcfcfeffff\nCapAmb:\t0000000000000000\n';
    assert.equal(statusCapSet(status, 'CapBnd'), 0x1fcfcfeffffn);
    assert.throws(() => statusCapSet('Name:\tx\n', 'CapBnd'), /no CapBnd line/);
  });
});
