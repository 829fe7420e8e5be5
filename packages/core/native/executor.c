/*
 * attachkit executor: runs one pre-exec program, then execs the command.
 *
 * It knows no stage and no policy. The Node parent plans every effect in
 * TypeScript and sends it here as a list of generic operations (a raw syscall,
 * a sync point, a fork, an fd sweep, an exec). Adding a stage never changes
 * this file. See docs/architecture.md for the wire format; program.ts is the
 * other side and must agree with the layout below.
 *
 * It is started fresh for every attach from a sealed memfd, so no process
 * inside a container can reach a host binary through /proc/<pid>/exe
 * (CVE-2019-5736), and it starts with a clean address space and fd table.
 *
 * It starts with the sync socket as fd 0 (a SOCK_STREAM socketpair end:
 * the fds and the program arrive on it, status goes back on it until the
 * fork into the target, which closes it first) and moves it
 * to SYNC_FD_FLOOR or above at once, so that the program may place fds the
 * command keeps from 3 up (runc's --preserve-fds) and still report errors.
 * The first message places the attach's fds: 0-2 the command's stdio, 3..
 * the fds the stages passed (pidfd, namespace fds, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AK_MAGIC 0x31584b41u /* "AKX1" */
#define SYNC_FD 0        /* where the sync socket arrives */
#define MAX_FDS 253      /* SCM_MAX_FD: what one message carries */
#define SYNC_FD_FLOOR 256 /* where it lives: above any fd the command keeps */
#define MAX_OPS 4096
#define MAX_RELOCS 4096
#define MAX_DATA (16u << 20)

/* clone3(2)'s argument up to `cgroup` (linux/sched.h, CLONE_ARGS_SIZE_VER2),
 * spelled here: musl's headers have no kernel headers. */
struct ak_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define AK_CLONE_INTO_CGROUP 0x200000000ULL
#define AK_CLONE_PARENT_SETTID 0x00100000ULL

enum { OP_SYSCALL = 1, OP_SYNC = 2, OP_FORK = 3, OP_CLOSE_FDS = 4, OP_EXEC = 5, OP_RECV_FD = 6 };
enum { ARG_IMM = 0, ARG_DATA = 1, ARG_RESULT = 2 };
enum { F_OPTIONAL = 1 }; /* failure is recorded as -errno and ignored */
enum { F_INTO_CGROUP = 2 }; /* FORK: the child is born in the cgroup2 directory fd args[0] */
/* FORK: the fork into the target. The sync socket is closed first, so it
 * never exists in the target's pid namespace; the child's pid reaches the
 * parent through memory only we map (args[1], stored by the kernel as part
 * of the clone), and the child reports on the write-only pipe args[0]. */
enum { F_INTO_TARGET = 4 };
/* EXEC: run the executable open at fd args[5] (execveat AT_EMPTY_PATH: a
 * sealed memfd of a host program), not a path looked up inside. */
enum { F_EXEC_FD = 8 };
enum { MSG_READY = 1, MSG_PID = 2, MSG_ERROR = 3, MSG_EXEC = 4 };
#define OP_NONE 0xffffffffu /* error not tied to an op (bad program, I/O) */

struct ak_arg { uint32_t kind; uint32_t pad; int64_t val; };
struct ak_op {
	uint32_t code, flags;
	int64_t nr;
	struct ak_arg args[6];
};
struct ak_header { uint32_t magic, nops, data_len, nrelocs; };
/* A pointer inside data: store the address of data+target at data+at. */
struct ak_reloc { uint64_t at, target; };
struct ak_msg { uint32_t type, index; int32_t value, reserved; };

static struct ak_op *ops;
static char *data;
static uint32_t nops, data_len;
static long *results;
static int sync_fd = SYNC_FD;

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_msg(uint32_t type, uint32_t index, int32_t value)
{
	struct ak_msg m = { type, index, value, 0 };
	(void)write_all(sync_fd, &m, sizeof(m));
}

