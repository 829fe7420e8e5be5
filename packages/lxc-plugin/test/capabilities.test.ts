import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CAPABILITY_NAMES } from '@attachkit/core';
import { configuredCapabilities, parseCapability } from '../src/index.js';
import { config } from './helpers.js';

const LAST = 40;
const caps = (...names: string[]) => names.reduce((m, n) => m | (1n << BigInt(CAPABILITY_NAMES.indexOf(n as never))), 0n);
const full = (1n << 41n) - 1n;

describe('lxc.cap.drop and lxc.cap.keep, read as LXC reads them', () => {
  it("should read names exactly as LXC's parse_cap does: lower case without CAP_, or a number up to cap_last_cap", () => {
    assert.equal(parseCapability('sys_admin', LAST), 21);
    assert.equal(parseCapability('checkpoint_restore', LAST), 40);
    assert.equal(parseCapability('16', LAST), 16);
    assert.equal(parseCapability('0x10', LAST), 16, 'strtoul base 0: hex');
    assert.equal(parseCapability('020', LAST), 16, 'strtoul base 0: octal');
    for (const refused of ['CAP_SYS_ADMIN', 'SYS_ADMIN', 'cap_sys_admin', '41', '-1', '16x', '', 'none']) {
      assert.equal(parseCapability(refused, LAST), undefined, refused);
    }
  });

  it('should allow everything but lxc.cap.drop, across lines and blanks', () => {
    assert.equal(configuredCapabilities(config({ 'lxc.cap.drop': ['sys_module mac_admin', 'sys_time\t16'] }), LAST),
      full & ~caps('sys_module', 'mac_admin', 'sys_time'));
  });

  it('should allow only lxc.cap.keep, and nothing for keep = none', () => {
    assert.equal(configuredCapabilities(config({ 'lxc.cap.keep': ['chown', 'kill setuid'] }), LAST), caps('chown', 'kill', 'setuid'));
    assert.equal(configuredCapabilities(config({ 'lxc.cap.keep': ['none'] }), LAST), 0n);
    assert.equal(configuredCapabilities(config({ 'lxc.cap.keep': ['chown none kill'] }), LAST), caps('kill'), '"none" forgets what came before it');
  });

  it('should let an empty value clear the list, and say nothing when neither key is set', () => {
    assert.equal(configuredCapabilities(config({ 'lxc.cap.drop': ['sys_module', ''] }), LAST), undefined);
    assert.equal(configuredCapabilities(config({ 'lxc.cap.drop': ['sys_module', '', 'mknod'] }), LAST), full & ~caps('mknod'));
    assert.equal(configuredCapabilities(config({}), LAST), undefined);
  });

  it('should refuse an unknown name, "none" in drop, and both keys, each in one message', () => {
    assert.throws(() => configuredCapabilities(config({ 'lxc.cap.drop': ['sys_module CAP_SYS_ADMIN'] }), LAST),
      { message: "lxc.cap.drop: unknown capability 'CAP_SYS_ADMIN' (LXC takes lower-case names without CAP_, such as sys_admin, or numbers 0..40)" });
    assert.throws(() => configuredCapabilities(config({ 'lxc.cap.keep': ['99'] }), LAST), /lxc\.cap\.keep: unknown capability '99'/);
    assert.throws(() => configuredCapabilities(config({ 'lxc.cap.drop': ['none'] }), LAST), /"none" is only valid for lxc\.cap\.keep/);
    assert.throws(() => configuredCapabilities(config({ 'lxc.cap.drop': ['mknod'], 'lxc.cap.keep': ['chown'] }), LAST), /exclude each other/);
  });
});
