/**
 * The address of a container's command socket: the abstract unix name
 * `<lxcpath>/<name>/command`, or, when that does not fit in sun_path, a
 * hashed `lxc/<fnv1a64>/command` (LXC's lxc_make_abstract_socket_name,
 * src/lxc/commands_utils.c). lxcpath is used literally, as LXC uses it:
 * `/var/lib/../lib/lxc` names another socket than `/var/lib/lxc`.
 */

/** sizeof(sun_path) − 2: one byte for the leading NUL of an abstract name, one LXC keeps for its own NUL. */
const MAX_PLAIN_NAME = 108 - 2;

const FNV1A64_OFFSET = 0xcbf29ce484222325n;
const FNV1A64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** 64-bit FNV-1a over bytes (no terminating NUL), as LXC's fnv_64a_buf. */
export function fnv1a64(data: Uint8Array, hash = FNV1A64_OFFSET): bigint {
  for (const byte of data) hash = ((hash ^ BigInt(byte)) * FNV1A64_PRIME) & MASK64;
  return hash;
}

/** The command socket's abstract name, without the leading NUL: `/var/lib/lxc/c1/command`. */
export function commandSocketName(lxcpath: string, name: string): string {
  const plain = `${lxcpath}/${name}/command`;
  if (Buffer.byteLength(plain) < MAX_PLAIN_NAME) return plain;
  const hash = fnv1a64(Buffer.from(`${lxcpath}/${name}`));
  return `lxc/${hash.toString(16).padStart(16, '0')}/command`;
}

/** A sockaddr_un for an abstract name: family, NUL, the name, and no trailing padding (addrlen = its length). */
export function abstractSockaddr(name: string): Buffer {
  const bytes = Buffer.from(name);
  const addr = Buffer.alloc(3 + bytes.length);
  addr.writeUInt16LE(1 /* AF_UNIX */, 0);
  bytes.copy(addr, 3);
  return addr;
}
