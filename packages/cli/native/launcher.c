/*
 * attachkit's launcher (package.json "bin"): starts the CLI from its V8
 * start-up snapshot when node can load it, and from its modules otherwise
 * (docs/startup.md).
 *
 *   snapshot: <node> --snapshot-blob <cli>/dist/snapshot/attachkit.blob -- ARGS
 *   modules:  node <cli>/bin/run.js ARGS     (node from PATH, as its #! line)
 *
 * The snapshot is used when dist/snapshot/node names the node binary that
 * built it and that file is unchanged (inode, size, mtime: node refuses a
 * snapshot made by another version), and NODE_OPTIONS is empty (V8 flags
 * other than the snapshot's make node refuse it too); not for --version,
 * which bin/run.js answers from three small modules sooner than node
 * deserializes the snapshot's heap. The snapshot itself goes on from the
 * modules when a file it was built from has changed.
 *
 * A program, not a shell script: a shell exports PWD, and the attached
 * command gets the caller's environment as it was, as with lxc-attach.
 *
 * NODE_EXTRA_CA_CERTS goes to node as ATTACHKIT_NODE_EXTRA_CA_CERTS, in the
 * same place: node reads and parses that file at every start (35 ms for
 * Debian's bundle on the project's machine) for TLS that attachkit never
 * makes; main.ts gives it back its name before anything reads the
 * environment, so the command gets it as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define EXTRA_CA "NODE_EXTRA_CA_CERTS="
#define HIDDEN_CA "ATTACHKIT_" EXTRA_CA

/* environ with NODE_EXTRA_CA_CERTS renamed in place; environ itself when
 * there is none, or when the new name is taken already. */
static char **hide_extra_ca(void)
{
	size_t n = 0, at = (size_t)-1;
	for (; environ[n]; n++) {
		if (strncmp(environ[n], HIDDEN_CA, strlen(HIDDEN_CA)) == 0)
			return environ;
		if (strncmp(environ[n], EXTRA_CA, strlen(EXTRA_CA)) == 0)
			at = n;
	}
	if (at == (size_t)-1)
		return environ;
	char **env = calloc(n + 1, sizeof(char *));
	char *renamed = malloc(strlen("ATTACHKIT_") + strlen(environ[at]) + 1);
	if (!env || !renamed)
		return environ;
	memcpy(env, environ, n * sizeof(char *));
	strcpy(renamed, "ATTACHKIT_");
	strcat(renamed, environ[at]);
	env[at] = renamed;
	return env;
}

/* dist/snapshot/node: the node binary's path, then "ino size mtime_sec mtime_nsec". */
static int node_unchanged(const char *record, char *node, size_t size)
{
	char buf[PATH_MAX + 128];
	int fd = open(record, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (!nl || (size_t)(nl - buf) >= size)
		return 0;
	memcpy(node, buf, (size_t)(nl - buf));
	node[nl - buf] = '\0';
	unsigned long long ino, len, sec, nsec;
	struct stat st;
	return sscanf(nl + 1, "%llu %llu %llu %llu", &ino, &len, &sec, &nsec) == 4 &&
	       stat(node, &st) == 0 && (unsigned long long)st.st_ino == ino &&
	       (unsigned long long)st.st_size == len &&
	       (unsigned long long)st.st_mtim.tv_sec == sec &&
	       (unsigned long long)st.st_mtim.tv_nsec == nsec;
}

/* --version among the options (before --), as main.ts reads it. */
static int version_only(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--version") == 0)
			return 1;
	return 0;
}

/* dir/rel into out; 0 when it does not fit. */
static int join(char *out, const char *dir, const char *rel)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
	return n > 0 && n < PATH_MAX;
}

int main(int argc, char **argv)
{
	/* <cli>/build/attachkit, wherever it is linked from. */
	char cli[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", cli, sizeof(cli) - 1);
	if (n <= 0) {
		fprintf(stderr, "attachkit: cannot find the launcher itself: /proc/self/exe: %s\n", strerror(errno));
		return 127;
	}
	cli[n] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(cli, '/');
		if (!slash)
			return 127;
		*slash = '\0';
	}

	environ = hide_extra_ca();
	char **args = calloc((size_t)argc + 4, sizeof(char *));
	char blob[PATH_MAX], record[PATH_MAX], node[PATH_MAX], run[PATH_MAX];
	if (!args)
		return 127;
	const char *options = getenv("NODE_OPTIONS");
	if ((!options || !*options) && !version_only(argc, argv) && join(blob, cli, "dist/snapshot/attachkit.blob") && access(blob, R_OK) == 0 &&
	    join(record, cli, "dist/snapshot/node") && node_unchanged(record, node, sizeof(node))) {
		args[0] = node;
		args[1] = "--snapshot-blob";
		args[2] = blob;
		args[3] = "--";
		memcpy(args + 4, argv + 1, (size_t)(argc - 1) * sizeof(char *));
		execv(node, args);
	}
	if (!join(run, cli, "bin/run.js")) {
		fprintf(stderr, "attachkit: path too long: %s\n", cli);
		return 127;
	}
	args[0] = "node";
	args[1] = run;
	memcpy(args + 2, argv + 1, (size_t)(argc - 1) * sizeof(char *));
	args[argc + 1] = NULL;
	execvp("node", args);
	fprintf(stderr, "attachkit: cannot run node: %s\n", strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
