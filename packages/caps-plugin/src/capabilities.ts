import type { ContainerConfig } from '@attachkit/core';

/**
 * Capability names as LXC's config takes them (lxc 5.0.2 src/lxc/conf.c,
 * caps_opt): lower case, without the CAP_ prefix. The index is the number
 * (include/uapi/linux/capability.h).
 */
export const CAPABILITY_NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf',
  'checkpoint_restore',
] as const;

/** `CAP_SYS_ADMIN`, or `capability 41` for one newer than this table. */
export function capabilityLabel(cap: number): string {
  const name = CAPABILITY_NAMES[cap];
  return name ? `CAP_${name.toUpperCase()}` : `capability ${cap}`;
}

export const bit = (cap: number): bigint => 1n << BigInt(cap);

/** Every capability the kernel knows: 0..lastCap. */
export const fullSet = (lastCap: number): bigint => bit(lastCap + 1) - 1n;

/** A capability set line of /proc/<pid>/status (`CapBnd:\t000001fffeffffff`). */
export function statusCapSet(status: string, field: 'CapBnd' | 'CapPrm' | 'CapEff' | 'CapInh' | 'CapAmb'): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} line in the process status`);
  return BigInt(`0x${m[1]}`);
}

/** LXC's lxc_safe_uint: strtoul(3) with base 0 (decimal, 0x hex, 0 octal), nothing after the digits. */
function lxcUint(token: string): number | undefined {
  const m = /^\s*\+?(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(token);
  if (!m) return undefined;
  const digits = m[1]!;
  const n = /^0x/i.test(digits) ? Number.parseInt(digits.slice(2), 16) : digits.startsWith('0') ? Number.parseInt(digits, 8) || 0 : Number(digits);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * One capability as LXC's parse_cap reads it: a name of CAPABILITY_NAMES,
 * matched exactly (LXC refuses `CAP_SYS_ADMIN` and `SYS_ADMIN`), or a number
 * no greater than the kernel's last capability.
 */
export function parseCapability(token: string, lastCap: number): number | undefined {
  const named = (CAPABILITY_NAMES as readonly string[]).indexOf(token);
  if (named >= 0) return named;
  const n = lxcUint(token);
  return n !== undefined && n <= lastCap ? n : undefined;
}

/** A key's values after the last empty one: an empty value clears the list in LXC's config. */
function liveValues(config: ContainerConfig, key: string): string[] {
  let values: string[] = [];
  for (const value of config.getAll(key)) {
    if (value.trim() === '') values = [];
    else values.push(value);
  }
  return values;
}

/**
 * The capabilities the container's config allows, with LXC's semantics
 * (lxc 5.0.2 confile.c, add_cap_entry / set_config_cap_{drop,keep}):
 * `lxc.cap.drop` removes the caps it lists, `lxc.cap.keep` removes every cap
 * it does not list; several per line, split on blanks; `keep = none` keeps
 * nothing (and forgets the caps listed before it); the two keys exclude each
 * other. Undefined when the config sets neither. Throws one message naming
 * the key and the value it cannot read.
 *
 * LXC refuses a mix of the two keys in file order; the config interface
 * gives each key's values apart, so a mix is refused whatever the order.
 */
export function configuredCapabilities(config: ContainerConfig, lastCap: number): bigint | undefined {
  const drop = liveValues(config, 'lxc.cap.drop');
  const keep = liveValues(config, 'lxc.cap.keep');
  if (drop.length && keep.length) throw new Error('lxc.cap.drop and lxc.cap.keep exclude each other; the config sets both');
  if (!drop.length && !keep.length) return undefined;
  const key = keep.length ? 'lxc.cap.keep' : 'lxc.cap.drop';
  let listed = 0n;
  for (const token of (keep.length ? keep : drop).join(' ').split(/[ \t]+/).filter(Boolean)) {
    if (token === 'none') {
      if (!keep.length) throw new Error('lxc.cap.drop: "none" is only valid for lxc.cap.keep');
      listed = 0n;
      continue;
    }
    const cap = parseCapability(token, lastCap);
    if (cap === undefined) {
      throw new Error(`${key}: unknown capability '${token}' (LXC takes lower-case names without CAP_, such as sys_admin, or numbers 0..${lastCap})`);
    }
    listed |= bit(cap);
  }
  return keep.length ? listed : fullSet(lastCap) & ~listed;
}
