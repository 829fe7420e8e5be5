/**
 * The kernel's capabilities by number (include/uapi/linux/capability.h),
 * lower case and without CAP_: the names LXC's config takes, and from which
 * every runtime's spelling (`CAP_SYS_ADMIN`) is made.
 */
export const CAPABILITY_NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf',
  'checkpoint_restore',
] as const;

export const capabilityBit = (cap: number): bigint => 1n << BigInt(cap);

/** Every capability the kernel knows: 0..lastCap. */
export const allCapabilities = (lastCap: number): bigint => capabilityBit(lastCap + 1) - 1n;
