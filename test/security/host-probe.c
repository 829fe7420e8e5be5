/*
 * A host program run inside a container with --exec-host: a fixture of
 * test/suites/exec-host*.test.ts, built static on the host by the test and
 * never copied into the container. It prints one line per question, and
 * never stops at a failure:
 *
 *   exe <readlink of /proc/self/exe>
 *   seals <F_GET_SEALS of /proc/self/exe, hex> | seals <ERRNO>
 *   exe-write <ERRNO>            opening /proc/self/exe for writing
 *   exe-chmod <ERRNO>            fchmod of it (F_SEAL_EXEC)
 *   fd <N> <readlink>            every fd open but the directory being read
 *   path <PATH> <ERRNO|ok>       for each PATH argument: can it be opened?
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err(long r)
{
	return r < 0 ? strerrorname_np(errno) : "ok";
}

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("exe %s\n", n < 0 ? strerrorname_np(errno) : buf);

	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals = exe < 0 ? -1 : fcntl(exe, F_GET_SEALS);
	if (seals < 0)
		printf("seals %s\n", strerrorname_np(errno));
	else
		printf("seals 0x%x\n", seals);
	printf("exe-write %s\n", err(open("/proc/self/exe", O_WRONLY | O_CLOEXEC)));
	printf("exe-chmod %s\n", err(exe < 0 ? -1 : fchmod(exe, 0666)));
	if (exe >= 0)
		close(exe);

	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, buf, sizeof(buf) - 1);
		buf[n < 0 ? 0 : n] = 0;
		printf("fd %s %s\n", e->d_name, buf);
	}
	if (d)
		closedir(d);
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		printf("path %s %s\n", argv[i], err(fd));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
