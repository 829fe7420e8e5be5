/** Linux constants used by the stages (include/uapi/linux/sched.h, fcntl.h, openat2.h, prctl.h, capability.h, personality.h, wait.h). */

/** Namespace clone flags, as setns(2) takes them. */
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;


export const F_DUPFD_CLOEXEC = 1030;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;
/** memfd: no chmod may change its exec bits once sealed (Linux 6.3). */
export const F_SEAL_EXEC = 0x20;

export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const MFD_EXEC = 0x10;

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x1;
export const MADV_DONTFORK = 10;

export const PR_SET_PDEATHSIG = 1;
export const PR_SET_DUMPABLE = 4;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** keyctl(2): join a new anonymous session keyring when the name is NULL (keyrings(7)). */
export const KEYCTL_JOIN_SESSION_KEYRING = 1;

/** capget(2)/capset(2): the 64-bit interface, two {effective, permitted, inheritable} u32 triples. */
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** personality(2) execution domains. */
export const PER_LINUX = 0x0000;
export const PER_LINUX32 = 0x0008;

export const P_PIDFD = 3;
export const WNOHANG = 1;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;

export const SIGKILL = 9;

export const AT_FDCWD = -100;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
/** openat2(2) resolve flags. */
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

export const MS_REC = 0x4000;
export const MS_SLAVE = 1 << 19;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MNT_DETACH = 0x2;

/** Sockets (include/linux/socket.h, asm-generic/socket.h; the same on x86_64 and arm64). */
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
export const MSG_CTRUNC = 0x8;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