/* Report a failure to the parent and die; the parent turns it into an error
 * naming the stage, operation and errno. 127/126 follow the shell's rule for
 * a command that is missing / not executable. */
static void __attribute__((noreturn)) fail(uint32_t index, int err, int status)
{
	send_msg(MSG_ERROR, index, err);
	_exit(status);
}

static long arg_value(const struct ak_arg *a, uint32_t self)
{
	switch (a->kind) {
	case ARG_IMM:
		return (long)a->val;
	case ARG_DATA:
		if (a->val < 0 || (uint64_t)a->val > data_len)
			fail(self, EINVAL, 1);
		return (long)(data + a->val);
	case ARG_RESULT:
		if (a->val < 0 || (uint64_t)a->val >= self)
			fail(self, EINVAL, 1);
		return results[a->val];
	}
	fail(self, EINVAL, 1);
}

/* NUL-separated strings at data[off..] → NULL-terminated vector. */
static char **string_vector(const struct ak_arg *block, const struct ak_arg *count, uint32_t self)
{
	char *p = (char *)arg_value(block, self);
	long n = arg_value(count, self);
	char **v;

	if (n < 0 || n > 65536 || !(v = calloc((size_t)n + 1, sizeof(*v))))
		fail(self, ENOMEM, 1);
	for (long i = 0; i < n; i++) {
		v[i] = p;
		p += strlen(p) + 1;
		if (p > data + data_len)
			fail(self, EINVAL, 1);
	}
	return v;
}

/* execve; a file without a #! line runs under /bin/sh, as execvp(3) and the
 * shell do (and lxc-attach, which uses execvp). */
static void exec_one(const char *path, char **argv, char **envp)
{
	execve(path, argv, envp);
	if (errno == ENOEXEC) {
		int n = 0;
		while (argv[n])
			n++;
		char **sh = calloc((size_t)n + 2, sizeof(*sh));
		if (!sh)
			return;
		sh[0] = "/bin/sh";
		sh[1] = (char *)path;
		for (int k = 1; k <= n; k++)
			sh[k + 1] = argv[k];
		execve("/bin/sh", sh, envp);
		errno = ENOEXEC;
	}
}

/* execve with a PATH search that uses the *new* environment's PATH, as the
 * command must be found inside the container (execvpe would use ours). */
static int exec_path(const char *file, char **argv, char **envp)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[4096];
	int saved = ENOENT;

	if (!*file)
		return ENOENT;
	if (strchr(file, '/')) {
		exec_one(file, argv, envp);
		return errno;
	}
	for (char **e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		if (dlen + strlen(file) + 2 <= sizeof(buf)) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			strcpy(buf + dlen + 1, file);
			exec_one(dlen ? buf : file, argv, envp);
			/* Keep looking past a missing entry; remember the first
			 * "found but refused" so it is reported, as the shell does. */
			if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
				saved = saved == ENOENT ? errno : saved;
		}
		if (!*end)
			break;
		p = end;
	}
	return saved;
}

static void close_fds_from(unsigned from)
{
	/* Keep only the sync socket (CLOEXEC: it closes itself at exec, which is
	 * how the parent learns that exec succeeded). CVE-2024-21626. */
	unsigned sync = (unsigned)sync_fd;
	if (sync >= from) {
		if ((sync == from || syscall(SYS_close_range, from, sync - 1, 0) == 0) &&
		    syscall(SYS_close_range, sync + 1, ~0u, 0) == 0)
			return;
	} else if (syscall(SYS_close_range, from, ~0u, 0) == 0) {
		return;
	}
	for (int fd = (int)from; fd < 65536; fd++)
		if (fd != sync_fd)
			close(fd);
}

