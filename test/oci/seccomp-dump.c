/*
 * seccomp-dump PID FILE: the seccomp filters PID runs under, as the kernel
 * keeps them. Seizes PID (PTRACE_SEIZE + PTRACE_INTERRUPT: it stops without
 * a signal it could see), counts its stacked filters, writes the newest
 * (PTRACE_SECCOMP_GET_FILTER index 0: its struct sock_filter array, raw)
 * to FILE, and detaches. Prints "filters N instructions M".
 * Needs CAP_SYS_ADMIN and no seccomp filter of its own.
 *
 * Built static at test time (test/suites/oci-seccomp-filter.test.ts).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

static pid_t pid = -1;

static void die(const char *what) {
	fprintf(stderr, "seccomp-dump: %s: %s\n", what, strerror(errno));
	if (pid > 0) ptrace(PTRACE_DETACH, pid, 0, 0);
	exit(1);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: seccomp-dump PID FILE\n");
		return 2;
	}
	pid_t target = (pid_t)atoi(argv[1]);
	if (ptrace(PTRACE_SEIZE, target, 0, 0) < 0) die("PTRACE_SEIZE");
	pid = target;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) die("PTRACE_INTERRUPT");
	int status;
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) die("waitpid");
		if (!WIFSTOPPED(status)) {
			fprintf(stderr, "seccomp-dump: pid %d ended while seized\n", (int)pid);
			return 1;
		}
		/* The stop PTRACE_INTERRUPT asked for; a signal stop first is passed on (and waited past). */
		if ((status >> 16) == PTRACE_EVENT_STOP) break;
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(status)) < 0) die("PTRACE_CONT");
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) die("PTRACE_INTERRUPT");
	}

	long filters = 0;
	for (;; filters++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)filters, NULL);
		if (n >= 0) continue;
		if (errno == ENOENT) break;
		die("PTRACE_SECCOMP_GET_FILTER (count)");
	}
	long count = 0;
	if (filters > 0) {
		count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)0, NULL);
		if (count < 0) die("PTRACE_SECCOMP_GET_FILTER (size)");
		struct sock_filter *buf = calloc((size_t)count, sizeof *buf);
		if (!buf) die("calloc");
		long got = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)0, buf);
		if (got != count) die("PTRACE_SECCOMP_GET_FILTER (read)");
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) die("open");
		size_t len = (size_t)count * sizeof *buf;
		if (write(fd, buf, len) != (ssize_t)len || close(fd) < 0) die("write");
		free(buf);
	}
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0) die("PTRACE_DETACH");
	printf("filters %ld instructions %ld\n", filters, count);
	return 0;
}
