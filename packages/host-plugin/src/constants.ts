/**
 * Kernel constants of the new mount API and friends (linux/mount.h,
 * linux/fcntl.h), the same on x86_64 and aarch64.
 */
export const OPEN_TREE_CLONE = 1;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
export const FSOPEN_CLOEXEC = 1;
export const FSCONFIG_SET_STRING = 1;
export const FSCONFIG_CMD_CREATE = 6;
export const FSMOUNT_CLOEXEC = 1;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
/** struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; } */
export const MOUNT_ATTR_SIZE = 32;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;

/** struct mount_attr setting `set`. */
export function mountAttr(set: number): Buffer {
  const attr = Buffer.alloc(MOUNT_ATTR_SIZE);
  attr.writeBigUInt64LE(BigInt(set), 0);
  return attr;
}