/* One fd from the parent on socket `sock` (MSG_CMSG_CLOEXEC): -errno on failure. */
static long receive_one_fd(int sock)
{
	char byte;
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } control;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	ssize_t r;
	int fd;

	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (r != 1 || (msg.msg_flags & MSG_CTRUNC) || !c || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

static void run(void)
{
	for (uint32_t i = 0; i < nops; i++) {
		const struct ak_op *op = &ops[i];
		long a[6];

		switch (op->code) {
		case OP_SYSCALL:
			for (int k = 0; k < 6; k++)
				a[k] = arg_value(&op->args[k], i);
			results[i] = syscall(op->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
			if (results[i] == -1) {
				if (!(op->flags & F_OPTIONAL))
					fail(i, errno, 1);
				results[i] = -errno;
			}
			break;
		case OP_SYNC: {
			char go;
			send_msg(MSG_READY, i, (int32_t)getpid());
			if (read_all(sync_fd, &go, 1) < 0 || go != 'g')
				_exit(1); /* the parent gave up: it reports why */
			break;
		}
		case OP_FORK: {
			/* CLONE_PARENT: the attached process becomes the Node
			 * parent's child, so it can reap it and hold a pidfd on it;
			 * this intermediate exits at once, as lxc-attach's does.
			 * exit_signal stays 0: with CLONE_PARENT the child's is
			 * ours (SIGCHLD), and clone3 wants 0. */
			struct ak_clone_args ca;
			long pid;
			memset(&ca, 0, sizeof(ca));
			ca.flags = CLONE_PARENT;
			if (op->flags & F_INTO_CGROUP) {
				/* Born inside: no migration, so none of the global
				 * lock a cgroup.procs write takes (an RCU grace
				 * period, milliseconds). */
				ca.flags |= AK_CLONE_INTO_CGROUP;
				ca.cgroup = (uint64_t)arg_value(&op->args[0], i);
			}
			if (op->flags & F_INTO_TARGET) {
				/* Up where the sync socket was, out of the way of
				 * the fds the command keeps, and closed at exec. */
				int given = (int)arg_value(&op->args[0], i);
				int report = fcntl(given, F_DUPFD_CLOEXEC, SYNC_FD_FLOOR);
				if (report < 0)
					fail(i, errno, 1);
				close(given);
				close(sync_fd);
				sync_fd = report;
				ca.flags |= AK_CLONE_PARENT_SETTID;
				ca.parent_tid = (uint64_t)arg_value(&op->args[1], i);
			}
			pid = syscall(SYS_clone3, &ca, sizeof(ca));
			if (pid < 0 && errno == ENOSYS && !(op->flags & F_INTO_CGROUP)) {
				/* Before Linux 5.3: clone(2) stores the pid just the same. */
				pid = syscall(SYS_clone, (long)ca.flags | SIGCHLD, 0, (long)ca.parent_tid, 0, 0);
			}
			if (pid < 0)
				fail(i, errno, 1);
			if (pid > 0) {
				if (!(op->flags & F_INTO_TARGET))
					send_msg(MSG_PID, i, (int32_t)pid);
				_exit(0);
			}
			results[i] = 0;
			break;
		}
		case OP_RECV_FD:
			results[i] = receive_one_fd((int)arg_value(&op->args[0], i));
			if (results[i] < 0)
				fail(i, (int)-results[i], 1);
			break;
		case OP_CLOSE_FDS:
			close_fds_from((unsigned)arg_value(&op->args[0], i));
			break;
		case OP_EXEC: {
			const char *file = (const char *)arg_value(&op->args[0], i);
			char **argv = string_vector(&op->args[1], &op->args[2], i);
			char **envp = string_vector(&op->args[3], &op->args[4], i);
			/* Everything before the command is done: a death from now on
			 * is the command's (or its exec's, reported next). */
			send_msg(MSG_EXEC, i, 0);
			int err;
			if (op->flags & F_EXEC_FD) {
				syscall(SYS_execveat, (int)arg_value(&op->args[5], i), "", argv, envp, AT_EMPTY_PATH);
				err = errno;
			} else {
				err = exec_path(file, argv, envp);
			}
			fail(i, err, err == ENOENT || err == ENOTDIR ? 127 : 126);
		}
		default:
			fail(i, EINVAL, 1);
		}
	}
	fail(OP_NONE, ENOEXEC, 1); /* a program must end in exec */
}

/* {count, numbers[count]} with the fds as SCM_RIGHTS: each fd goes to its
 * number, all lifted above the numbers first so none overwrites another. */
static void receive_fds(void)
{
	uint32_t n;
	int32_t at[MAX_FDS];
	int fds[MAX_FDS];
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } control;
	struct iovec iov = { .iov_base = &n, .iov_len = sizeof(n) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	ssize_t r;

	do
		r = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (r != sizeof(n) || (msg.msg_flags & MSG_CTRUNC) || n > MAX_FDS ||
	    (n && (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n))) ||
	    read_all(sync_fd, at, sizeof(*at) * n) < 0)
		fail(OP_NONE, EPROTO, 1);
	if (n)
		memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
	for (uint32_t i = 0; i < n; i++) {
		int high = fcntl(fds[i], F_DUPFD_CLOEXEC, SYNC_FD_FLOOR);
		if (high < 0 || at[i] < 0 || at[i] >= SYNC_FD_FLOOR)
			fail(OP_NONE, high < 0 ? errno : EPROTO, 1);
		close(fds[i]);
		fds[i] = high;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (dup2(fds[i], at[i]) < 0)
			fail(OP_NONE, errno, 1);
		close(fds[i]);
	}
}

int main(void)
{
	struct ak_header h;
	struct ak_reloc *relocs;

	int moved = fcntl(SYNC_FD, F_DUPFD_CLOEXEC, SYNC_FD_FLOOR);
	if (moved < 0)
		fail(OP_NONE, errno, 1);
	close(SYNC_FD);
	sync_fd = moved;
	/* Nothing but the sync socket: posix_spawn passes on every fd of the
	 * caller not marked close-on-exec, and no such fd may ever reach the
	 * target (the attached process can be traced from inside before exec). */
	if ((sync_fd > 0 && syscall(SYS_close_range, 0, sync_fd - 1, 0) < 0) ||
	    syscall(SYS_close_range, sync_fd + 1, ~0u, 0) < 0)
		fail(OP_NONE, errno, 1);
	receive_fds();
	if (read_all(sync_fd, &h, sizeof(h)) < 0 || h.magic != AK_MAGIC ||
	    h.nops == 0 || h.nops > MAX_OPS || h.data_len > MAX_DATA || h.nrelocs > MAX_RELOCS)
		fail(OP_NONE, EPROTO, 1);
	nops = h.nops;
	data_len = h.data_len;
	ops = malloc(sizeof(*ops) * nops);
	data = malloc(data_len + 1);
	results = calloc(nops, sizeof(*results));
	relocs = calloc(h.nrelocs + 1, sizeof(*relocs));
	if (!ops || !data || !results || !relocs)
		fail(OP_NONE, ENOMEM, 1);
	if (read_all(sync_fd, ops, sizeof(*ops) * nops) < 0 ||
	    read_all(sync_fd, relocs, sizeof(*relocs) * h.nrelocs) < 0 ||
	    read_all(sync_fd, data, data_len) < 0)
		fail(OP_NONE, EPROTO, 1);
	data[data_len] = '\0';
	for (uint32_t i = 0; i < h.nrelocs; i++) {
		uint64_t addr = (uint64_t)(uintptr_t)(data + relocs[i].target);
		if (relocs[i].at > data_len || data_len - relocs[i].at < sizeof(addr) || relocs[i].target > data_len)
			fail(OP_NONE, EPROTO, 1);
		memcpy(data + relocs[i].at, &addr, sizeof(addr));
	}
	run();
}
