/*
 * What a process inside a container tries against the attach: a fixture of
 * test/suites/security.test.ts, built static by the test and run inside the
 * container through attachkit itself. It prints one line per attempt,
 * "<attempt> ok" or "<attempt> <ERRNO>", and never stops at a failure.
 *
 *   intruder probe PID      ptrace, pidfd_getfd and /proc/PID/{fd,environ,mem,exe}
 *   intruder overwrite PID  CVE-2019-5736: hold /proc/PID/exe, kill PID, then
 *                           reopen the held file for writing and append to it
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long r)
{
	printf("%s %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
	fflush(stdout);
}

static void probe(pid_t pid)
{
	char path[64];
	char buf[256];

	long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
	report("ptrace-attach", r);
	if (r == 0)
		ptrace(PTRACE_DETACH, pid, 0, 0);

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	report("pidfd-open", pidfd);
	report("pidfd-getfd", pidfd < 0 ? pidfd : syscall(SYS_pidfd_getfd, pidfd, 0, 0));

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	report("proc-fd", d ? 0 : -1);
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	int fd = open(path, O_RDONLY);
	report("proc-environ", fd < 0 ? fd : read(fd, buf, sizeof(buf)));
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	report("proc-mem", open(path, O_RDONLY));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	report("proc-exe", readlink(path, buf, sizeof(buf)));
}

static void overwrite(pid_t pid)
{
	char path[64];
	char link[256] = "";

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	printf("exe %s\n", n < 0 ? strerrorname_np(errno) : link);
	report("open-while-running", open(path, O_WRONLY | O_APPEND));
	int held = open(path, O_PATH);
	report("hold", held);
	kill(pid, SIGKILL);
	/* Until the process has exited its mm, the file is busy (ETXTBSY). */
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++) {
		char stat[64], state = 0;
		snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
		FILE *f = fopen(stat, "r");
		if (!f || fscanf(f, "%*d %*s %c", &state) != 1 || state == 'Z') {
			if (f)
				fclose(f);
			break;
		}
		fclose(f);
		usleep(10000);
	}
	if (held < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", held);
	int fd = open(path, O_WRONLY | O_APPEND);
	report("reopen-for-write", fd);
	report("write", fd < 0 ? fd : write(fd, "intruder", 8));
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	pid_t pid = (pid_t)atoi(argv[2]);
	if (!strcmp(argv[1], "probe"))
		probe(pid);
	else if (!strcmp(argv[1], "overwrite"))
		overwrite(pid);
	else
		return 2;
	return 0;
}
